package webhook

import "errors"

// Errors reported by the middlewares (in the plain-text body of the error
// response) and by the extractors. Test with errors.Is.
var (
	// ErrBodyTooLarge means the request body is over the configured bound.
	ErrBodyTooLarge = errors.New("webhook: request body too large")

	// ErrMissingID means the delivery carries no event id where the
	// extractor looks for one.
	ErrMissingID = errors.New("webhook: missing event id")

	// ErrInvalidID means the event id is too long or holds control characters.
	ErrInvalidID = errors.New("webhook: invalid event id")

	// ErrNoSignature means the delivery lacks the signature headers of its scheme.
	ErrNoSignature = errors.New("webhook: missing signature")

	// ErrInvalidSignature means no signature on the delivery matches the secret,
	// or the signature header is malformed.
	ErrInvalidSignature = errors.New("webhook: invalid signature")

	// ErrTimestampOutOfRange means the signed timestamp is further from now
	// than the tolerance allows (a replayed or badly delayed delivery).
	ErrTimestampOutOfRange = errors.New("webhook: signature timestamp out of tolerance")
)
