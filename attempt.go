package idemhttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// attempt is the outcome of one send.
type attempt struct {
	resp    *http.Response
	err     error
	written bool // the whole request reached the connection
}

// verdict is what to do after an attempt.
type verdict int

const (
	deliver verdict = iota // final response: record, release or mark by status
	retry                  // send again, after wait
	doubt                  // may have taken effect and cannot be re-sent
	fail                   // an error; nothing took effect, or a re-send is harmless
)

// send sends the request until a final outcome, and settles the record.
func (x *exchange) send() (*http.Response, error) {
	t, o := x.t, x.o
	start := t.now()
	var bo backoff.BackOff
	for n := 1; ; n++ {
		a := x.sendOnce()
		v, wait := x.judge(a)
		if v == retry {
			if bo == nil {
				bo = newBackoff(&t.policy)
			}
			if wait < 0 {
				wait = bo.NextBackOff()
			}
			if n >= t.policy.MaxAttempts || wait == backoff.Stop || t.now().Sub(start)+wait > t.policy.MaxElapsed {
				v = deliver // out of attempts: the last outcome stands
				if a.resp == nil {
					v = fail
				}
			}
		}
		switch v {
		case deliver:
			return x.finish(a.resp)
		case fail:
			x.hold.release(x.ctx)
			return nil, fmt.Errorf("idemhttp: %s %s (key %s): %w", x.req.Method, x.req.URL.Redacted(), o.key, a.err)
		case doubt:
			if o.route != nil && o.route.Probe != nil {
				if resp, done, err := x.probe(); done || err != nil {
					return resp, err
				}
				continue // probe says not done: safe to send again
			}
			x.hold.markInDoubt(x.ctx, t.policy.InDoubtTTL)
			return nil, fmt.Errorf("%w: %s %s (key %s): the request was sent and %s does not de-duplicate: %w",
				ErrInDoubt, x.req.Method, x.req.URL.Redacted(), o.key, o.provider.Name, a.err)
		}
		if a.resp != nil {
			drain(a.resp)
		}
		t.log.LogAttrs(x.ctx, slog.LevelDebug, "idemhttp: retry", slog.String("key", o.key),
			slog.Int("attempt", n), slog.Duration("wait", wait), slog.Any("err", a.err))
		if err := sleep(x.ctx, wait); err != nil {
			x.hold.release(x.ctx)
			return nil, fmt.Errorf("idemhttp: %s %s (key %s): waiting to retry: %w", x.req.Method, x.req.URL.Redacted(), o.key, err)
		}
	}
}

// sendOnce sends one attempt and notes whether the request was written.
func (x *exchange) sendOnce() attempt {
	o := x.o
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	out := x.req.Clone(httptrace.WithClientTrace(x.ctx, trace))
	if x.req.Body != nil && x.req.Body != http.NoBody || len(x.body) > 0 {
		out.Body, out.ContentLength = bodyReader(x.body), int64(len(x.body))
	}
	// net/http re-sends a request carrying an Idempotency-Key header on its
	// own after some connection failures, rewinding with GetBody. That is
	// harmless only where the server de-duplicates.
	out.GetBody = nil
	if o.provider.Dedup {
		out.GetBody = getBody(x.body)
	}
	if h := o.provider.KeyHeader; h != "" {
		out.Header.Set(h, o.provider.FormatKey(o.key))
	}
	resp, err := x.t.base.RoundTrip(out)
	return attempt{resp: resp, err: err, written: wrote.Load()}
}

// judge classifies an attempt. wait < 0 means "use the backoff".
func (x *exchange) judge(a attempt) (verdict, time.Duration) {
	prov := x.o.provider
	resend := prov.Dedup || x.o.route != nil && x.o.route.AtLeastOnce
	if a.err != nil {
		switch {
		case a.written && !resend:
			return doubt, 0
		case !retryableError(x.ctx, a.err):
			return fail, 0
		}
		return retry, -1
	}
	status := a.resp.StatusCode
	if hint, ok := shouldRetryHint(prov, a.resp.Header); ok {
		if !hint {
			return deliver, 0
		}
		return x.retryAfter(a.resp)
	}
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return x.retryAfter(a.resp)
	case prov.InProgressStatus != 0 && status == prov.InProgressStatus && prov.Dedup:
		return x.retryAfter(a.resp)
	case resend && (status == http.StatusInternalServerError || status == http.StatusBadGateway || status == http.StatusGatewayTimeout):
		return retry, -1
	}
	return deliver, 0
}

