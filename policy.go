package idemhttp

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/idemhttp/idemhttp/providers"
)

// StoreFailure says what to do with a keyed request when the store cannot
// be used.
type StoreFailure int

const (
	// FailAuto fails open for providers to which a re-send is safe
	// (providers.Provider.SafeToResend: the request goes out with its key,
	// unrecorded, and a warning is logged) and closed for the others
	// (ErrStoreUnavailable, nothing sent): without the record, the call
	// cannot tell a new operation from one in doubt.
	FailAuto StoreFailure = iota
	// FailOpen always sends, unrecorded.
	FailOpen
	// FailClosed never sends without a record: ErrStoreUnavailable.
	FailClosed
)

// Policy decides which requests are keyed, how they are retried and what is
// recorded. Start from DefaultPolicy and change fields; a zero field means
// the default.
type Policy struct {
	// KeyedMethods get an idempotency key and a record. Default POST, PATCH.
	KeyedMethods []string
	// SafeMethods are idempotent by HTTP semantics: retried with backoff,
	// never keyed or recorded. Default GET, HEAD, OPTIONS, PUT, DELETE.
	// Methods in neither list pass through untouched.
	SafeMethods []string

	// MaxBodyBytes bounds a keyed request body: a larger one fails with
	// ErrBodyTooLarge and nothing is sent. Default 8 MiB.
	MaxBodyBytes int64
	// MaxRecordBytes bounds a recorded response body. A larger response is
	// returned whole to the caller, and recorded as status and headers only
	// (cache.Entry.BodyOmitted): a later replay has an empty body and the
	// header Idempotent-Body-Omitted: true. The operation is never
	// executed again. Streams (text/event-stream, NDJSON) are recorded the
	// same way at once and reach the caller live; other recorded bodies are
	// read before RoundTrip returns. Default 1 MiB.
	MaxRecordBytes int64

	// MaxAttempts bounds the sends of one call, the first included. Default 4.
	MaxAttempts int
	// InitialInterval, MaxInterval and MaxElapsed shape the exponential
	// backoff with jitter between attempts. Defaults 250ms, 5s, 30s.
	InitialInterval, MaxInterval, MaxElapsed time.Duration
	// MaxRetryAfter caps how long a Retry-After is honoured: a response asking
	// for a longer wait is returned to the caller instead. Default 30s.
	MaxRetryAfter time.Duration

	// Lease is how long a claim is held without renewal; it is renewed every
	// Lease/2 while the request is still running, so a crashed holder's claim
	// frees between Lease/2 and Lease after the crash. Default 10s.
	Lease time.Duration
	// RecordTTL is how long completed responses are replayed, capped by the
	// provider's Retention. Default 24h.
	RecordTTL time.Duration
	// InDoubtTTL is how long an in-doubt record is kept unless resolved.
	// Default 7 days.
	InDoubtTTL time.Duration
	// StoreTimeout bounds the store calls that settle a record after the
	// response (they run even if the request's context ended; with the
	// in-memory store, which cannot block, they are not bounded), and lease
	// renewals. Default 5s.
	StoreTimeout time.Duration

	// ReplaceKeys replaces an idempotency key the caller or an SDK already
	// put on the request with idemhttp's stable key. SDKs such as stripe-go
	// set random keys that do not survive a restart. Default false: a key
	// already on the request is kept.
	ReplaceKeys bool
	// StoreFailure says what happens when the store is down. Default FailAuto.
	StoreFailure StoreFailure
}

