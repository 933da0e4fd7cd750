package providers

import "time"

// Stripe is the Stripe API (v1).
//
// Facts (docs.stripe.com/api/idempotent_requests, docs.stripe.com/error-low-level):
// the key travels in the Idempotency-Key header of POST requests, up to 255
// characters, and is kept at least 24 hours. A repeated key replays the saved
// status and body with Idempotent-Replayed: true; a key still executing gets
// 409 (idempotency_key_in_use), which is retried with the same key; the same
// key with other parameters is an idempotency_error (400). Stripe records 500s
// once the endpoint began executing, so a 500 is retried with the SAME key,
// never a new one. Stripe-Should-Retry overrides the retry decision.
// Stripe-Account and Stripe-Context select a connected account and so
// namespace records.
//
// stripe-go sets a random Idempotency-Key on every POST; such keys do not
// survive a restart. Set Policy.ReplaceKeys so idemhttp's stable key wins.
func Stripe() Provider {
	return Provider{
		Name:              "stripe",
		Hosts:             []string{"api.stripe.com", "files.stripe.com"},
		KeyHeader:         "Idempotency-Key",
		MaxKeyLen:         255,
		Dedup:             true,
		Retention:         24 * time.Hour,
		RecordsErrors:     true,
		InProgressStatus:  409,
		ShouldRetryHeader: "Stripe-Should-Retry",
		AccountHeaders:    []string{"Stripe-Account", "Stripe-Context"},
	}
}
