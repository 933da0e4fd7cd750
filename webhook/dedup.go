package webhook

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// Dedup returns middleware that lets the handler see each event once, however
// many times the sender delivers it. It must run after signature
// verification (see VerifyStripe, VerifyStandard, VerifyGitHub), so that a
// forged delivery never claims or completes the record of a real event id.
//
// For each delivery, the extractor names the event; its record key is
// "webhook:" + sender [+ "/" + namespace] + ":" + id in store. Then:
//
//   - first delivery: the event is claimed and the handler runs, its claim
//     renewed in the background while it does;
//   - handler answered 2xx: its response (status, headers minus hop-by-hop
//     headers and cookies, body up to WithMaxRecordedBytes) is recorded for
//     the extractor's TTL;
//   - handler answered anything else, or panicked: the claim is released, so
//     the sender's redelivery is handled (a panic propagates unchanged,
//     http.ErrAbortHandler included);
//   - duplicate of a handled event: the recorded response, with
//     "Idempotent-Replayed: true"; the handler is not called;
//   - duplicate of an event being handled right now: 409 Conflict with
//     Retry-After (senders retry), or, with WithWait, the outcome of the
//     running delivery;
//   - store unavailable: 503, handler not called (WithFailOpen to call it);
//   - no event id: 400 naming what is missing (WithPassThroughMissingID to
//     call the handler); body over WithMaxBodyBytes: 413.
//
// When a holder's lease ended without an outcome (its process crashed), the
// next delivery is handled with InDoubt(ctx) set.
//
// A batch extractor (SendGrid, JSONArray) claims each event of the batch and
// passes the handler only the new ones; a batch of nothing but duplicates is
// acknowledged with 200 without calling it.
func Dedup(store cache.Store, extractor Extractor, opts ...Option) func(http.Handler) http.Handler {
	d := &deduper{store: store, extractor: extractor, cfg: newConfig(opts)}
	d.ttl = firstPositive(d.cfg.ttl, extractor.TTL, DefaultTTL)
	d.keyPrefix = "webhook:" + escapeKeyPart(extractor.Sender)
	if d.cfg.namespace != "" {
		d.keyPrefix += "/" + escapeKeyPart(d.cfg.namespace)
	}
	d.keyPrefix += ":"
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d.serve(w, r, next)
		})
	}
}

// deduper is the state of one Dedup middleware.
type deduper struct {
	store     cache.Store
	extractor Extractor
	cfg       config
	ttl       time.Duration
	keyPrefix string
}

func (d *deduper) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	body, err := readBody(r, d.cfg.maxBody)
	if err != nil {
		reject(w, err)
		return
	}
	switch {
	case d.extractor.Batch != nil:
		d.serveBatch(w, r, body, next)
		return
	case d.extractor.ID == nil:
		d.cfg.logger.ErrorContext(r.Context(), "webhook: Dedup extractor has neither ID nor Batch", "sender", d.extractor.Sender)
		http.Error(w, "webhook: de-duplication is misconfigured", http.StatusInternalServerError)
		return
	}
	id, err := d.eventID(r, body)
	if errors.Is(err, ErrMissingID) && d.cfg.passMissingID {
		next.ServeHTTP(w, r)
		return
	}
	if err != nil {
		reject(w, err)
		return
	}
	key := d.keyPrefix + id
	c, err := d.claim(r.Context(), key, d.cfg.wait)
	if err != nil {
		d.storeFailed(w, r, next, err)
		return
	}
	switch c.Outcome {
	case cache.Acquired:
		d.run(w, r, next, held{{key: key, token: c.Token, inDoubt: c.InDoubt}})
	case cache.Completed:
		replay(w, c.Entry)
	case cache.Busy:
		busy(w, c.Until)
	default:
		d.unexpected(w, r, key, c)
	}
}

// eventID returns the checked id of a single-event delivery.
func (d *deduper) eventID(r *http.Request, body []byte) (string, error) {
	id, err := d.extractor.ID(r, body)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", ErrMissingID
	}
	return id, checkID(id)
}

// run calls the handler holding h, then records or releases the claims.
func (d *deduper) run(w http.ResponseWriter, r *http.Request, next http.Handler, h held) {
	ctx := r.Context()
	stopRenewing := d.keepAlive(ctx, h)
	rec := newRecorder(w, d.cfg.maxRecorded)
	settled := false
	defer func() {
		// Runs on return and while a panic unwinds: the panic then goes on
		// unchanged, to net/http or the caller.
		stopRenewing()
		if !settled {
			d.release(ctx, h)
		}
	}()
	next.ServeHTTP(rec, r.WithContext(context.WithValue(ctx, inDoubtKey{}, h.inDoubt())))
	stopRenewing()
	if rec.succeeded() {
		// The effect happened: never release from here on, whatever the
		// store says, or a redelivery would repeat it.
		settled = true
		d.complete(ctx, h, rec.entry(time.Now()))
	}
}

// storeFailed answers when the store cannot be reached: 503, or, failing
// open, the handler without de-duplication. Failing open applies only to a
// store that is down: a sender that hung up while the claim was being made
// (its context ended) never gets the handler run without de-duplication.
func (d *deduper) storeFailed(w http.ResponseWriter, r *http.Request, next http.Handler, err error) {
	if r.Context().Err() != nil {
		d.cfg.logger.InfoContext(r.Context(), "webhook: sender went away before the event was claimed", "error", err)
		http.Error(w, "webhook: request cancelled", http.StatusServiceUnavailable)
		return
	}
	if d.cfg.failOpen && errors.Is(err, cache.ErrUnavailable) {
		d.cfg.logger.WarnContext(r.Context(), "webhook: store unavailable; handling without de-duplication", "error", err)
		next.ServeHTTP(w, r)
		return
	}
	d.cfg.logger.ErrorContext(r.Context(), "webhook: store unavailable; delivery refused with 503", "error", err)
	if !errors.Is(err, cache.ErrUnavailable) {
		err = errors.Join(cache.ErrUnavailable, err)
	}
	reject(w, err)
}

// unexpected answers a claim outcome Dedup never asks for: a Mismatch means
// something other than this middleware wrote under the key.
func (d *deduper) unexpected(w http.ResponseWriter, r *http.Request, key string, c cache.Claim) {
	d.cfg.logger.ErrorContext(r.Context(), "webhook: record key holds a foreign record", "key", key, "outcome", c.Outcome.String())
	http.Error(w, "webhook: conflicting record for this event id", http.StatusInternalServerError)
}

// InDoubt reports, inside a handler behind Dedup, whether an earlier attempt
// at this event (or at an event of this batch) started and never finished:
// its process crashed or its lease ran out. The handler may want to check
// for effects of that attempt before acting.
func InDoubt(ctx context.Context) bool {
	v, _ := ctx.Value(inDoubtKey{}).(bool)
	return v
}

type inDoubtKey struct{}

// firstPositive returns the first positive duration.
func firstPositive(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return 0
}

// escapeKeyPart escapes the separators of record keys in a configured name.
func escapeKeyPart(s string) string {
	return strings.NewReplacer("%", "%25", ":", "%3A", "/", "%2F").Replace(s)
}
