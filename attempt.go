package idemhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/idemhttp/idemhttp/cache"
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
// fresh says the claim was just taken: the first send needs no lease check.
func (x *exchange) send(fresh bool) (*http.Response, error) {
	t, o := x.t, &x.o
	start := t.now()
	var bo backoff.BackOff
	for n := 1; ; n++ {
		if err := x.ctx.Err(); err != nil {
			// Ended before this attempt: nothing more is sent.
			x.unsettled()
			return nil, fmt.Errorf("idemhttp: %s %s (key %s): %w", x.req.Method, x.req.URL.Redacted(), o.key, context.Cause(x.ctx))
		}
		if n > 1 || !fresh {
			// Never send on a claim that may have passed to another caller
			// while this one waited (backoff, Retry-After, a probe).
			if err := x.hold.confirm(x.ctx, t.policy.failOpen(o.provider)); errors.Is(err, cache.ErrFenced) {
				return nil, fmt.Errorf("%w: %s %s (key %s): this call lost its claim: %w",
					ErrInFlight, x.req.Method, x.req.URL.Redacted(), o.key, err)
			} else if err != nil {
				// The store cannot say whether the claim is still this
				// call's (ErrStoreUnavailable): nothing more is sent.
				return nil, fmt.Errorf("idemhttp: %s %s (key %s): cannot confirm the claim before sending again: %w",
					x.req.Method, x.req.URL.Redacted(), o.key, err)
			}
		}
		a := x.sendOnce()
		x.mayHaveRun = x.mayHaveRun || x.mayHaveExecuted(a)
		v, wait := x.judge(a)
		if v == doubt && o.route != nil && o.route.Probe != nil {
			resp, done, err := x.probe()
			if done || err != nil {
				return resp, err
			}
			v, wait = retry, -1 // not done: as if never written, within the same bounds
		}
		if v == retry {
			if bo == nil {
				bo = newBackoff(&t.policy)
			}
			if wait < 0 {
				wait = bo.NextBackOff()
			}
			if n >= t.policy.MaxAttempts || wait == backoff.Stop || t.policy.pastElapsed(t.now().Sub(start), wait) {
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
			x.unsettled()
			return nil, fmt.Errorf("idemhttp: %s %s (key %s): %w", x.req.Method, x.req.URL.Redacted(), o.key, a.err)
		case doubt:
			x.hold.markInDoubt(x.ctx, t.policy.InDoubtTTL)
			return nil, fmt.Errorf("%w: %s %s (key %s): the request was sent and a re-send to %s could execute it again: %w",
				ErrInDoubt, x.req.Method, x.req.URL.Redacted(), o.key, o.provider.Name, a.err)
		}
		x.resent = x.resent || a.written
		if a.resp != nil {
			drain(a.resp)
		}
		t.log.LogAttrs(x.ctx, slog.LevelDebug, "idemhttp: retry", slog.String("key", o.key),
			slog.Int("attempt", n), slog.Duration("wait", wait), slog.Any("err", a.err))
		if err := sleep(x.ctx, wait); err != nil {
			x.unsettled()
			return nil, fmt.Errorf("idemhttp: %s %s (key %s): waiting to retry: %w", x.req.Method, x.req.URL.Redacted(), o.key, err)
		}
	}
}

// sendOnce sends one attempt and notes whether the request was written.
func (x *exchange) sendOnce() attempt {
	o := &x.o
	st := newSendTrace()
	// A shallow copy with its own header map: the transport below reads
	// the URL and the rest, and changes none of it.
	out := x.req.WithContext(httptrace.WithClientTrace(x.ctx, &st.trace))
	out.Header = x.req.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header, 1)
	}
	out.Body, out.ContentLength = nil, int64(len(x.body))
	if len(x.body) > 0 || x.req.Body != nil && x.req.Body != http.NoBody {
		out.Body = bodyReader(x.body)
	}
	// net/http re-sends a request carrying an Idempotency-Key header on its
	// own after some connection failures, rewinding with GetBody, and
	// re-sends an empty-bodied one without rewinding. That is harmless only
	// where it is safe to resend (SafeToResend): elsewhere the request gets a body
	// reader (even an empty one, sent chunked) and no GetBody, so net/http
	// never counts it as replayable.
	out.GetBody = nil
	if o.provider.SafeToResend() {
		out.GetBody = getBody(x.body)
	} else if out.Body == nil {
		out.Body = bodyReader(nil)
	}
	if h := o.provider.KeyHeader; h != "" {
		if o.keyHeaderOther {
			// One key header on the wire: another spelling of it (the
			// caller's key, or an SDK's being replaced) would go out
			// beside it.
			deleteOtherSpellings(out.Header, http.CanonicalHeaderKey(h))
		}
		out.Header.Set(h, o.provider.FormatKey(o.key))
	}
	resp, err := x.t.base.RoundTrip(out)
	return attempt{resp: resp, err: err, written: st.written()}
}

