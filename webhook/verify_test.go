package webhook_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"github.com/idemhttp/idemhttp/webhook"
)

// echo answers with the body it was given, proving the verifier left it readable.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write(b)
})

// check runs one request through mw in front of echo.
func check(t *testing.T, mw func(http.Handler) http.Handler, header http.Header, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	mw(echo).ServeHTTP(w, r)
	return w
}

// expectOutcome checks a verifier's answer: passed through with the body
// intact, or refused with 400 mentioning want.
func expectOutcome(t *testing.T, w *httptest.ResponseRecorder, body []byte, want error) {
	t.Helper()
	if want == nil {
		if w.Code != http.StatusOK || w.Body.String() != string(body) {
			t.Fatalf("want accepted with the body intact, got %d %q", w.Code, w.Body.String())
		}
		return
	}
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), want.Error()) {
		t.Fatalf("want 400 %q, got %d %q", want, w.Code, w.Body.String())
	}
}

// The test vector published with the Standard Webhooks reference libraries
// (libraries/go/webhook_test.go, TestWebhookSign), also recomputed with
// Python's hmac module when this test was written.
const (
	standardSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	standardMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	standardTimestamp = 1614265330
	standardPayload   = `{"test": 2432232314}`
	standardSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignStandardMatchesThePublishedVector(t *testing.T) {
	for _, secret := range []string{standardSecret, strings.TrimPrefix(standardSecret, "whsec_")} {
		got, err := webhook.SignStandard(secret, standardMsgID, time.Unix(standardTimestamp, 0), []byte(standardPayload))
		if err != nil || got != standardSignature {
			t.Fatalf("SignStandard(%q) = %q, %v; want %q", secret, got, err, standardSignature)
		}
	}
}

func TestVerifyStandard(t *testing.T) {
	signedAt := time.Unix(standardTimestamp, 0)
	headers := func() http.Header {
		return http.Header{
			"Webhook-Id":        {standardMsgID},
			"Webhook-Timestamp": {strconv.Itoa(standardTimestamp)},
			"Webhook-Signature": {standardSignature},
		}
	}
	otherSig := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	cases := []struct {
		name    string
		modify  func(h http.Header)
		now     time.Time
		payload string
		want    error
	}{
		{"published vector", nil, signedAt, standardPayload, nil},
		{"missing id", func(h http.Header) { h.Del("Webhook-Id") }, signedAt, standardPayload, webhook.ErrNoSignature},
		{"missing timestamp", func(h http.Header) { h.Del("Webhook-Timestamp") }, signedAt, standardPayload, webhook.ErrNoSignature},
		{"missing signature", func(h http.Header) { h.Del("Webhook-Signature") }, signedAt, standardPayload, webhook.ErrNoSignature},
		{"invalid signature", func(h http.Header) { h.Set("Webhook-Signature", otherSig) }, signedAt, standardPayload, webhook.ErrInvalidSignature},
		{"several signatures, one valid", func(h http.Header) {
			h.Set("Webhook-Signature", strings.Join([]string{otherSig, "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", standardSignature, "v1a,xyz"}, " "))
		}, signedAt, standardPayload, nil},
		{"valid signature under another version", func(h http.Header) {
			h.Set("Webhook-Signature", strings.Replace(standardSignature, "v1,", "v2,", 1))
		}, signedAt, standardPayload, webhook.ErrInvalidSignature},
		{"another id", func(h http.Header) { h.Set("Webhook-Id", "msg_other") }, signedAt, standardPayload, webhook.ErrInvalidSignature},
		{"another timestamp", func(h http.Header) { h.Set("Webhook-Timestamp", strconv.Itoa(standardTimestamp+1)) }, signedAt, standardPayload, webhook.ErrInvalidSignature},
		{"timestamp not a number", func(h http.Header) { h.Set("Webhook-Timestamp", "yesterday") }, signedAt, standardPayload, webhook.ErrInvalidSignature},
		{"tampered payload", nil, signedAt, `{"test": 2432232315}`, webhook.ErrInvalidSignature},
		{"too old", nil, signedAt.Add(webhook.DefaultTolerance + time.Second), standardPayload, webhook.ErrTimestampOutOfRange},
		{"too new", nil, signedAt.Add(-webhook.DefaultTolerance - time.Second), standardPayload, webhook.ErrTimestampOutOfRange},
		{"at the edge of the tolerance", nil, signedAt.Add(webhook.DefaultTolerance), standardPayload, nil},
		{"svix headers", func(h http.Header) {
			for _, name := range []string{"Id", "Timestamp", "Signature"} {
				h.Set("Svix-"+name, h.Get("Webhook-"+name))
				h.Del("Webhook-" + name)
			}
		}, signedAt, standardPayload, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			verify, err := webhook.VerifyStandard(standardSecret, webhook.WithClock(func() time.Time { return tc.now }))
			if err != nil {
				t.Fatal(err)
			}
			h := headers()
			if tc.modify != nil {
				tc.modify(h)
			}
			expectOutcome(t, check(t, verify, h, []byte(tc.payload)), []byte(tc.payload), tc.want)
		})
	}
}

