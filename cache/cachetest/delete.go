package cachetest

import (
	"github.com/idemhttp/idemhttp/cache"
)

func deleteCases() []testCase {
	return []testCase{
		{"EveryState", testDeleteEveryState},
		{"AbsentIsNotAnError", testDeleteAbsent},
		{"GetAbsentNotFound", testGetAbsent},
	}
}

// testDeleteEveryState: Delete forgets a record whatever its state, fences
// its holder, and the next claim is fresh.
func testDeleteEveryState(h *harness) {
	states := []struct {
		name string
		make func(k string) cache.Token
	}{
		{"in-flight", func(k string) cache.Token { return h.acquire(k, fpA, longLease, false).Token }},
		{"expired-lease", func(k string) cache.Token { return h.acquireExpired(k).Token }},
		{"completed", func(k string) cache.Token {
			c := h.acquire(k, fpA, longLease, false)
			h.complete(k, c.Token, sampleEntry(), longTTL)
			return c.Token
		}},
		{"in-doubt", h.inDoubtRecord},
		{"reclaimed-in-doubt", func(k string) cache.Token {
			h.inDoubtRecord(k)
			return h.acquire(k, fpA, longLease, true).Token
		}},
	}
	for _, s := range states {
		k := h.key(s.name)
		token := s.make(k)
		if err := h.s.Delete(h.ctx, k); err != nil {
			h.t.Fatalf("Delete(%s record): %v", s.name, err)
		}
		h.wantAbsent(k)
		h.wantFenced(k, token)
		h.acquire(k, fpB, longLease, false)
	}
}

func testDeleteAbsent(h *harness) {
	k := h.key("never-claimed")
	if err := h.s.Delete(h.ctx, k); err != nil {
		h.t.Fatalf("Delete(absent): %v", err)
	}
	h.wantAbsent(k)
}

func testGetAbsent(h *harness) {
	h.wantAbsent(h.key("never-claimed"))
}
