package idemhttp

import (
	"errors"

	"github.com/idemhttp/idemhttp/cache"
)

// Sentinel errors. Errors returned by the Transport wrap them (and the cause)
// with %w; test with errors.Is.
var (
	// ErrKeyReused means the key was used before for a request with another
	// payload. Nothing was sent; the recorded response is not returned.
	ErrKeyReused = errors.New("idemhttp: idempotency key reused with a different request")

	// ErrInDoubt means the request may have taken effect and cannot be
	// re-sent safely: it was written and no answer came back, a re-send to
	// the provider could execute it again (see
	// providers.Provider.SafeToResend), and no probe could settle it. A call
	// that gets an answer that does not settle the operation (a 5xx, or a 429
	// past the retries after the request may have executed) returns that
	// answer, and its record stays in doubt too. Later calls with the same
	// key get ErrInDoubt, until a route's Probe or Transport.Resolve settles
	// it, or it expires (Policy.InDoubtTTL).
	ErrInDoubt = errors.New("idemhttp: operation in doubt: it may have taken effect")

	// ErrInFlight means the same operation is running elsewhere (another
	// goroutine's or process's claim) and did not finish before the context
	// ended, or that this call's claim passed to another caller while it
	// waited to retry (the store refused it: nothing more was sent).
	ErrInFlight = errors.New("idemhttp: same operation in flight elsewhere")

	// ErrBodyTooLarge means the request body is over Policy.MaxBodyBytes.
	// Nothing was sent.
	ErrBodyTooLarge = errors.New("idemhttp: request body too large")

	// ErrStoreUnavailable means the record store could not be used and the
	// policy fails closed for this provider: the call sent nothing, or,
	// when the store failed while the call waited to retry, nothing more.
	// It is the same value as cache.ErrUnavailable, so store errors match
	// it too.
	ErrStoreUnavailable = cache.ErrUnavailable

	// ErrKeyTooLong means an explicit key is longer than the provider accepts,
	// or the provider's limit leaves no room for a derived key. Nothing was
	// sent.
	ErrKeyTooLong = errors.New("idemhttp: idempotency key longer than the provider accepts")

	// ErrEmptyKey means WithKey was given an empty key. Nothing was sent.
	ErrEmptyKey = errors.New("idemhttp: empty idempotency key")

	// ErrInvalidRequest means the request cannot be sent as it is (no host,
	// or a header or trailer field, the key header included, that net/http
	// refuses to write), or that Transport.Resolve was given a context
	// naming another operation than its request. Nothing was claimed or
	// sent.
	ErrInvalidRequest = errors.New("idemhttp: invalid request")
)