func TestVerifyConstructorsRefuseUnusableSecrets(t *testing.T) {
	for name, build := range map[string]func() error{
		"stripe empty":        func() error { _, err := webhook.VerifyStripe(""); return err },
		"github empty":        func() error { _, err := webhook.VerifyGitHub(""); return err },
		"standard empty":      func() error { _, err := webhook.VerifyStandard("whsec_"); return err },
		"standard not base64": func() error { _, err := webhook.VerifyStandard("whsec_not base64!"); return err },
		"sign not base64":     func() error { _, err := webhook.SignStandard("%%%", "id", time.Now(), nil); return err },
	} {
		if err := build(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestVerifyStripeAgreesWithStripeGo(t *testing.T) {
	const secret = "whsec_test_secret_for_idemhttp"
	payload := stripeEvent("evt_crosscheck")
	verify, err := webhook.VerifyStripe(secret)
	if err != nil {
		t.Fatal(err)
	}
	// stripe-go signs, we verify.
	signed := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: payload, Secret: secret})
	expectOutcome(t, check(t, verify, http.Header{"Stripe-Signature": {signed.Header}}, payload), payload, nil)
	// We sign, stripe-go verifies.
	ours := webhook.SignStripe(secret, time.Now(), payload)
	if ours != signed.Header && signed.Timestamp.Unix() == time.Now().Unix() {
		t.Fatalf("same second, different headers: ours %q, stripe-go %q", ours, signed.Header)
	}
	if err := stripewebhook.ValidatePayload(payload, ours, secret); err != nil {
		t.Fatalf("stripe-go refuses our signature: %v", err)
	}
	if err := stripewebhook.ValidatePayload(payload, webhook.SignStripe("whsec_other", time.Now(), payload), secret); err == nil {
		t.Fatal("stripe-go accepts a signature made with another secret: the cross-check proves nothing")
	}
}

func TestVerifyStripe(t *testing.T) {
	const secret = "whsec_test_secret_for_idemhttp"
	signedAt := time.Unix(1_700_000_000, 0)
	payload := stripeEvent("evt_v")
	valid := webhook.SignStripe(secret, signedAt, payload)
	_, v1, _ := strings.Cut(valid, ",v1=")
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	forged := webhook.SignStripe("whsec_attacker", signedAt, payload)
	_, forgedV1, _ := strings.Cut(forged, ",v1=")
	cases := []struct {
		name    string
		header  string
		now     time.Time
		payload []byte
		want    error
	}{
		{"valid", valid, signedAt, payload, nil},
		{"rolling secrets: several v1, one valid", "t=" + ts + ",v1=" + forgedV1 + ",v1=" + v1 + ",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39", signedAt, payload, nil},
		{"only a v0 signature", "t=" + ts + ",v0=" + v1, signedAt, payload, webhook.ErrInvalidSignature},
		{"another secret", forged, signedAt, payload, webhook.ErrInvalidSignature},
		{"tampered payload", valid, signedAt, stripeEvent("evt_w"), webhook.ErrInvalidSignature},
		{"timestamp changed", "t=" + strconv.FormatInt(signedAt.Unix()+1, 10) + ",v1=" + v1, signedAt, payload, webhook.ErrInvalidSignature},
		{"no header", "", signedAt, payload, webhook.ErrNoSignature},
		{"no timestamp", "v1=" + v1, signedAt, payload, webhook.ErrInvalidSignature},
		{"signature not hex", "t=" + ts + ",v1=zz", signedAt, payload, webhook.ErrInvalidSignature},
		{"garbage", "hello", signedAt, payload, webhook.ErrInvalidSignature},
		{"too old", valid, signedAt.Add(webhook.DefaultTolerance + time.Second), payload, webhook.ErrTimestampOutOfRange},
		{"from the future", valid, signedAt.Add(-webhook.DefaultTolerance - time.Second), payload, webhook.ErrTimestampOutOfRange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			verify, err := webhook.VerifyStripe(secret, webhook.WithClock(func() time.Time { return tc.now }))
			if err != nil {
				t.Fatal(err)
			}
			expectOutcome(t, check(t, verify, http.Header{"Stripe-Signature": {tc.header}}, tc.payload), tc.payload, tc.want)
		})
	}
	t.Run("wider tolerance", func(t *testing.T) {
		verify, _ := webhook.VerifyStripe(secret, webhook.WithTolerance(time.Hour), webhook.WithClock(func() time.Time { return signedAt.Add(30 * time.Minute) }))
		expectOutcome(t, check(t, verify, http.Header{"Stripe-Signature": {valid}}, payload), payload, nil)
	})
}

func TestVerifyGitHubMatchesThePublishedExample(t *testing.T) {
	// The example in GitHub's "Validating webhook deliveries" documentation,
	// also recomputed with openssl when this test was written.
	const secret, payload = "It's a Secret to Everybody", "Hello, World!"
	const signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := webhook.SignGitHub(secret, []byte(payload)); got != signature {
		t.Fatalf("SignGitHub = %q, want %q", got, signature)
	}
	verify, err := webhook.VerifyGitHub(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		header, payload string
		want            error
	}{
		{signature, payload, nil},
		{signature, "Hello, World?", webhook.ErrInvalidSignature},
		{strings.TrimPrefix(signature, "sha256="), payload, webhook.ErrInvalidSignature},
		{"sha256=xyz", payload, webhook.ErrInvalidSignature},
		{"", payload, webhook.ErrNoSignature},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("X-Hub-Signature-256", tc.header)
		}
		expectOutcome(t, check(t, verify, h, []byte(tc.payload)), []byte(tc.payload), tc.want)
	}
}

func TestVerifierBoundsTheBody(t *testing.T) {
	verify, _ := webhook.VerifyGitHub("s", webhook.WithVerifyMaxBodyBytes(8))
	payload := []byte("123456789")
	w := check(t, verify, http.Header{"X-Hub-Signature-256": {webhook.SignGitHub("s", payload)}}, payload)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), webhook.ErrBodyTooLarge.Error()) {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
}
