package idemhttp

import (
	"sync"

	"github.com/idemhttp/idemhttp/cache"
)

// flights is an in-process single-flight on record keys: concurrent identical
// calls in one process make one store claim and one upstream request. Unlike
// x/sync/singleflight, followers do not share the leader's *http.Response
// (a body reads once): they get a replay of the leader's recorded entry, or
// take their own turn when the leader recorded nothing.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done        chan struct{}
	fingerprint string
	followers   int          // guarded by flights.mu
	entry       *cache.Entry // set by the leader when the outcome was recorded or replayed
}

// join returns the flight for key, and whether the caller leads it.
func (g *flights) join(key, fingerprint string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		f.followers++
		return f, false
	}
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	f := &flight{done: make(chan struct{}), fingerprint: fingerprint}
	g.m[key] = f
	return f, true
}

// finish ends the leader's flight, publishing entry (may be nil). The
// leader calls it before handing its own response out: when that response
// was built on entry (aliased), followers get a copy of the header map, so a
// caller changing its response's headers never races with them.
func (g *flights) finish(key string, f *flight, entry *cache.Entry, aliased bool) {
	g.mu.Lock()
	delete(g.m, key)
	followers := f.followers
	g.mu.Unlock()
	if followers > 0 && aliased && entry != nil {
		e := *entry
		e.Header = entry.Header.Clone()
		entry = &e
	}
	if followers > 0 {
		f.entry = entry
	}
	close(f.done)
}
