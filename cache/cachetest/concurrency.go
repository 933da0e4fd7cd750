package cachetest

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/idemhttp/idemhttp/cache"
)

func concurrencyCases() []testCase {
	return []testCase{
		{"OneKeyOneWinner", testOneKeyOneWinner},
		{"ManyKeysOneWinnerEach", testManyKeysOneWinnerEach},
	}
}

// claimResult is what one goroutine's claim of one key returned.
type claimResult struct {
	key string
	c   cache.Claim
	err error
}

// claimConcurrently starts workers goroutines that each claim every key in
// its own shuffled order, all released at once, and returns every result.
func (h *harness) claimConcurrently(workers int, keys []string) []claimResult {
	start := make(chan struct{})
	results := make(chan claimResult, workers*len(keys))
	var wg sync.WaitGroup
	for range workers {
		order := shuffled(keys)
		wg.Go(func() {
			<-start
			for _, k := range order {
				c, err := h.s.Claim(h.ctx, k, fpA, longLease)
				results <- claimResult{k, c, err}
			}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	var all []claimResult
	for r := range results {
		all = append(all, r)
	}
	return all
}

// shuffled returns a shuffled copy of keys.
func shuffled(keys []string) []string {
	out := append([]string(nil), keys...)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// wantOneWinnerPerKey asserts every key was acquired exactly once and every
// other claim was Busy, then checks the winner's token is the held one.
func (h *harness) wantOneWinnerPerKey(keys []string, results []claimResult) {
	h.t.Helper()
	winners := map[string]cache.Token{}
	for _, r := range results {
		if r.err != nil {
			h.t.Fatalf("concurrent Claim(%q): %v", r.key, r.err)
		}
		switch r.c.Outcome {
		case cache.Acquired:
			if _, dup := winners[r.key]; dup {
				h.t.Fatalf("key %q acquired twice", r.key)
			}
			if r.c.InDoubt {
				h.t.Errorf("key %q: concurrent first claim flagged in doubt", r.key)
			}
			winners[r.key] = r.c.Token
		case cache.Busy:
		default:
			h.t.Fatalf("concurrent Claim(%q): outcome %v, want acquired or busy", r.key, r.c.Outcome)
		}
	}
	for _, k := range keys {
		tok, ok := winners[k]
		if !ok {
			h.t.Fatalf("key %q: no claim acquired it", k)
		}
		if r := h.get(k); r.Token != tok {
			h.t.Fatalf("key %q: held token %d, winner's %d", k, r.Token, tok)
		}
		h.complete(k, tok, sampleEntry(), longTTL)
	}
}

// testOneKeyOneWinner: 64 goroutines claim one key at once; exactly one wins.
func testOneKeyOneWinner(h *harness) {
	keys := []string{h.key("k")}
	results := h.claimConcurrently(64, keys)
	if len(results) != 64 {
		h.t.Fatalf("%d results, want 64", len(results))
	}
	h.wantOneWinnerPerKey(keys, results)
}

// testManyKeysOneWinnerEach: 16 goroutines claim the same 32 keys in
// different orders; each key has exactly one winner.
func testManyKeysOneWinnerEach(h *harness) {
	var keys []string
	for i := range 32 {
		keys = append(keys, h.key(fmt.Sprintf("k%02d", i)))
	}
	h.wantOneWinnerPerKey(keys, h.claimConcurrently(16, keys))
}