// sendTrace learns through httptrace whether a request asked for a
// connection and whether it was then written whole.
type sendTrace struct {
	trace        httptrace.ClientTrace
	asked, wrote atomic.Bool
}

func newSendTrace() *sendTrace {
	st := &sendTrace{}
	st.trace.GetConn = func(string) { st.asked.Store(true) }
	st.trace.WroteRequest = func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			st.wrote.Store(true)
		}
	}
	return st
}

// written reports whether the request may have reached the server whole. A
// base that reports no trace events at all cannot tell (a protocol
// registered with http.Transport.RegisterProtocol sends without a GetConn
// event): the request counts as written.
func (st *sendTrace) written() bool { return st.wrote.Load() || !st.asked.Load() }

// judge classifies an attempt. wait < 0 means "use the backoff".
func (x *exchange) judge(a attempt) (verdict, time.Duration) {
	prov := x.o.provider
	resend := prov.SafeToResend() || x.o.route != nil && x.o.route.AtLeastOnce
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
	case status == http.StatusTooManyRequests:
		return x.retryAfter(a.resp)
	case status == http.StatusServiceUnavailable && (resend || a.resp.Header.Get("Retry-After") != ""):
		// A 503 with Retry-After says "not now": not processed. Without
		// it, a proxy may have sent it after the request reached the
		// server: it is sent again only where a re-send is safe.
		return x.retryAfter(a.resp)
	case prov.InProgressStatus != 0 && status == prov.InProgressStatus && prov.SafeToResend():
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
	t, o := x.t, &x.o
	status := resp.StatusCode
	if x.resent && !x.inDoubt {
		// The provider's own replay marker after a retry within this call:
		// the operation executed during this call, so it is no replay.
		resp.Header.Del(HeaderReplayed)
	}
	switch {
	case Recordable(status) && streaming(resp.Header.Get("Content-Type")):
		// A stream (server-sent events, NDJSON) goes to the caller live:
		// the outcome is recorded now, without its body.
		x.entry = &cache.Entry{Status: status, Header: storedHeader(resp.Header), BodyOmitted: true, StoredAt: t.now()}
		x.hold.complete(x.ctx, x.entry, t.policy.recordTTL(o.provider))
	case Recordable(status):
		// A body that broke off is kept as status and headers: the
		// outcome is known, its body is not (see entryFrom).
		x.entry, _ = entryFrom(resp, t.policy.MaxRecordBytes, t.now())
		x.hold.complete(x.ctx, x.entry, t.policy.recordTTL(o.provider))
	default:
		if x.mayHaveRun {
			t.log.LogAttrs(x.ctx, slog.LevelWarn, "idemhttp: no definitive answer, operation in doubt", slog.String("key", o.key), slog.Int("status", status))
		}
		x.unsettled()
	}
	return resp, nil
}

// unsettled ends a call that has no outcome to record: the record is kept in
// doubt when the operation may have executed, so that the next call re-sends
// it only while the provider still remembers the key (or probes first), and
// released otherwise, so that a later call may try again with the same key.
// It does nothing once the record is settled.
func (x *exchange) unsettled() {
	if x.mayHaveRun {
		x.hold.markInDoubt(x.ctx, x.t.policy.InDoubtTTL)
		return
	}
	x.hold.release(x.ctx)
}

// mayHaveExecuted reports whether attempt a may have executed the
// operation: it was written and got no answer, or the answer is a server
// error that can follow an execution (all 5xx but 501 Not Implemented and
// 503 with Retry-After), or a de-duplicating provider's "in progress".
func (x *exchange) mayHaveExecuted(a attempt) bool {
	if a.resp == nil {
		return a.err != nil && a.written
	}
	prov := x.o.provider
	switch status := a.resp.StatusCode; {
	case prov.Dedup && prov.InProgressStatus != 0 && status == prov.InProgressStatus:
		return true
	case status < 500 || status == http.StatusNotImplemented:
		return false
	case status == http.StatusServiceUnavailable:
		return a.resp.Header.Get("Retry-After") == ""
	}
	return true
}

func newBackoff(p *Policy) backoff.BackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(p.InitialInterval),
		backoff.WithMaxInterval(p.MaxInterval),
		backoff.WithMaxElapsedTime(0), // the send loop bounds elapsed time itself
	)
	return b
}

// bodyReader is a request body over bytes in memory. net/http recognises
// io.NopCloser(*bytes.Reader) and writes headers and body in one write.
func bodyReader(body []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(body)) }

// byteBody is a response body over bytes in memory: one allocation where
// io.NopCloser(bytes.NewReader(b)) takes two.
type byteBody struct{ bytes.Reader }

func (*byteBody) Close() error { return nil }

func responseBody(body []byte) io.ReadCloser {
	b := &byteBody{}
	b.Reset(body)
	return b
}

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
		if n >= t.policy.MaxAttempts || t.policy.pastElapsed(t.now().Sub(start), wait) {
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
