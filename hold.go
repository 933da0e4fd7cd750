package idemhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// hold is a claim this process holds: it renews the lease while the call is
// running, and settles the record once (complete, release or mark in doubt).
// A nil *hold is a call that bypassed the store; its methods do nothing.
type hold struct {
	t           *Transport
	key         string
	fingerprint string // of the request that holds the claim
	token       cache.Token
	mu          sync.Mutex
	renewer     *time.Timer
	settled     bool
	lost        error // set when a renewal was refused: the claim may belong to another caller
}

// start makes h a hold of the claim on key, by the request with
// fingerprint, under token, and starts renewing its lease.
func (h *hold) start(t *Transport, key, fingerprint string, token cache.Token) {
	h.mu.Lock()
	h.t, h.key, h.fingerprint, h.token = t, key, fingerprint, token
	h.renewer = time.AfterFunc(t.policy.Lease/2, h.renew)
	h.mu.Unlock()
}

// renew extends the lease and re-arms itself until the hold is settled.
func (h *hold) renew() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.settled {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.t.policy.StoreTimeout)
	defer cancel()
	if err := h.t.store.Renew(ctx, h.key, h.token, h.t.policy.Lease); err != nil {
		h.t.log.LogAttrs(ctx, slog.LevelError, "idemhttp: lease renewal failed", slog.String("record", h.key), slog.Any("err", err))
		if errors.Is(err, cache.ErrFenced) {
			h.lost = err
			return
		}
	}
	h.renewer.Reset(h.t.policy.Lease / 2)
}

// confirm renews the lease synchronously before a send that follows a wait,
// so a caller whose claim passed to another never sends. A store that cannot
// answer is tolerated only when failOpen (a re-send to the provider is safe).
func (h *hold) confirm(ctx context.Context, failOpen bool) error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost != nil {
		return h.lost
	}
	sctx, cancel := context.WithTimeout(ctx, h.t.policy.StoreTimeout)
	defer cancel()
	err := h.t.store.Renew(sctx, h.key, h.token, h.t.policy.Lease)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cache.ErrFenced):
		h.lost = err
		h.settled = true // nothing left to settle: the record is not ours
		h.renewer.Stop()
		return err
	case failOpen:
		h.t.log.LogAttrs(ctx, slog.LevelWarn, "idemhttp: cannot confirm claim, sending anyway (a re-send to the provider is safe)",
			slog.String("record", h.key), slog.Any("err", err))
		return nil
	}
	return fmt.Errorf("confirming claim: %w", err)
}

func (h *hold) complete(ctx context.Context, e *cache.Entry, ttl time.Duration) {
	h.settle(ctx, "complete", func(ctx context.Context) error {
		record := func(e *cache.Entry) error {
			err := h.t.store.Complete(ctx, h.key, h.token, e, ttl)
			if errors.Is(err, cache.ErrFenced) {
				// The lease passed to another caller, but this one knows
				// the outcome: settle the record if it is (still) in doubt
				// and still this request's.
				if ferr := sameRequest(ctx, h.t.store, h.key, h.fingerprint); ferr != nil {
					return fmt.Errorf("%w; not resolved: %w", err, ferr)
				}
				if rerr := h.t.store.Resolve(ctx, h.key, e, ttl); rerr == nil || errors.Is(rerr, cache.ErrEntryTooLarge) {
					return rerr
				}
			}
			return err
		}
		err := record(e)
		if errors.Is(err, cache.ErrEntryTooLarge) {
			// The store's bound is tighter than the policy's: keep the
			// outcome without its body rather than lose it.
			small := *e
			small.Body, small.BodyOmitted = nil, true
			err = record(&small)
		}
		return err
	})
}

func (h *hold) release(ctx context.Context) {
	h.settle(ctx, "release", func(ctx context.Context) error {
		return h.t.store.Release(ctx, h.key, h.token)
	})
}

func (h *hold) markInDoubt(ctx context.Context, ttl time.Duration) {
	h.settle(ctx, "mark in doubt", func(ctx context.Context) error {
		return h.t.store.MarkInDoubt(ctx, h.key, h.token, ttl)
	})
}

// settle runs op once, even after the caller's context ended (the outcome
// must be recorded whatever happened to the caller). A fenced holder is
// logged loudly: another process took the claim over.
func (h *hold) settle(ctx context.Context, what string, op func(context.Context) error) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.settled {
		return
	}
	h.settled = true
	h.renewer.Stop()
	sctx := context.WithoutCancel(ctx)
	if !h.t.inProcessStore {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, h.t.policy.StoreTimeout)
		defer cancel()
	}
	if err := op(sctx); err != nil {
		h.t.log.LogAttrs(ctx, slog.LevelError, "idemhttp: cannot "+what+" record", slog.String("record", h.key), slog.Any("err", err))
	}
}

// sameRequest returns an error wrapping ErrKeyReused when the record under
// key was made by a request other than the one with fingerprint (the record
// expired or was deleted, and another request claimed the key since; or an
// earlier version of idemhttp fingerprinted the request otherwise), and the
// store's error when the record cannot be read: an outcome is never resolved
// into a record not known to be this request's, where another request's
// next call would replay it, or find its in-doubt record gone. A missing
// record passes: Resolve itself reports it. The check and the Resolve that
// follows are two store calls, not one: a record replaced between them is
// not seen.
func sameRequest(ctx context.Context, store cache.Store, key, fingerprint string) error {
	rec, err := store.Get(ctx, key)
	switch {
	case errors.Is(err, cache.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("reading the record to check it is this request's: %w", err)
	case rec.Fingerprint != fingerprint:
		return fmt.Errorf("%w: the record under %s was made by another request (or fingerprinted otherwise by an earlier version)", ErrKeyReused, key)
	}
	return nil
}
