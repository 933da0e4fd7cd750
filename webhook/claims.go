package webhook

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// fingerprint is stored with every record. It is derived from nothing but the
// event id (the record key): a redelivery is a duplicate whatever its body,
// because senders do not always resend byte-identical payloads (Stripe
// updates pending_webhooks) and the id is authenticated by the signature
// checked before Dedup.
const fingerprint = "webhook/v1"

// held is the set of claims one delivery holds: one event, or the new events
// of a batch.
type held []heldClaim

type heldClaim struct {
	key     string
	token   cache.Token
	inDoubt bool
}

// inDoubt reports whether an earlier attempt at any of the events may have
// run without finishing.
func (h held) inDoubt() bool {
	for _, c := range h {
		if c.inDoubt {
			return true
		}
	}
	return false
}

// claim claims key. With wait set (WithWait), a Busy answer is retried with
// growing pauses until the holder finishes, its lease ends, the wait is over
// or ctx ends; the last answer is returned.
func (d *deduper) claim(ctx context.Context, key string, wait time.Duration) (cache.Claim, error) {
	deadline := time.Now().Add(wait)
	pause := 10 * time.Millisecond
	for {
		callCtx, cancel := context.WithTimeout(ctx, storeTimeout)
		c, err := d.store.Claim(callCtx, key, fingerprint, d.cfg.lease)
		cancel()
		if err != nil || c.Outcome != cache.Busy {
			return c, err
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return c, nil
		}
		timer := time.NewTimer(min(pause, remaining, max(time.Until(c.Until), time.Millisecond)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return c, nil
		case <-timer.C:
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// settleContext is used once the handler has run: the outcome must be
// recorded even when the sender has hung up.
func settleContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
}

// keepAlive renews the claims every third of the lease until stop is
// called. It runs on a timer, so a fast handler costs no goroutine; stop
// waits for a renewal under way to end.
func (d *deduper) keepAlive(ctx context.Context, h held) (stop func()) {
	if len(h) == 0 {
		return func() {}
	}
	var mu sync.Mutex
	stopped := false
	every := d.cfg.lease / 3
	var timer *time.Timer
	mu.Lock()
	defer mu.Unlock()
	timer = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		d.renew(ctx, h)
		timer.Reset(every)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		timer.Stop()
	}
}

func (d *deduper) renew(ctx context.Context, h held) {
	ctx, cancel := settleContext(ctx)
	defer cancel()
	for _, c := range h {
		if err := d.store.Renew(ctx, c.key, c.token, d.cfg.lease); err != nil {
			d.cfg.logger.WarnContext(ctx, "webhook: renewing claim failed; another delivery may take the event over",
				"key", c.key, "error", err)
		}
	}
}

// complete records entry for every held claim. An entry too large for the
// store is recorded again without its body.
func (d *deduper) complete(ctx context.Context, h held, entry *cache.Entry) {
	ctx, cancel := settleContext(ctx)
	defer cancel()
	for _, c := range h {
		err := d.store.Complete(ctx, c.key, c.token, entry, d.ttl)
		if errors.Is(err, cache.ErrEntryTooLarge) {
			slim := *entry
			slim.Body, slim.BodyOmitted = nil, true
			err = d.store.Complete(ctx, c.key, c.token, &slim, d.ttl)
		}
		if err != nil {
			d.cfg.logger.ErrorContext(ctx, "webhook: recording a handled delivery failed; a redelivery may be handled again",
				"key", c.key, "error", err)
		}
	}
}

// release drops every held claim, so that a redelivery is handled.
func (d *deduper) release(ctx context.Context, h held) {
	ctx, cancel := settleContext(ctx)
	defer cancel()
	for _, c := range h {
		if err := d.store.Release(ctx, c.key, c.token); err != nil {
			d.cfg.logger.WarnContext(ctx, "webhook: releasing a claim failed; a redelivery waits for its lease to end",
				"key", c.key, "error", err)
		}
	}
}
