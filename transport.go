package idemhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/providers"
)

// Transport is an http.RoundTripper that makes mutating requests safe to
// retry and to replay: see the package documentation for the life of one
// request. Create it with New; it is safe for concurrent use.
type Transport struct {
	base      http.RoundTripper
	store     cache.Store
	providers []providers.Provider
	fallback  providers.Provider
	policy    Policy
	log       *slog.Logger
	flights   flights
	now       func() time.Time
	// inProcessStore: the store answers from memory, never waiting on I/O,
	// so its calls need no timeout of their own.
	inProcessStore bool
}

// Option configures a Transport.
type Option func(*Transport)

// WithBase sets the transport that sends requests. Default http.DefaultTransport.
func WithBase(rt http.RoundTripper) Option { return func(t *Transport) { t.base = rt } }

// WithStore sets the record store. Default a cache.NewMemory().
func WithStore(s cache.Store) Option { return func(t *Transport) { t.store = s } }

// WithProviders adds providers, matched by request host in the order given.
// A provider without Hosts replaces the fallback for unmatched hosts, which
// is otherwise providers.Generic().
func WithProviders(ps ...providers.Provider) Option {
	return func(t *Transport) {
		for _, p := range ps {
			if len(p.Hosts) == 0 {
				t.fallback = p
				continue
			}
			t.providers = append(t.providers, p)
		}
	}
}

// WithPolicy sets the policy; zero fields take DefaultPolicy's values.
func WithPolicy(p Policy) Option { return func(t *Transport) { t.policy = p } }

// WithLogger sets the logger. Default: discard everything.
func WithLogger(l *slog.Logger) Option { return func(t *Transport) { t.log = l } }

// New returns a Transport.
func New(opts ...Option) *Transport {
	t := &Transport{fallback: providers.Generic(), policy: DefaultPolicy(), now: time.Now}
	for _, opt := range opts {
		opt(t)
	}
	t.policy = t.policy.withDefaults()
	if t.base == nil {
		t.base = http.DefaultTransport
	}
	if t.store == nil {
		t.store = cache.NewMemory()
	}
	_, t.inProcessStore = t.store.(*cache.Memory)
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	return t
}

// Provider returns the provider that serves host (without port).
func (t *Transport) Provider(host string) *providers.Provider {
	for i := range t.providers {
		if t.providers[i].Matches(host) {
			return &t.providers[i]
		}
	}
	return &t.fallback
}

// DeriveKey returns the key req would carry, without sending it, as the
// package-level DeriveKey does with the provider that serves req.
func (t *Transport) DeriveKey(req *http.Request) (string, error) {
	return deriveKey(req, t.Provider(req.URL.Hostname()), t.policy.ReplaceKeys)
}

// RoundTrip implements http.RoundTripper. It never modifies req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	switch {
	case optedOut(ctx):
		return t.base.RoundTrip(req)
	case t.policy.Keyed(req.Method):
		return t.roundTripKeyed(ctx, req)
	case t.policy.Safe(req.Method):
		return t.roundTripSafe(ctx, req)
	}
	return t.base.RoundTrip(req)
}

// roundTripKeyed is steps 2 to 8 of the life of a request.
func (t *Transport) roundTripKeyed(ctx context.Context, req *http.Request) (*http.Response, error) {
	x := &exchange{t: t, req: req}
	o := &x.o
	body, err := t.prepare(req, o)
	if err != nil {
		return nil, err
	}
	x.body = body
	if prov := o.provider; prov.KeyHeader == "" && prov.KeyField != "" && !o.onRequest {
		if x.body, err = setJSONStringField(body, prov.KeyField, o.key); err != nil {
			return nil, err
		}
	}
	ctx = withUsedKey(ctx, o.key) // a string of its own: the response must not keep the exchange alive
	x.ctx = ctx
	for {
		f, leader := t.flights.join(o.recordKey, o.fingerprint)
		if leader {
			defer func() { t.flights.finish(o.recordKey, f, x.entry, x.entryAliased) }()
			return x.run()
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrInFlight, context.Cause(ctx))
		}
		if f.entry != nil {
			if f.fingerprint != o.fingerprint {
				return nil, fmt.Errorf("%w: key %s", ErrKeyReused, o.key)
			}
			return replayResponse(req.WithContext(ctx), f.entry, true), nil
		}
		// The leader recorded nothing (released, in doubt, failed): take
		// our own turn through the store.
	}
}

