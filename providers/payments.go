package providers

import "time"

// Adyen is the Adyen API. Facts (docs.adyen.com/development-resources/api-idempotency):
// Idempotency-Key header on POST, at most 64 characters, kept at least 31 days
// per company account and region; a repeated key returns the first response.
// In-progress and mismatch behaviour are UNCONFIRMED, so no status is treated
// as "still running".
func Adyen() Provider {
	return Provider{
		Name:           "adyen",
		Hosts:          []string{"*.adyen.com", "*.adyenpayments.com"},
		KeyHeader:      "Idempotency-Key",
		MaxKeyLen:      64,
		Dedup:          true,
		Retention:      31 * 24 * time.Hour,
		AccountHeaders: []string{"X-API-Key"}, // Adyen authenticates with it, not Authorization
	}
}

// PayPal is the PayPal REST API. Facts (developer.paypal.com/api/rest/reference/idempotency):
// PayPal-Request-Id header, at most 108 characters for Orders v2, kept 6 hours
// for Orders v2 (45 days for Payments v2; the shorter bound is used). A repeat
// returns the original's latest state, not a byte-identical response. The
// in-progress answer is not documented consistently, so none is assumed.
func PayPal() Provider {
	return Provider{
		Name:           "paypal",
		Hosts:          []string{"api-m.paypal.com", "api-m.sandbox.paypal.com", "api.paypal.com", "api.sandbox.paypal.com"},
		KeyHeader:      "PayPal-Request-Id",
		MaxKeyLen:      108,
		Dedup:          true,
		Retention:      6 * time.Hour,
		AccountHeaders: []string{"PayPal-Auth-Assertion"}, // acting for another merchant
	}
}

// Square is the Square API. Facts (developer.squareup.com/docs/working-with-apis/idempotency):
// the key is the JSON body field idempotency_key, required on many endpoints,
// at most 45 characters for CreatePayment; a repeat returns the first
// successful response. Retention is UNCONFIRMED, so it is left unknown:
// records are kept Policy.RecordTTL, and an operation left in doubt is not
// re-sent (ErrInDoubt) since Square may have forgotten its key.
func Square() Provider {
	return Provider{
		Name:      "square",
		Hosts:     []string{"connect.squareup.com", "connect.squareupsandbox.com"},
		KeyField:  "idempotency_key",
		MaxKeyLen: 45,
		Dedup:     true,
	}
}

// CheckoutCom is the Checkout.com API. Facts (checkout.com/docs/payments/manage-payments/idempotency):
// Cko-Idempotency-Key header on payment endpoints, kept 24 hours, a repeat
// returns the same status and body, 409 while in progress. Only 2xx
// responses are kept by the server.
func CheckoutCom() Provider {
	return Provider{
		Name:             "checkout",
		Hosts:            []string{"api.checkout.com", "api.sandbox.checkout.com"},
		KeyHeader:        "Cko-Idempotency-Key",
		Dedup:            true,
		Retention:        24 * time.Hour,
		InProgressStatus: 409,
	}
}

// Mollie is the Mollie API. Facts (docs.mollie.com/overview/api-idempotency):
// Idempotency-Key header on POST, kept 24 hours, a repeat returns the cached
// response with Idempotent-Replayed: true, 409 while in progress, 400 for
// the same key with another payload.
func Mollie() Provider {
	return Provider{
		Name:             "mollie",
		Hosts:            []string{"api.mollie.com"},
		KeyHeader:        "Idempotency-Key",
		Dedup:            true,
		Retention:        24 * time.Hour,
		InProgressStatus: 409,
	}
}

// GoCardless is the GoCardless API. Facts (gocardless.com/blog/idempotency-keys):
// Idempotency-Key header on creation endpoints; a repeat does not replay but
// answers 409 idempotent_creation_conflict naming the existing resource in
// links.conflicting_resource_id (fetch that resource to continue). A 409 is
// never recorded, so every re-send with the same key gets that same answer
// and none creates a second resource. Limits and retention are UNCONFIRMED.
func GoCardless() Provider {
	return Provider{
		Name:      "gocardless",
		Hosts:     []string{"api.gocardless.com", "api-sandbox.gocardless.com"},
		KeyHeader: "Idempotency-Key",
		Dedup:     true,
	}
}
