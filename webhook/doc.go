// Package webhook is the inbound side of idemhttp: http.Handler middleware
// that lets a webhook handler see each event once, although senders deliver
// at least once (a lost or slow acknowledgement means the same event arrives
// again).
//
// Compose it as verify → Dedup → handler:
//
//	verify, err := webhook.VerifyStripe(os.Getenv("STRIPE_WEBHOOK_SECRET"))
//	if err != nil { ... }
//	dedup := webhook.Dedup(store, webhook.Stripe())
//	http.Handle("POST /webhooks/stripe", verify(dedup(app)))
//
// Signature verification must come first. Dedup records event ids; if it ran
// on unverified deliveries, a forged delivery carrying a real event id could
// claim that id, and, if the handler answered 2xx, make the real delivery a
// "duplicate" that is never handled. Verifiers are provided for Stripe
// (VerifyStripe), Standard Webhooks and Svix (VerifyStandard) and GitHub
// (VerifyGitHub); for other senders, put the sender's own verifier (or SDK
// check) in the same place. Verifiers and Dedup share the bounded,
// re-readable body, so it is read once.
//
// Records live in any cache.Store (memory, SQLite, Redis), under keys
// "webhook:<sender>[/<namespace>]:<event id>", apart from outbound records in
// a shared store. A redelivery is a duplicate when its id matches, whatever
// its body: senders do not always resend byte-identical payloads, and the id
// is authenticated by the verifier.
//
// Guarantees: with a store shared by all instances of the endpoint, a
// handler that answers 2xx for an event is not called again for it within
// the record's TTL; a handler that fails or panics is called again on the
// next delivery. Not guaranteed: exactly-once side effects when a process
// crashes after the handler's effect and before the outcome is recorded (the
// next delivery is handled, with InDoubt set), or when the store loses the
// record (memory store eviction, or a TTL shorter than the sender's
// redelivery window).
package webhook
