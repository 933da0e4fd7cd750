package idemhttp_test

// Regression tests for fingerprints: one operation refused as another after
// an upgrade or a harmless change, and two operations answered as one.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/providers"
)

// stubBase answers every request 201 with "fresh:" and the body it got,
// counting them.
type stubBase struct{ sent atomic.Int32 }

func (s *stubBase) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	req.Body.Close()
	s.sent.Add(1)
	return &http.Response{StatusCode: 201, Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(strings.NewReader("fresh:" + string(b))), Request: req}, nil
}

// stubDo sends req and returns the answer's body.
func stubDo(t *testing.T, rt http.RoundTripper, req *http.Request) (string, error) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}

// storeWithRecord is a memory store holding one completed operation under
// recordKey and fingerprint, as an earlier version of idemhttp recorded it.
func storeWithRecord(t *testing.T, recordKey, fingerprint string) *cache.Memory {
	t.Helper()
	m := cache.NewMemory()
	ctx := context.Background()
	c, err := m.Claim(ctx, recordKey, fingerprint, time.Minute)
	if err != nil || c.Outcome != cache.Acquired {
		t.Fatalf("claim: %v %v", c.Outcome, err)
	}
	e := &cache.Entry{Status: 201, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("recorded-by-previous-release"), StoredAt: time.Now()}
	if err := m.Complete(ctx, recordKey, c.Token, e, time.Hour); err != nil {
		t.Fatal(err)
	}
	return m
}

// Square, with the caller's own key in the body: the field is the key, in
// the record key already, so the body is fingerprinted as sent. Leaving the
// field out (as for a key given with WithKey, which the Transport writes
// over it) changed every such fingerprint: a payment recorded before was
// refused with ErrKeyReused after the upgrade instead of replayed. The
// record key and fingerprint below are those of the version before.
func TestSquareCallerBodyKeyFingerprintUnchanged(t *testing.T) {
	const (
		body        = `{"idempotency_key":"pay-order-42","amount_money":{"amount":1000,"currency":"USD"},"source_id":"cnon:1"}`
		recordKey   = "square/6e340b9cffb37a98/pay-order-42"
		fingerprint = "427420e6db610c63629e6aecb7a8dd80" // as the version before computed it
	)
	stub := &stubBase{}
	tr := idemhttp.New(idemhttp.WithProviders(providers.Square()), idemhttp.WithPolicy(testPolicy()),
		idemhttp.WithBase(stub), idemhttp.WithStore(storeWithRecord(t, recordKey, fingerprint)))
	req := newBodyRequest(t, "POST", "https://connect.squareup.com/v2/payments", jsonType, body)
	got, err := stubDo(t, tr, req)
	if err != nil || got != "recorded-by-previous-release" {
		t.Errorf("retry after upgrade of a Square payment keyed in its body: got %q, err %v; want the previous release's record replayed (sent %d)", got, err, stub.sent.Load())
	}
}

// A ValidationFields route, the key field present, the validation field
// absent: the fingerprint stays that of the (absent) validation fields. The
// whole-body fallback for a body with none of the key fields, applied to
// ValidationFields too, changed it: records of the version before were
// refused, and so was a reworded body within one version.
func ordersWithValidation() providers.Provider {
	p := providers.Generic()
	p.Routes = []providers.Route{{Method: "POST", Path: "/v1/orders", KeyFields: []string{"/order_id"}, ValidationFields: []string{"/amount"}}}
	return p
}

func TestValidationFieldsAbsentFingerprintUnchanged(t *testing.T) {
	const (
		recordKey   = "generic/96a296d224f285c6/v1-9305bc52ce3bcc4bae2bad42a57bb3509631dc3b"
		fingerprint = "bc83a25d0f5b8e6c6277846f4f154dc5" // as the version before computed it
	)
	stub := &stubBase{}
	tr := idemhttp.New(idemhttp.WithProviders(ordersWithValidation()), idemhttp.WithPolicy(testPolicy()),
		idemhttp.WithBase(stub), idemhttp.WithStore(storeWithRecord(t, recordKey, fingerprint)))
	req := newBodyRequest(t, "POST", "https://api.example.com/v1/orders", jsonType, `{"order_id":"o-42","note":"ship fast"}`)
	got, err := stubDo(t, tr, req)
	if err != nil || got != "recorded-by-previous-release" {
		t.Errorf("retry after upgrade: got %q, err %v; want the previous release's record replayed (sent %d)", got, err, stub.sent.Load())
	}
}

