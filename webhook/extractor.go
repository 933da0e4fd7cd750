package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"
)

// MaxIDLength is the longest event id accepted (bytes). Longer ids are
// rejected with ErrInvalidID.
const MaxIDLength = 255

// Extractor tells Dedup who sent a delivery and which event it carries.
// Use the constructors (Stripe, StandardWebhooks, GitHub, Shopify, Twilio,
// SendGrid, Header, Func, JSONArray) or fill one in.
//
// Exactly one of ID and Batch is set.
type Extractor struct {
	// Sender names the sender. It namespaces record keys
	// ("webhook:" + Sender + ":" + id), so inbound records of different
	// senders, and outbound records, never collide in a shared store.
	Sender string

	// TTL is how long a handled delivery is remembered: at least as long as
	// the sender may redeliver. Zero means DefaultTTL. WithTTL overrides it.
	TTL time.Duration

	// ID returns the event id of a single-event delivery. body is the whole
	// request body, read-only. An empty id or an error wrapping ErrMissingID
	// means the delivery has no id.
	ID func(r *http.Request, body []byte) (string, error)

	// Batch splits a batch delivery into its events. Dedup claims each event
	// id, and passes the handler a JSON array of only the new events (each
	// event's Raw bytes, in order). An event with an empty ID has no id.
	Batch func(r *http.Request, body []byte) ([]Event, error)
}

// Event is one event of a batch delivery.
type Event struct {
	// ID is the event's id; empty when it has none.
	ID string
	// Raw is the event's JSON text, passed to the handler unchanged.
	Raw json.RawMessage
}

// DefaultTTL is how long a handled delivery is remembered when neither the
// extractor nor WithTTL says otherwise.
const DefaultTTL = 72 * time.Hour

// Stripe extracts the event id ("evt_…") from the "id" field of the JSON
// body. Stripe retries a failed delivery for up to 3 days in live mode
// (docs.stripe.com/webhooks), so records are kept for 4 days.
//
// A redelivered Stripe event is not always byte-identical (fields such as
// pending_webhooks change), which is why Dedup matches deliveries by id only.
func Stripe() Extractor {
	return Extractor{Sender: "stripe", TTL: 96 * time.Hour, ID: jsonFieldID("id")}
}

// StandardWebhooks extracts the "webhook-id" header of Standard Webhooks
// senders (github.com/standard-webhooks/standard-webhooks), falling back to
// Svix's "svix-id". The id is covered by the signature, so verify it with
// VerifyStandard first. Svix's automatic retries span about a day and a half,
// and deliveries can be replayed by hand later, so records are kept 72 h.
func StandardWebhooks() Extractor {
	return headerExtractor("standard-webhooks", 72*time.Hour, "webhook-id", "svix-id")
}

// GitHub extracts the "X-GitHub-Delivery" header (a GUID kept on
// redelivery). GitHub does not redeliver by itself; deliveries of the past
// 3 days can be redelivered by hand, so records are kept 4 days. The header is
// not covered by GitHub's signature, which signs the body only: verify with
// VerifyGitHub first all the same, so that unsigned deliveries never reach
// the store.
//
// GitHub signs the body but not the X-GitHub-Delivery header, so the record
// is keyed on the delivery id AND a digest of the body: a forged delivery
// that pairs a captured payload with another delivery's id cannot mark that
// delivery as handled. (A captured payload replayed under a fresh id is a
// new record: the signature cannot tell them apart; reject stale payloads
// in the handler, by their own timestamps, where that matters.)
func GitHub() Extractor {
	return withSignedDigest(headerExtractor("github", 96*time.Hour, "X-GitHub-Delivery"), false)
}

// withSignedDigest keys ex's records on its id AND a digest of what the
// sender signs, for senders whose signature does not cover the header
// carrying the id: the body, and with url the request URI too. A forged
// delivery pairing a captured signed request with a real event's id then
// names another record than that event's, and cannot mark it handled.
func withSignedDigest(ex Extractor, url bool) Extractor {
	byHeader := ex.ID
	ex.ID = func(r *http.Request, body []byte) (string, error) {
		id, err := byHeader(r, body)
		if err != nil {
			return "", err
		}
		h := sha256.New()
		if url {
			h.Write([]byte(r.URL.RequestURI()))
			h.Write([]byte{0})
		}
		h.Write(body)
		return id + "." + hex.EncodeToString(h.Sum(nil)[:12]), nil
	}
	return ex
}