// Resolve settles an in-doubt operation by hand, after checking with the
// provider: with resp non-nil the operation is recorded as done with that
// response (later calls replay it); with resp nil it is recorded as not done
// (the next call sends it). req identifies the operation as it would be sent:
// its key comes from req and req's own context (WithKey, WithScope), as in
// RoundTrip; ctx bounds the store calls only, and a key or scope on ctx that
// would name another operation is refused (ErrInvalidRequest) rather than
// ignored. A record under req's key made by another request (the same key
// with another body, say) is refused with ErrKeyReused, and a resp whose
// body cannot be read whole with the read error: nothing is recorded.
func (t *Transport) Resolve(ctx context.Context, req *http.Request, resp *http.Response) error {
	var o op
	body, err := t.prepare(req, &o)
	if err != nil {
		return err
	}
	if _, key := keyFrom(ctx); key || ScopeFrom(ctx) != "" {
		// A key or scope on ctx that would name another operation is a
		// mistake to report, not to ignore.
		var other op
		if err := prepareOp(&other, req.WithContext(ctx), body, o.provider, t.policy.ReplaceKeys, true); err == nil && other.recordKey != o.recordKey {
			return fmt.Errorf("%w: Resolve: the WithKey or WithScope on ctx names another operation than req and its context, from which the key comes", ErrInvalidRequest)
		}
	}
	var e *cache.Entry
	if resp != nil {
		if e, err = entryFrom(resp, t.policy.MaxRecordBytes, t.now()); err != nil {
			// Recorded, the answer would replay without its body for the
			// life of the record: the operator can fetch it again.
			return fmt.Errorf("idemhttp: resolving %s: reading the response body: %w (nothing recorded)", o.key, err)
		}
	}
	if err := sameRequest(ctx, t.store, o.recordKey, o.fingerprint); err != nil {
		return fmt.Errorf("idemhttp: resolving %s: %w", o.key, err)
	}
	if err := t.store.Resolve(ctx, o.recordKey, e, t.policy.recordTTL(o.provider)); err != nil {
		return fmt.Errorf("idemhttp: resolving %s: %w", o.key, err)
	}
	return nil
}

