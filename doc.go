// Package idemhttp makes HTTP calls with side effects safe to retry: a
// customer charged once after a timeout, one welcome email after a retry, one
// order row, one booking after a 429, and an agent that restarts mid-task
// replaying what already happened instead of doing it again.
//
// Transport is an http.RoundTripper. Plug it into any http.Client, or into the
// HTTP client of an SDK:
//
//	client := &http.Client{Transport: idemhttp.New(
//		idemhttp.WithStore(store),
//		idemhttp.WithProviders(providers.Stripe(), providers.SendGrid()),
//	)}
//
// # The life of one keyed request
//
//  1. Methods in Policy.KeyedMethods (POST, PATCH) are keyed; Policy.SafeMethods
//     (GET, HEAD, OPTIONS, PUT, DELETE) are retried with backoff, never keyed
//     or recorded; anything else passes through.
//  2. The body is buffered (at most Policy.MaxBodyBytes, else ErrBodyTooLarge)
//     and the key derived: WithKey's key, else a key already on the request
//     (unless Policy.ReplaceKeys), else DeriveKey's stable hash of scope,
//     provider, method, URL and canonical body (or the route's key fields).
//     A fingerprint of the request is stored with the record. A request that
//     net/http would refuse to write (no host, a header, trailer or key it
//     cannot carry) fails with ErrInvalidRequest before anything is claimed.
//  3. Concurrent identical calls in one process share one claim and one send.
//  4. The record is claimed in the store. Completed: the recorded response is
//     replayed (Replayed reports it) and nothing is sent, or ErrKeyReused when
//     the fingerprint differs. Held elsewhere: the call waits until it
//     completes, the holder's lease ends, or ctx ends (ErrInFlight).
//  5. The request is sent with the key, where the provider expects it.
//     net/http/httptrace tells whether it was written. Not written: always
//     safe to retry. Written with no response: re-sent with the same key only
//     when that is safe (providers.Provider.SafeToResend: the provider
//     de-duplicates and keeps every answer under the key, errors included,
//     as Stripe does) or the route is AtLeastOnce; otherwise the route's
//     Probe decides, or the call fails with ErrInDoubt and the record stays
//     in doubt. A claim found in doubt (a crashed holder) is treated the
//     same way, and re-sent only while the provider's Retention since the
//     first claim has not passed.
//  6. Retries (exponential backoff with jitter, bounded attempts and time,
//     ctx respected): 429, and 503 with Retry-After, after it (capped; a 503
//     without one only when a re-send is safe); 500/502/504
//     when a re-send is safe (as above), and then also the provider's 409
//     "in progress"; and the provider's own hint
//     (Stripe-Should-Retry). The lease is renewed while the call runs.
//  7. The final response is recorded when definitive (see Recordable: 2xx,
//     300 to 303, 4xx but 401, 403, 404, 408, 409, 425, 429), for at most
//     the provider's retention. A call that ends without such a response
//     leaves the record in doubt when the operation may have executed (the
//     claim was in doubt already, or an attempt was written and got no
//     answer, a 5xx or the provider's "in progress"), so that the
//     provider's retention still bounds a re-send; otherwise it releases the
//     record so a later call may try again with the same key.
//  8. The response body reads normally; replays carry Idempotent-Replayed: true.
//
// # What is guaranteed
//
// For one record (same provider, tenant and key) and one store: at most one
// caller at a time sends; a completed outcome is replayed, never re-executed,
// for as long as the record is kept; a request that may have taken effect is
// never re-sent silently unless a re-send cannot execute it twice
// (providers.Provider.SafeToResend, within the provider's key retention).
//
// # What is NOT guaranteed
//
//   - Exactly-once when the store loses records (a memory store across a
//     restart, Redis restarted empty, eviction, expiry): for providers to
//     which a re-send is safe (providers.Provider.SafeToResend) the
//     provider's own key memory still holds, for the others a lost record
//     means the operation can be sent again.
//   - Store outages fail open for providers to which a re-send is safe (the
//     request goes out with its key, unrecorded) and closed for the others
//     (ErrStoreUnavailable); see Policy.StoreFailure.
//   - Replays are what was recorded: they do not reflect later changes at the
//     provider, and bodies over Policy.MaxRecordBytes are not kept, nor a
//     body that broke off before it was read whole: the record keeps status
//     and headers.
//   - Keys derived from bodies that an agent rewrites differ, unless the route
//     names KeyFields; keys survive restarts only when scope and request do.
//   - Two operations meant to be distinct but identical in what identifies
//     them (scope, request, or the route's KeyFields) are one: the second
//     is replayed. Use distinct scopes, or WithKey.
//   - A re-send of an in-doubt operation to a de-duplicating provider relies
//     on the provider still remembering the key. It happens only within the
//     provider's Retention of the record's first claim (cache.Claim.Since);
//     past it, or when the record cannot date its first claim (written by an
//     earlier version), or when the provider's Retention is unknown, the
//     operation is in doubt (ErrInDoubt) and not re-sent.
//   - Credentials added below the Transport (an oauth2 base transport) do
//     not namespace records: put the tenant in the request, or in WithScope.
//   - The bodies of responses that are recorded are read before RoundTrip
//     returns (up to Policy.MaxRecordBytes), except streams; other bodies
//     (errors, redirects) reach the caller unread.
//   - Requests sent around the Transport are not seen by it.
package idemhttp