// Shopify extracts "X-Shopify-Event-Id", falling back to the older
// "X-Shopify-Webhook-Id". Deliveries of the same event to several
// subscriptions on one endpoint share the event id and are handled once;
// build an extractor with Func that adds "X-Shopify-Topic" to tell them
// apart. Shopify retries for about 4 hours (UNCONFIRMED for every plan);
// records are kept 48 h. Shopify's HMAC signs the body only, so, as for
// GitHub, the record is keyed on the id and a digest of the body.
func Shopify() Extractor {
	return withSignedDigest(headerExtractor("shopify", 48*time.Hour, "X-Shopify-Event-Id", "X-Shopify-Webhook-Id"), false)
}

// Twilio extracts the "I-Twilio-Idempotency-Token" header, kept by Twilio
// across retries of one callback. Twilio retries within minutes; records are
// kept 24 h. Twilio's signature covers the URL and the form parameters, not
// this header, so the record is keyed on the token and a digest of the
// request URI (its query holds the parameters of a GET webhook) and the
// body. Verify the signature in front of Dedup without consuming the body
// (or put it back), so that the digest covers what was signed.
func Twilio() Extractor {
	return withSignedDigest(headerExtractor("twilio", 24*time.Hour, "I-Twilio-Idempotency-Token"), true)
}

// SendGrid de-duplicates SendGrid Event Webhook batches: a JSON array of
// events, each identified by its "sg_event_id". SendGrid retries a failed
// batch for up to 24 hours; records are kept 48 h.
func SendGrid() Extractor {
	return JSONArray("sendgrid", "sg_event_id", 48*time.Hour)
}

// Header extracts the id from the first non-empty of the named headers. Use
// it only for a header the sender's signature covers: otherwise a captured
// signed payload sent under a real event's id would mark that event handled
// (see GitHub for the way around it, which Func can build).
func Header(sender string, names ...string) Extractor {
	return headerExtractor(sender, 0, names...)
}

// Func extracts the id with fn, for senders without a constructor here.
func Func(sender string, fn func(r *http.Request, body []byte) (string, error)) Extractor {
	return Extractor{Sender: sender, ID: fn}
}

// JSONArray de-duplicates batch deliveries whose body is a JSON array of
// objects, each identified by the string field named field.
func JSONArray(sender, field string, ttl time.Duration) Extractor {
	return Extractor{Sender: sender, TTL: ttl, Batch: jsonArrayEvents(field)}
}

func headerExtractor(sender string, ttl time.Duration, names ...string) Extractor {
	return Extractor{Sender: sender, TTL: ttl, ID: func(r *http.Request, _ []byte) (string, error) {
		for _, name := range names {
			if v := r.Header.Get(name); v != "" {
				return v, nil
			}
		}
		return "", fmt.Errorf("%w: none of the headers %q", ErrMissingID, names)
	}}
}

// jsonFieldID reads the string field named field of a JSON object body.
func jsonFieldID(field string) func(*http.Request, []byte) (string, error) {
	return func(_ *http.Request, body []byte) (string, error) {
		var object map[string]json.RawMessage
		if err := json.Unmarshal(body, &object); err != nil {
			return "", fmt.Errorf("%w: body is not a JSON object: %v", ErrMissingID, err)
		}
		id := stringField(object, field)
		if id == "" {
			return "", fmt.Errorf("%w: no string %q field in the JSON body", ErrMissingID, field)
		}
		return id, nil
	}
}

// jsonArrayEvents splits a JSON array of objects into events identified by field.
func jsonArrayEvents(field string) func(*http.Request, []byte) ([]Event, error) {
	return func(_ *http.Request, body []byte) ([]Event, error) {
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, fmt.Errorf("webhook: batch body is not a JSON array: %w", err)
		}
		events := make([]Event, len(items))
		for i, item := range items {
			var object map[string]json.RawMessage
			if err := json.Unmarshal(item, &object); err != nil {
				return nil, fmt.Errorf("webhook: batch item %d is not a JSON object: %w", i, err)
			}
			events[i] = Event{ID: stringField(object, field), Raw: item}
		}
		return events, nil
	}
}

// stringField returns the string value of field, or "" when it is absent or
// not a string.
func stringField(object map[string]json.RawMessage, field string) string {
	var s string
	if raw, ok := object[field]; !ok || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// checkID rejects ids that are too long or hold control characters.
func checkID(id string) error {
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: %d bytes, over %d", ErrInvalidID, len(id), MaxIDLength)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidID)
	}
	for _, c := range id {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: holds control characters", ErrInvalidID)
		}
	}
	return nil
}
