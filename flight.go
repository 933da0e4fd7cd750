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
	done        chan struct{} // made by the first follower, guarded by flights.mu
	fingerprint string
	followers   int          // guarded by flights.mu
	entry       *cache.Entry // set by the leader when the outcome was recorded or replayed
}

// join returns the flight for key, and whether the caller leads it. A
// follower waits for the flight's done channel.
func (g *flights) join(key, fingerprint string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		if f.followers++; f.done == nil {
			f.done = make(chan struct{})
		}
		return f, false
	}
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	f := &flight{fingerprint: fingerprint}
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
	done := f.done // no follower can join now
	g.mu.Unlock()
	if done == nil {
		return
	}
	if aliased && entry != nil {
		e := *entry
		e.Header = entry.Header.Clone()
		entry = &e
	}
	f.entry = entry
	close(done)
}