// DefaultPolicy returns the policy with every default filled in.
func DefaultPolicy() Policy {
	return Policy{
		KeyedMethods:    []string{http.MethodPost, http.MethodPatch},
		SafeMethods:     []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete},
		MaxBodyBytes:    8 << 20,
		MaxRecordBytes:  1 << 20,
		MaxAttempts:     4,
		InitialInterval: 250 * time.Millisecond,
		MaxInterval:     5 * time.Second,
		MaxElapsed:      30 * time.Second,
		MaxRetryAfter:   30 * time.Second,
		Lease:           10 * time.Second,
		RecordTTL:       24 * time.Hour,
		InDoubtTTL:      7 * 24 * time.Hour,
		StoreTimeout:    5 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultPolicy.
func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.KeyedMethods == nil {
		p.KeyedMethods = d.KeyedMethods
	}
	if p.SafeMethods == nil {
		p.SafeMethods = d.SafeMethods
	}
	setDefault(&p.MaxBodyBytes, d.MaxBodyBytes)
	setDefault(&p.MaxRecordBytes, d.MaxRecordBytes)
	setDefault(&p.MaxAttempts, d.MaxAttempts)
	setDefault(&p.InitialInterval, d.InitialInterval)
	setDefault(&p.MaxInterval, d.MaxInterval)
	setDefault(&p.MaxElapsed, d.MaxElapsed)
	setDefault(&p.MaxRetryAfter, d.MaxRetryAfter)
	setDefault(&p.Lease, d.Lease)
	setDefault(&p.RecordTTL, d.RecordTTL)
	setDefault(&p.InDoubtTTL, d.InDoubtTTL)
	setDefault(&p.StoreTimeout, d.StoreTimeout)
	return p
}

func setDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Keyed reports whether requests with method get a key and a record.
func (p *Policy) Keyed(method string) bool { return slices.Contains(p.KeyedMethods, method) }

// Safe reports whether requests with method are retried without a key.
func (p *Policy) Safe(method string) bool { return slices.Contains(p.SafeMethods, method) }

// Recordable reports whether a final response with status is a definitive
// outcome worth replaying: 2xx, 300 to 303 (a POST answered 303 See Other
// has executed; the client follows with a GET) and definitive 4xx (400
// validation, 402 declined, 422 …). Not recorded, so that a later call may
// try again with the same key: 304 to 308 (305 and 306 are obsolete; a 307
// or 308 makes the client repeat the request, with its key, at another
// location: nothing was done here), 401, 403 and 404 (credentials,
// permissions and resources change), 408, 409, 425, 429, and every 5xx.
func Recordable(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return status >= 200 && status <= http.StatusSeeOther || status >= 400 && status < 500
}

// recordTTL is the record lifetime for provider p.
func (p *Policy) recordTTL(prov *providers.Provider) time.Duration {
	if prov.Retention > 0 && prov.Retention < p.RecordTTL {
		return prov.Retention
	}
	return p.RecordTTL
}

// pastElapsed reports whether waiting wait after elapsed would pass
// MaxElapsed. It subtracts rather than adds, so that a wait near the
// largest Duration (a Retry-After under MaxRetryAfter = math.MaxInt64)
// cannot wrap around to a negative sum and pass for a short one.
func (p *Policy) pastElapsed(elapsed, wait time.Duration) bool {
	return wait > p.MaxElapsed-elapsed
}

// failOpen reports whether a request to prov goes out when the store is down.
func (p *Policy) failOpen(prov *providers.Provider) bool {
	switch p.StoreFailure {
	case FailOpen:
		return true
	case FailClosed:
		return false
	}
	return prov.SafeToResend()
}

// retryableError reports whether an error from the base transport, raised
// before any response, may be retried at all: go-retryablehttp's
// classification (not certificate errors, bad schemes, redirect loops or
// invalid headers), and never once ctx has ended.
func retryableError(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// go-retryablehttp classifies the *url.Error that http.Client returns;
	// below the client, a transport's error is not wrapped yet.
	var uerr *url.Error
	if !errors.As(err, &uerr) {
		err = &url.Error{Op: "Post", URL: "", Err: err}
	}
	retry, _ := retryablehttp.DefaultRetryPolicy(ctx, nil, err)
	return retry
}

// retryAfter parses a Retry-After header (delta-seconds or HTTP-date).
// ok is false when the header is absent or unparseable.
func retryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64, true // beyond any cap
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// shouldRetryHint reads a provider's retry hint header ("true"/"false").
func shouldRetryHint(prov *providers.Provider, h http.Header) (retry, ok bool) {
	if prov.ShouldRetryHeader == "" {
		return false, false
	}
	switch h.Get(prov.ShouldRetryHeader) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
