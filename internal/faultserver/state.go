package faultserver

import (
	"maps"
	"net/http"
	"slices"
)

// Received is one request as the server saw it.
type Received struct {
	Header http.Header
	Body   []byte
	// Fault is the fault the request consumed, 0 if none.
	Fault Kind
	// Replayed is true when a KeyHeader route answered with a recorded
	// response instead of performing the effect.
	Replayed bool
	// Status is the status answered, 0 while the request is being served and
	// when the connection was dropped.
	Status int
	// Finished is true once the server has answered or dropped the request.
	Finished bool
}

// keyEntry is what a KeyHeader route remembers about one key.
type keyEntry struct {
	bodySum [32]byte
	settled bool     // false while the key's first request is executing
	resp    response // the success response, once the effect was performed
}

// state is everything Reset forgets; guarded by Server.mu.
type state struct {
	faults       map[string][]Fault              // by route name, FIFO
	received     map[string][]*Received          // by route name
	effects      map[string]int                  // by effect id
	routeEffects map[string]int                  // by route name
	keys         map[string]map[string]*keyEntry // route name → key → entry
	found        map[string]map[string]response  // lookup path → key or trace → success
}

func newState() state {
	return state{
		faults:       make(map[string][]Fault),
		received:     make(map[string][]*Received),
		effects:      make(map[string]int),
		routeEffects: make(map[string]int),
		keys:         make(map[string]map[string]*keyEntry),
		found:        make(map[string]map[string]response),
	}
}

// verdict is the de-duplication decision for one request.
type verdict struct {
	answered bool      // resp answers the request; no effect
	replayed bool      // resp is a recorded response
	resp     response  // when answered
	claim    *keyEntry // the key now executing, when the request has a new key
}

// admission is what de-duplication needs to know about an effect request.
type admission struct {
	key string   // the KeyHeader value, "" when none
	sum [32]byte // checksum of the body
}

// arrive records a request and, for a served route, hands it the next fault.
// For an effect request (adm not nil) that will reach the effect, it also
// decides, in the same critical section, what the request's key gets: so once
// a request is counted by Requests, its key is claimed.
func (s *Server) arrive(name string, h http.Header, body []byte, served bool, adm *admission) (Fault, *Received, verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f Fault
	if q := s.st.faults[name]; served && len(q) > 0 {
		f, s.st.faults[name] = q[0], q[1:]
	}
	rec := &Received{Header: h.Clone(), Body: body, Fault: f.Kind}
	s.st.received[name] = append(s.st.received[name], rec)
	s.notifyLocked()
	var v verdict
	if adm != nil && adm.key != "" && f.Kind.performsEffect() {
		v = s.admitLocked(name, adm.key, adm.sum)
	}
	return f, rec, v
}

// admitLocked decides what a request with key and body checksum sum gets: a
// recorded answer, a conflict, or a claim on a new key. s.mu must be held.
func (s *Server) admitLocked(name, key string, sum [32]byte) verdict {
	keys := s.st.keys[name]
	if keys == nil {
		keys = make(map[string]*keyEntry)
		s.st.keys[name] = keys
	}
	e := keys[key]
	switch {
	case e == nil:
		e = &keyEntry{bodySum: sum}
		keys[key] = e
		return verdict{claim: e}
	case !e.settled:
		return verdict{answered: true, resp: keyInUse}
	case e.bodySum != sum:
		return verdict{answered: true, resp: keyReused}
	default:
		return verdict{answered: true, replayed: true, resp: e.resp}
	}
}

// abandon forgets a claimed key whose effect was never performed.
func (s *Server) abandon(name, key string, claim *keyEntry) {
	if claim == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.keys[name][key] == claim {
		delete(s.st.keys[name], key)
	}
}

// perform counts the effect, builds its success response and, atomically
// with that, records it for the request's key (settled unless the request is
// still executing) and trace values.
func (s *Server) perform(name string, rt Route, effect string, traces []string, claim *keyEntry, settled bool) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.effects[effect]++
	s.st.routeEffects[name]++
	resp := rt.successResponse(effect, s.st.routeEffects[name])
	if claim != nil {
		claim.resp, claim.settled = resp, settled
	}
	if rt.LookupPath != "" && len(traces) > 0 {
		found := s.st.found[rt.LookupPath]
		if found == nil {
			found = make(map[string]response)
			s.st.found[rt.LookupPath] = found
		}
		for _, v := range traces {
			found[v] = resp
		}
	}
	s.notifyLocked()
	return resp
}

// settle marks a claimed key's request as finished, so the key replays.
func (s *Server) settle(claim *keyEntry) {
	if claim == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	claim.settled = true
	s.notifyLocked()
}

// lookup answers a probe: 200 with the recorded success body, else 404.
func (s *Server) lookup(path, key string) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, ok := s.st.found[path][key]
	if !ok || key == "" {
		return notFound
	}
	return response{status: http.StatusOK, body: resp.body}
}

// finish records how a request was answered.
func (s *Server) finish(rec *Received, status int, replayed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.Status, rec.Replayed, rec.Finished = status, replayed, true
	s.notifyLocked()
}

// Inject queues faults for the next requests to method and path (a route or
// a lookup path), consumed one per request in order; afterwards the route
// answers normally again.
func (s *Server) Inject(method, path string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := routeName(method, path)
	s.st.faults[name] = append(s.st.faults[name], faults...)
}

// Pending is the number of injected faults not yet consumed on method and path.
func (s *Server) Pending(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.st.faults[routeName(method, path)])
}

// Effects is the number of times the effect named effectID was performed.
func (s *Server) Effects(effectID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.effects[effectID]
}

// EffectsByID returns a copy of all effect counts, by effect id.
func (s *Server) EffectsByID() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.st.effects)
}

// RouteEffects is the number of effects performed on the route.
func (s *Server) RouteEffects(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.routeEffects[routeName(method, path)]
}

// Requests is the number of requests received on method and path, whatever
// their outcome (replays, conflicts, faults and 404s included).
func (s *Server) Requests(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.st.received[routeName(method, path)])
}

// Received returns a copy of every request received on method and path, in
// arrival order.
func (s *Server) Received(method, path string) []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.st.received[routeName(method, path)]
	out := make([]Received, len(recs))
	for i, rec := range recs {
		out[i] = *rec
		out[i].Header = rec.Header.Clone()
		out[i].Body = slices.Clone(rec.Body)
	}
	return out
}

// Reset forgets every count, received request, remembered key, recorded
// lookup and pending fault. A request in flight during Reset is missing from
// the new records, though an effect it performs afterwards is counted.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = newState()
	s.notifyLocked()
}
