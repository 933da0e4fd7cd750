// Package providers describes how real APIs treat idempotency keys: where the
// key travels, how long it may be, how long the server remembers it, whether
// the server de-duplicates at all, and which responses mean "still running" or
// "retry". Each provider is a plain Provider value that a caller can copy and
// adjust; the facts and their sources are in each constructor's doc comment.
//
// A provider is matched to a request by host. A Provider with no Hosts matches
// every host and serves as the fallback.
package providers

import (
	"context"
	"net/http"
	"path"
	"strings"
	"time"
)

// Provider is how one API treats idempotency keys. The zero value is not
// useful; start from a constructor such as Stripe or Generic and adjust.
type Provider struct {
	// Name identifies the provider in derived keys, record keys and logs.
	// Changing it changes every derived key.
	Name string
	// Hosts the provider serves: exact names ("api.stripe.com") or a leading
	// wildcard ("*.example.com"). Empty matches every host.
	Hosts []string

	// KeyHeader is the request header that carries the key. Empty when the
	// key travels in the body (KeyField) or not at all.
	KeyHeader string
	// KeyField is a top-level JSON body member that carries the key (Square's
	// "idempotency_key"), used when KeyHeader is empty.
	KeyField string
	// QuoteKey sends the key as an RFC 8941 sf-string ("\"key\""), as the IETF
	// draft specifies; Stripe-style servers take the raw token.
	QuoteKey bool
	// MaxKeyLen is the longest key the provider accepts (0: no limit). Derived
	// keys are shortened to fit; an explicit key over it is refused with
	// ErrKeyTooLong before anything is sent.
	MaxKeyLen int

	// Dedup says the server de-duplicates requests that carry the same key:
	// a repeat of a key it has answered with a success gets that answer, and
	// one still executing gets InProgressStatus. With RecordsErrors it makes
	// a re-send safe (SafeToResend), which decides whether a request that may
	// have been processed is re-sent or reported in doubt, and whether a
	// store outage fails open.
	Dedup bool
	// Retention is how long the server remembers a key (0: unknown).
	// Completed records are replayed no longer than this, so a replay never
	// outlives the server's own memory of the key (in-doubt records are kept
	// Policy.InDoubtTTL, whatever it is), and an operation left in doubt is
	// re-sent with its key only while this has not passed since it was first
	// claimed (after that, when the record cannot say when that was, or when
	// Retention is unknown, it is in doubt: the key may be forgotten).
	Retention time.Duration
	// RecordsErrors says the server keeps every answer under the key, error
	// answers (5xx) included, so that a re-send gets that answer or the one
	// execution, never a second one: Stripe, and the IETF draft. See
	// SafeToResend: a de-duplicating provider that keeps only successes
	// (Checkout.com), or is not known to keep errors, is never re-sent a
	// request that may have executed.
	RecordsErrors bool
	// InProgressStatus is the status the server answers while the same key is
	// still executing (409 for Stripe and the IETF draft). Such an answer is
	// retried with the same key when a re-send is safe (SafeToResend);
	// otherwise the call ends with it, and the record stays in doubt where
	// the provider de-duplicates (Dedup: the answer means an execution is
	// under way) and is released where it does not (there a 409 is a
	// conflict of the business, not an execution). 0: none.
	InProgressStatus int
	// ShouldRetryHeader names a response header whose "true" or "false"
	// overrides the retry decision (Stripe-Should-Retry).
	ShouldRetryHeader string
	// AccountHeaders are request headers that select an account besides
	// Authorization (Stripe-Account): they namespace records per tenant.
	AccountHeaders []string

	// Routes refine the behaviour for particular endpoints.
	Routes []Route
}

// Route refines how requests to some endpoints are keyed and recovered.
type Route struct {
	// Method, "" for any.
	Method string
	// Path is a path.Match pattern ("/v1/customers/*/sources").
	Path string
	// KeyFields, when set, are the only parts of the body that identify the
	// operation: JSON Pointers (RFC 6901, starting with "/") for JSON bodies,
	// field names for form bodies. An email whose body an agent's model
	// rewords is the same email: key it on recipients and subject.
	KeyFields []string
	// ValidationFields select what the fingerprint covers when KeyFields are
	// set. Empty: the key fields themselves, so a reworded body replays the
	// recorded response instead of failing with ErrKeyReused.
	ValidationFields []string
	// AtLeastOnce lets a request that may have been processed be re-sent even
	// though the provider does not de-duplicate: for endpoints where a
	// duplicate is harmless.
	AtLeastOnce bool
	// Probe asks the provider whether the operation already took effect. It
	// runs for an in-doubt request that may not be re-sent with its key (an
	// in-doubt request that may, because SafeToResend holds within Retention
	// or the route is AtLeastOnce, is re-sent without probing), after a
	// send that left the call in doubt, and before every first send when
	// ProbeFirst is set.
	Probe Probe
	// ProbeFirst runs Probe before the first send too (providers without keys).
	ProbeFirst bool
}

// Probe checks whether the operation of req already took effect at the
// provider, sending whatever it needs through base (the transport under
// idemhttp, so probes are neither keyed nor recorded). req's body is
// readable. It returns the response to record when the operation is done,
// (nil, nil) when it is not done and is safe to send, or an error when it
// cannot tell: the operation then stays in doubt and nothing is sent.
type Probe func(ctx context.Context, base http.RoundTripper, req *http.Request, key string) (*http.Response, error)

// Matches reports whether the provider serves host (without port).
func (p *Provider) Matches(host string) bool {
	if len(p.Hosts) == 0 {
		return true
	}
	for _, h := range p.Hosts {
		if strings.EqualFold(h, host) {
			return true
		}
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			if len(host) > len(rest)+1 && strings.EqualFold(host[len(host)-len(rest):], rest) && host[len(host)-len(rest)-1] == '.' {
				return true
			}
		}
	}
	return false
}

// Route returns the first route matching method and urlPath, or nil.
func (p *Provider) Route(method, urlPath string) *Route {
	for i := range p.Routes {
		r := &p.Routes[i]
		if r.Method != "" && r.Method != method {
			continue
		}
		if ok, _ := path.Match(r.Path, urlPath); ok {
			return r
		}
	}
	return nil
}

// FormatKey returns the key as it travels on the wire (quoted for the IETF
// sf-string form).
func (p *Provider) FormatKey(key string) string {
	if !p.QuoteKey {
		return key
	}
	var b strings.Builder
	b.Grow(len(key) + 2)
	b.WriteByte('"')
	for i := 0; i < len(key); i++ {
		if c := key[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(key[i])
	}
	b.WriteByte('"')
	return b.String()
}

// ParseKey is the inverse of FormatKey: it reads a key a caller already put
// on the wire.
func (p *Provider) ParseKey(wire string) string {
	if !p.QuoteKey || len(wire) < 2 || wire[0] != '"' || wire[len(wire)-1] != '"' {
		return wire
	}
	var b strings.Builder
	inner := wire[1 : len(wire)-1]
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' && i+1 < len(inner) {
			i++
		}
		b.WriteByte(inner[i])
	}
	return b.String()
}

// SafeToResend reports whether a request that may have executed (written
// with no answer, answered 5xx, or left in doubt by a crash) can be sent
// again with its key without a second execution: the server de-duplicates
// and keeps every answer under the key, errors included. A server that
// keeps only successes would execute again a request whose first execution
// ended in an error it did not keep.
func (p *Provider) SafeToResend() bool { return p.Dedup && p.RecordsErrors }