// Within one version: on a KeyFields route a request that changes only
// fields that are neither key nor validation fields replays (DeriveKey),
// also when the validation field is absent.
func TestValidationFieldsAbsentRewordReplays(t *testing.T) {
	stub := &stubBase{}
	tr := idemhttp.New(idemhttp.WithProviders(ordersWithValidation()), idemhttp.WithPolicy(testPolicy()), idemhttp.WithBase(stub))
	first, err := stubDo(t, tr, newBodyRequest(t, "POST", "https://api.example.com/v1/orders", jsonType, `{"order_id":"o-42","note":"ship fast"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := stubDo(t, tr, newBodyRequest(t, "POST", "https://api.example.com/v1/orders", jsonType, `{"order_id":"o-42","note":"please ship fast"}`))
	if errors.Is(err, idemhttp.ErrKeyReused) || got != first {
		t.Errorf("reworded note, same order_id, no validation field in either: got %q, err %v; want the replay of %q", got, err, first)
	}
}

func lossyPairNeverReplayed(t *testing.T, p providers.Provider, a, b string) {
	t.Helper()
	stub := &stubBase{}
	tr := idemhttp.New(idemhttp.WithProviders(p), idemhttp.WithPolicy(testPolicy()), idemhttp.WithBase(stub))
	if _, err := stubDo(t, tr, newBodyRequest(t, "POST", "https://api.example.com/v1/payouts", jsonType, a)); err != nil {
		t.Fatal(err)
	}
	got, err := stubDo(t, tr, newBodyRequest(t, "POST", "https://api.example.com/v1/payouts", jsonType, b))
	if errors.Is(err, idemhttp.ErrKeyReused) {
		return // refused: fine
	}
	if err != nil {
		t.Fatal(err)
	}
	if got != "fresh:"+b {
		t.Errorf("%s was answered with %q (the first operation's response; sent %d)", b, got, stub.sent.Load())
	}
}

// On a route with KeyFields and ValidationFields, a body with none of the
// key fields is keyed on the whole body, numbers as doubles. Its
// fingerprint stayed on the ValidationFields: two bodies whose numbers
// round to the same double shared key and fingerprint, and the second was
// answered with the first one's response. It is now fingerprinted whole,
// with exact numbers.
func TestKeyFieldsAbsentLossyNumbersNotReplayed(t *testing.T) {
	p := providers.Generic()
	p.Routes = []providers.Route{{Method: "POST", Path: "/v1/payouts", KeyFields: []string{"/payout_ref"}, ValidationFields: []string{"/currency"}}}
	lossyPairNeverReplayed(t, p,
		`{"destination":9007199254740993,"amount":500000,"currency":"usd"}`,
		`{"destination":9007199254740992,"amount":500000,"currency":"usd"}`)
}

// The same for a key field holding a 64-bit id that rounds, with
// ValidationFields naming something else: the fingerprint now holds the key
// fields' exact values too.
func TestLossyKeyFieldWithValidationFieldsNotReplayed(t *testing.T) {
	p := providers.Generic()
	p.Routes = []providers.Route{{Method: "POST", Path: "/v1/payouts", KeyFields: []string{"/destination"}, ValidationFields: []string{"/currency"}}}
	lossyPairNeverReplayed(t, p,
		`{"destination":9007199254740993,"amount":500000,"currency":"usd"}`,
		`{"destination":9007199254740992,"amount":500000,"currency":"usd"}`)
}

// With the caller's key in the body (Square), the body is fingerprinted as
// sent. Fingerprinted after an encoding/json round trip (to leave the key
// field out), duplicate members collapsed, last wins: two bodies that a
// server whose parser takes the first duplicate reads as two keys shared
// record key and fingerprint.
func TestCallerBodyKeyDuplicateMembersNotCollapsed(t *testing.T) {
	stub := &stubBase{}
	tr := idemhttp.New(idemhttp.WithProviders(providers.Square()), idemhttp.WithPolicy(testPolicy()), idemhttp.WithBase(stub))
	a := `{"idempotency_key":"pay-A","amount_money":{"amount":1000,"currency":"USD"},"source_id":"cnon:1","idempotency_key":"pay-Z"}`
	b := `{"idempotency_key":"pay-B","amount_money":{"amount":1000,"currency":"USD"},"source_id":"cnon:1","idempotency_key":"pay-Z"}`
	if _, err := stubDo(t, tr, newBodyRequest(t, "POST", "https://connect.squareup.com/v2/payments", jsonType, a)); err != nil {
		t.Fatal(err)
	}
	got, err := stubDo(t, tr, newBodyRequest(t, "POST", "https://connect.squareup.com/v2/payments", jsonType, b))
	if errors.Is(err, idemhttp.ErrKeyReused) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if got != "fresh:"+b {
		t.Errorf("body %s was answered with %q, never sent (sent %d)", b, got, stub.sent.Load())
	}
}

// On a ValidationFields route, a number the key rounded is added to the
// fingerprint only when it is in a key field. Added whenever the document
// held such a number anywhere (in a validation field, exact already, or in
// a field that is neither), it changed fingerprints: records of the version
// before, computed below, were refused after the upgrade.
func TestLossyOutsideKeyFieldsFingerprintUnchanged(t *testing.T) {
	const recordKey = "generic/96a296d224f285c6/v1-9305bc52ce3bcc4bae2bad42a57bb3509631dc3b"
	for _, c := range []struct{ name, body, fingerprint string }{
		// A 64-bit id outside key and validation fields.
		{"lossy-other-field", `{"order_id":"o-42","amount":100,"customer":{"id":12345678901234567891}}`, "19ffcbe1050ea6dbc5433172c1b84090"},
		// A rounded number in the validation field (already exact in the
		// ValidationFields fingerprint).
		{"lossy-validation-field", `{"order_id":"o-42","amount":100.00000000000000001}`, "5bd24472332cd5bb6a109cf74e768a12"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stub := &stubBase{}
			tr := idemhttp.New(idemhttp.WithProviders(ordersWithValidation()), idemhttp.WithPolicy(testPolicy()),
				idemhttp.WithBase(stub), idemhttp.WithStore(storeWithRecord(t, recordKey, c.fingerprint)))
			got, err := stubDo(t, tr, newBodyRequest(t, "POST", "https://api.example.com/v1/orders", jsonType, c.body))
			if err != nil || got != "recorded-by-previous-release" {
				t.Errorf("retry after upgrade: got %q, err %v; want the previous release's record replayed (sent %d)", got, err, stub.sent.Load())
			}
		})
	}
}

// Within one version, for the same reason: a change to a field that is
// neither a key nor a validation field replays, also when that field held a
// 64-bit id; it was refused with ErrKeyReused.
func TestLossyIgnoredFieldDoesNotSplitFingerprint(t *testing.T) {
	stub := &stubBase{}
	tr := idemhttp.New(idemhttp.WithProviders(ordersWithValidation()), idemhttp.WithPolicy(testPolicy()), idemhttp.WithBase(stub))
	a := `{"order_id":"o-42","amount":100,"customer":{"id":12345678901234567891}}`
	b := `{"order_id":"o-42","amount":100,"customer":{"id":7}}`
	first, err := stubDo(t, tr, newBodyRequest(t, "POST", "https://api.example.com/v1/orders", jsonType, a))
	if err != nil {
		t.Fatal(err)
	}
	got, err := stubDo(t, tr, newBodyRequest(t, "POST", "https://api.example.com/v1/orders", jsonType, b))
	if errors.Is(err, idemhttp.ErrKeyReused) || got != first {
		t.Errorf("same order_id and amount, only an ignored field changed: got %q, err %v; want the replay of %q", got, err, first)
	}
}

// On a route with KeyFields and ValidationFields, a body keyed whole because
// its fields cannot be read (JSON that does not parse, text, multipart, an
// empty body) keeps the fingerprint of its ValidationFields encoding, which
// for such a body is the whole body. It had moved to the key's: records of
// the version before, computed below, were refused after the upgrade.
func TestWholeBodyValidationRouteFingerprintUnchanged(t *testing.T) {
	for _, c := range []struct{ name, ct, body, recordKey, fingerprint string }{
		{"json-unparseable", jsonType, `{"order_id":"o-42","amount":100`,
			"generic/96a296d224f285c6/v1-a2a6add8113a909d4ae925cf0a324328f8e86cd9", "e7580c47d1e80ab2212f8938dc19bce2"},
		{"text", "text/plain", `order o-42 amount 100`,
			"generic/96a296d224f285c6/v1-7dec661121f748b387ff053827f78117a55ce68d", "3be9df82a3dc06bd51fa8e84fef66966"},
		{"multipart", "multipart/form-data; boundary=XyZ", "--XyZ\r\nContent-Disposition: form-data; name=\"order_id\"\r\n\r\no-42\r\n--XyZ--\r\n",
			"generic/96a296d224f285c6/v1-f0b0f88a902605818f988493a4bef09c48f2008e", "618dd498174fdf624bf0556578b0e02e"},
		{"empty-json", jsonType, ``,
			"generic/96a296d224f285c6/v1-a0112e44f1be9fd44ee700891a67035537cca489", "1e57b933b0a78203e21d41cc4b16d731"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stub := &stubBase{}
			tr := idemhttp.New(idemhttp.WithProviders(ordersWithValidation()), idemhttp.WithPolicy(testPolicy()),
				idemhttp.WithBase(stub), idemhttp.WithStore(storeWithRecord(t, c.recordKey, c.fingerprint)))
			got, err := stubDo(t, tr, newBodyRequest(t, "POST", "https://api.example.com/v1/orders", c.ct, c.body))
			if err != nil || got != "recorded-by-previous-release" {
				t.Errorf("retry after upgrade: got %q, err %v; want the previous release's record replayed (sent %d)", got, err, stub.sent.Load())
			}
		})
	}
}