// retryAfter honours Retry-After up to the policy's cap; a longer wait is
// the caller's decision, so the response is delivered.
func (x *exchange) retryAfter(resp *http.Response) (verdict, time.Duration) {
	d, ok := retryAfter(resp.Header, x.t.now())
	switch {
	case !ok:
		return retry, -1
	case d > x.t.policy.MaxRetryAfter:
		return deliver, 0
	}
	return retry, d
}

// finish settles the record for a final response and returns it.
func (x *exchange) finish(resp *http.Response) (*http.Response, error) {
	t, o := x.t, x.o
	status := resp.StatusCode
	if !x.inDoubt {
		// The provider's own replay marker after a retry within this call:
		// the operation executed during this call, so it is no replay.
		resp.Header.Del(HeaderReplayed)
	}
	switch {
	case Recordable(status):
		x.entry = entryFrom(resp, t.policy.MaxRecordBytes, t.now())
		x.hold.complete(x.ctx, x.entry, t.policy.recordTTL(o.provider))
	case mayHaveExecuted(status) && !o.provider.Dedup && (o.route == nil || !o.route.AtLeastOnce):
		// A server error after the request reached a server that does not
		// de-duplicate: the effect may have happened.
		x.hold.markInDoubt(x.ctx, t.policy.InDoubtTTL)
		t.log.LogAttrs(x.ctx, slog.LevelWarn, "idemhttp: server error, operation in doubt", slog.String("key", o.key), slog.Int("status", status))
	default:
		x.hold.release(x.ctx)
	}
	return resp, nil
}

// mayHaveExecuted reports whether a 5xx may follow an executed request
// (500, 502, 504 …; not 501 Not Implemented or 503 Service Unavailable).
func mayHaveExecuted(status int) bool {
	return status >= 500 && status != http.StatusNotImplemented && status != http.StatusServiceUnavailable
}

func newBackoff(p *Policy) backoff.BackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(p.InitialInterval),
		backoff.WithMaxInterval(p.MaxInterval),
		backoff.WithMaxElapsedTime(0), // the send loop bounds elapsed time itself
	)
	return b
}

func bodyReader(body []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(body)) }

func getBody(body []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return bodyReader(body), nil }
}

// roundTripSafe sends a request that is idempotent by HTTP semantics,
// retrying transport errors, 429 and 5xx (not 501) with backoff. It is never
// keyed or recorded. A body is re-sent through GetBody; a request with a body
// and no GetBody cannot be rewound and is sent once.
func (t *Transport) roundTripSafe(ctx context.Context, req *http.Request) (*http.Response, error) {
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody && req.GetBody == nil {
		return t.base.RoundTrip(req)
	}
	start := t.now()
	var bo backoff.BackOff
	for n := 1; ; n++ {
		out := req
		if n > 1 {
			out = req.Clone(ctx)
			if hasBody {
				b, err := req.GetBody()
				if err != nil {
					return nil, fmt.Errorf("idemhttp: rewinding body: %w", err)
				}
				out.Body = b
			}
		}
		resp, err := t.base.RoundTrip(out)
		wait := time.Duration(-1)
		switch {
		case err != nil:
			if !retryableError(ctx, err) {
				return nil, err
			}
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
			if d, ok := retryAfter(resp.Header, t.now()); ok {
				if d > t.policy.MaxRetryAfter {
					return resp, nil
				}
				wait = d
			}
		default:
			return resp, nil
		}
		if bo == nil {
			bo = newBackoff(&t.policy)
		}
		if wait < 0 {
			wait = bo.NextBackOff()
		}
		if n >= t.policy.MaxAttempts || t.now().Sub(start)+wait > t.policy.MaxElapsed {
			return resp, err
		}
		if resp != nil {
			drain(resp)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("idemhttp: %s %s: waiting to retry: %w", req.Method, req.URL.Redacted(), err)
		}
	}
}