// prepare buffers req's body and derives o, for the provider that serves
// req: the first steps of a keyed call, and of Resolve.
func (t *Transport) prepare(req *http.Request, o *op) ([]byte, error) {
	body, err := readBody(req, t.policy.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if err = prepareOp(o, req, body, t.Provider(req.URL.Hostname()), t.policy.ReplaceKeys, true); err != nil {
		return nil, err
	}
	return body, checkOutgoing(req, o.provider, o.key)
}

// exchange is one keyed call on its way through claim, sends and record.
type exchange struct {
	t       *Transport
	o       op
	req     *http.Request // the caller's request, never modified
	body    []byte        // the body to send (with the key, for body-field providers)
	ctx     context.Context
	held    hold
	hold    *hold // &held once claimed; nil when the store is bypassed (fail open)
	inDoubt bool  // an earlier call may have executed the operation
	resent  bool  // an earlier attempt of this call was written
	// mayHaveRun: the operation may have executed, by an earlier call (the
	// claim was in doubt) or by an attempt of this one (written with no answer, a 5xx, the provider's "in
	// progress"). Such a record is never released, only kept in doubt.
	mayHaveRun bool
	entry      *cache.Entry // what was recorded or replayed, for single-flight followers
	// entryAliased: the caller's response shares entry's header map.
	entryAliased bool
}

// run claims the record and acts on what the store says.
func (x *exchange) run() (*http.Response, error) {
	t, o := x.t, &x.o
	c, err := x.claim()
	if err != nil {
		if !errors.Is(err, cache.ErrUnavailable) || !t.policy.failOpen(o.provider) {
			return nil, err
		}
		t.log.LogAttrs(x.ctx, slog.LevelWarn, "idemhttp: store unavailable, sending unrecorded (a re-send to the provider is safe)",
			slog.String("key", o.key), slog.Any("err", err))
		return x.send(true)
	}
	switch c.Outcome {
	case cache.Completed:
		x.entry, x.entryAliased = c.Entry, true // the response below is built on it
		t.log.LogAttrs(x.ctx, slog.LevelDebug, "idemhttp: replay", slog.String("key", o.key))
		return replayResponse(x.req.WithContext(x.ctx), c.Entry, false), nil
	case cache.Mismatch:
		return nil, fmt.Errorf("%w: key %s", ErrKeyReused, o.key)
	case cache.Acquired:
	default:
		return nil, fmt.Errorf("%w: unexpected claim outcome %v", cache.ErrUnavailable, c.Outcome)
	}
	x.held.start(t, o.recordKey, o.fingerprint, c.Token)
	x.hold, x.inDoubt, x.mayHaveRun = &x.held, c.InDoubt, c.InDoubt
	finished := false
	defer func() {
		p := recover()
		if p == nil && finished {
			x.unsettled() // a no-op when the record was settled
			return
		}
		// Cut short by a panic, or by runtime.Goexit (which recover does
		// not see) under the base transport: nobody knows whether the
		// request went out, so the record is kept in doubt as long as any
		// other (InDoubtTTL), not left to lapse as a crashed holder's
		// claim, nor released.
		x.hold.markInDoubt(x.ctx, t.policy.InDoubtTTL)
		if p != nil {
			panic(p)
		}
	}()
	resp, err := x.claimed(c)
	finished = true
	return resp, err
}

// claimed is the rest of run once the claim is held: re-send, probe or
// refuse an operation in doubt, else send it.
func (x *exchange) claimed(c cache.Claim) (*http.Response, error) {
	t, o := x.t, &x.o
	route := o.route
	fresh := true
	resend, why := false, ""
	if c.InDoubt {
		resend, why = x.resendable(c)
	}
	switch {
	case resend:
		t.log.LogAttrs(x.ctx, slog.LevelInfo, "idemhttp: re-sending in-doubt operation with the same key", slog.String("key", o.key))
	case c.InDoubt && route != nil && route.Probe != nil, route != nil && route.Probe != nil && route.ProbeFirst:
		if resp, done, err := x.probe(); done || err != nil {
			return resp, err
		}
		fresh = false
	case c.InDoubt:
		x.hold.markInDoubt(x.ctx, t.policy.InDoubtTTL)
		return nil, fmt.Errorf("%w: key %s: an earlier attempt may have taken effect and %s", ErrInDoubt, o.key, why)
	}
	return x.send(fresh)
}

// resendable reports whether an in-doubt operation may be re-sent with its
// key, and if not, why: the route is at-least-once, or it is safe to resend
// to the provider (providers.Provider.SafeToResend) and the provider still
// remembers the key (its Retention has not passed since the record was
// first claimed, which is no later than the first send). A provider whose
// Retention is unknown, or a record of unknown age (written by a version
// that did not keep the first-claim time), may have outlived the key: it is
// not re-sent.
func (x *exchange) resendable(c cache.Claim) (ok bool, why string) {
	prov, route := x.o.provider, x.o.route
	switch {
	case route != nil && route.AtLeastOnce:
		return true, ""
	case !prov.Dedup:
		return false, prov.Name + " does not de-duplicate"
	case !prov.RecordsErrors:
		return false, prov.Name + " is not known to keep error answers under the key, so a re-send may execute again"
	case prov.Retention <= 0:
		return false, prov.Name + " does not say how long it remembers keys"
	case c.Since.IsZero():
		return false, fmt.Sprintf("%s remembers keys for %v and the record does not say when the first attempt began", prov.Name, prov.Retention)
	}
	if age := x.t.now().Sub(c.Since); age >= prov.Retention {
		return false, fmt.Sprintf("%s remembers keys for %v and the first attempt began %v ago", prov.Name, prov.Retention, age.Round(time.Second))
	}
	return true, ""
}

// claim claims the record, waiting while another caller holds it.
func (x *exchange) claim() (cache.Claim, error) {
	t, o := x.t, &x.o
	poll := 5 * time.Millisecond
	for {
		c, err := t.store.Claim(x.ctx, o.recordKey, o.fingerprint, t.policy.Lease)
		if err != nil {
			if x.ctx.Err() != nil {
				return c, fmt.Errorf("idemhttp: %w", context.Cause(x.ctx))
			}
			return c, fmt.Errorf("idemhttp: claim %s: %w", o.key, err)
		}
		if c.Outcome != cache.Busy {
			return c, nil
		}
		// Held elsewhere: wait for it to finish or for its lease to end,
		// and at least the poll interval once the lease has ended by this
		// machine's clock but not by the store's (a clock ahead of the
		// store's would otherwise spin on Claim until the store agrees).
		left := c.Until.Sub(t.now()) + time.Millisecond
		wait := poll
		if left > 0 {
			wait = min(poll, left)
		}
		poll = min(poll*2, 250*time.Millisecond)
		w, ok := t.store.(cache.Waiter)
		if !ok || left <= 0 || w.Wait(x.ctx, o.recordKey, t.now().Add(left)) != nil {
			// No notifications, or they failed, or the lease is over by
			// this clock (a Waiter would see it over too): poll.
			sleep(x.ctx, wait)
		}
		if x.ctx.Err() != nil {
			return c, fmt.Errorf("%w: key %s held elsewhere: %w", ErrInFlight, o.key, context.Cause(x.ctx))
		}
	}
}

// probe runs the route's check-then-act probe. done reports that the call is
// over (the operation was found done, or the probe failed).
func (x *exchange) probe() (resp *http.Response, done bool, err error) {
	t, o := x.t, &x.o
	preq := x.req.Clone(x.ctx)
	preq.Body, preq.GetBody, preq.ContentLength = bodyReader(x.body), getBody(x.body), int64(len(x.body))
	resp, err = o.route.Probe(x.ctx, t.base, preq, o.key)
	if err != nil {
		x.hold.markInDoubt(x.ctx, t.policy.InDoubtTTL)
		return nil, true, fmt.Errorf("%w: key %s: probe failed: %w", ErrInDoubt, o.key, err)
	}
	if resp == nil {
		// mayHaveRun stays: a probe sees the effect as of now, and a send
		// that lost its answer may land later. Should this call end without
		// an answer, the next one probes again rather than send blind.
		t.log.LogAttrs(x.ctx, slog.LevelInfo, "idemhttp: probe: not done, sending", slog.String("key", o.key))
		return nil, false, nil
	}
	t.log.LogAttrs(x.ctx, slog.LevelInfo, "idemhttp: probe: already done, recording", slog.String("key", o.key))
	x.entry, _ = entryFrom(resp, t.policy.MaxRecordBytes, t.now()) // a broken body: status and headers
	x.hold.complete(x.ctx, x.entry, t.policy.recordTTL(o.provider))
	if x.inDoubt {
		resp.Header.Set(HeaderReplayed, "true") // an earlier call did it
	}
	resp.Request = x.req.WithContext(x.ctx)
	return resp, true, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
