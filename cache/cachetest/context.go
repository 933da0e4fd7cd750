package cachetest

import (
	"context"

	"github.com/idemhttp/idemhttp/cache"
)

func contextCases() []testCase {
	return []testCase{
		{"CancelledChangesNothing", testCancelledChangesNothing},
	}
}

// testCancelledChangesNothing: every method called with a cancelled context returns
// an error and leaves the records as they were.
func testCancelledChangesNothing(h *harness) {
	held, done, doubt, absent := h.key("held"), h.key("done"), h.key("doubt"), h.key("absent")
	c := h.acquire(held, fpA, longLease, false)
	d := h.acquire(done, fpA, longLease, false)
	h.complete(done, d.Token, sampleEntry(), longTTL)
	h.inDoubtRecord(doubt)

	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	keys := []string{held, done, doubt, absent}
	before := map[string]cache.Record{}
	for _, k := range keys {
		before[k] = h.snapshot(k)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Claim(absent)", func() error { _, err := h.s.Claim(ctx, absent, fpA, longLease); return err }},
		{"Claim(in-doubt)", func() error { _, err := h.s.Claim(ctx, doubt, fpA, longLease); return err }},
		{"Renew", func() error { return h.s.Renew(ctx, held, c.Token, 10*longLease) }},
		{"Complete", func() error { return h.s.Complete(ctx, held, c.Token, sampleEntry(), longTTL) }},
		{"Release", func() error { return h.s.Release(ctx, held, c.Token) }},
		{"MarkInDoubt", func() error { return h.s.MarkInDoubt(ctx, held, c.Token, longTTL) }},
		{"Resolve", func() error { return h.s.Resolve(ctx, doubt, sampleEntry(), longTTL) }},
		{"Get", func() error { _, err := h.s.Get(ctx, done); return err }},
		{"Delete(completed)", func() error { return h.s.Delete(ctx, done) }},
		{"Delete(in-doubt)", func() error { return h.s.Delete(ctx, doubt) }},
	}
	for _, call := range calls {
		if err := call.call(); err == nil {
			h.t.Errorf("%s with a cancelled context: nil error", call.name)
		}
		for _, k := range keys {
			h.wantUnchanged(k, before[k], call.name+" with a cancelled context")
		}
	}
	// The holder is unaffected and can still complete.
	h.complete(held, c.Token, sampleEntry(), longTTL)
	h.wantReplay(held, sampleEntry())
}
