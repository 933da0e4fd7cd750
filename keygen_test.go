package idemhttp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/providers"
)

// reqSpec describes one request for key derivation.
type reqSpec struct {
	method, url, contentType, body string
	scope                          string            // WithScope when non-empty
	header                         map[string]string // extra request headers
}

// build returns the request spec describes, with a body that has GetBody.
func (s reqSpec) build(t testing.TB) *http.Request {
	t.Helper()
	method := s.method
	if method == "" {
		method = http.MethodPost
	}
	ctx := context.Background()
	if s.scope != "" {
		ctx = idemhttp.WithScope(ctx, s.scope)
	}
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url, body)
	if err != nil {
		t.Fatal(err)
	}
	if s.contentType != "" {
		req.Header.Set("Content-Type", s.contentType)
	}
	for k, v := range s.header {
		req.Header.Set(k, v)
	}
	return req
}

// deriveKey returns DeriveKey of req for p, failing the test on error.
func deriveKey(t testing.TB, req *http.Request, p providers.Provider) string {
	t.Helper()
	key, err := idemhttp.DeriveKey(req, &p)
	if err != nil {
		t.Fatalf("DeriveKey(%s %s): %v", req.Method, req.URL, err)
	}
	return key
}

// keyOf derives the key of a request spec for p.
func keyOf(t testing.TB, s reqSpec, p providers.Provider) string {
	t.Helper()
	return deriveKey(t, s.build(t), p)
}

// multipartBody encodes fields (name, value pairs) and one file part with a
// fresh random boundary, returning the content type and body.
func multipartBody(t testing.TB, fields [][2]string, fileName, fileContent string) (contentType, body, boundary string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := w.CreateFormFile("file", fileName)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, fileContent)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.String(), w.Boundary()
}

const (
	jsonCT = "application/json"
	formCT = "application/x-www-form-urlencoded"
	apiURL = "https://api.example.com/v1/orders"
)

func TestDeriveKeyInvariance(t *testing.T) {
	mpType1, mpBody1, boundary1 := multipartBody(t, [][2]string{{"purpose", "dispute_evidence"}, {"note", "a\r\nb"}}, "receipt.pdf", "%PDF-1.4 bytes")
	mpType2, mpBody2, boundary2 := multipartBody(t, [][2]string{{"purpose", "dispute_evidence"}, {"note", "a\r\nb"}}, "receipt.pdf", "%PDF-1.4 bytes")
	if boundary1 == boundary2 || mpBody1 == mpBody2 {
		t.Fatalf("multipart writers chose the same boundary %q: the test proves nothing", boundary1)
	}
	tests := []struct {
		name string
		p    providers.Provider
		a, b reqSpec
	}{
		{"JSON member order", providers.Generic(),
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"a":1,"b":{"x":true,"y":null},"c":[1,2]}`},
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"c":[1,2],"b":{"y":null,"x":true},"a":1}`}},
		{"JSON whitespace", providers.Generic(),
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"a":[1,2],"b":"x y"}`},
			reqSpec{url: apiURL, contentType: jsonCT, body: " {\n\t\"a\" : [ 1 ,\r\n 2 ] ,\"b\":\"x y\" }\n"}},
		{"JSON 1.0 vs 1", providers.Generic(),
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"n":1.0}`},
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"n":1}`}},
		{"JSON 1e0 vs 1", providers.Generic(),
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"n":1e0}`},
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"n":1}`}},
		{"JSON 10e-1 vs 1", providers.Generic(),
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"n":10e-1}`},
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"n":1}`}},
		{"JSON 1E2 vs 100", providers.Generic(),
			reqSpec{url: apiURL, contentType: jsonCT, body: `[1E2,-0,0.50]`},
			reqSpec{url: apiURL, contentType: jsonCT, body: `[100,0,0.5]`}},
		{`JSON \u0041 vs A`, providers.Generic(),
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"\u0041":"\u0041BC"}`},
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"A":"ABC"}`}},
		{`JSON \/ vs /`, providers.Generic(),
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"url":"https:\/\/x.test\/a"}`},
			reqSpec{url: apiURL, contentType: jsonCT, body: `{"url":"https://x.test/a"}`}},
		{"JSON media type parameters and +json", providers.Generic(),
			reqSpec{url: apiURL, contentType: "application/merge-patch+json; charset=utf-8", body: `{"a": 1}`},
			reqSpec{url: apiURL, contentType: "Application/JSON", body: `{"a":1}`}},
		{"form field order", providers.Stripe(),
			reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "a=1&b=2"},
			reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "b=2&a=1"}},
		{"form escapes", providers.Stripe(),
			reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "description=order+42&metadata%5Bk%5D=v"},
			reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "metadata[k]=v&description=order%2042"}},
		{"query parameter order", providers.Generic(),
			reqSpec{url: apiURL + "?expand=items&limit=3", contentType: jsonCT, body: `{}`},
			reqSpec{url: apiURL + "?limit=3&expand=items", contentType: jsonCT, body: `{}`}},
		{"multipart boundary", providers.Stripe(),
			reqSpec{url: "https://files.stripe.com/v1/files", contentType: mpType1, body: mpBody1},
			reqSpec{url: "https://files.stripe.com/v1/files", contentType: mpType2, body: mpBody2}},
		{"host case and default https port", providers.Stripe(),
			reqSpec{url: "https://API.Stripe.com:443/v1/charges", contentType: formCT, body: "a=1"},
			reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "a=1"}},
		{"default http port", providers.Generic(),
			reqSpec{url: "http://orders.test:80/orders", contentType: jsonCT, body: `{}`},
			reqSpec{url: "http://orders.test/orders", contentType: jsonCT, body: `{}`}},
		{"scheme case", providers.Generic(),
			reqSpec{url: "HTTPS://orders.test/orders", contentType: jsonCT, body: `{}`},
			reqSpec{url: "https://orders.test/orders", contentType: jsonCT, body: `{}`}},
		// DeriveKey documents "host (default port dropped)": an IPv6 literal
		// host is a host too.
		{"IPv6 host default port", providers.Generic(),
			reqSpec{url: "https://[2001:db8::1]:443/orders", contentType: jsonCT, body: `{}`},
			reqSpec{url: "https://[2001:db8::1]/orders", contentType: jsonCT, body: `{}`}},
		{"headers other than the key do not matter", providers.Stripe(),
			reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "a=1", header: map[string]string{"User-Agent": "one", "Authorization": "Bearer a"}},
			reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "a=1", header: map[string]string{"User-Agent": "two", "Authorization": "Bearer b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := keyOf(t, tt.a, tt.p), keyOf(t, tt.b, tt.p)
			if ka != kb {
				t.Errorf("keys differ for equivalent requests:\n  %s %q -> %s\n  %s %q -> %s", tt.a.url, tt.a.body, ka, tt.b.url, tt.b.body, kb)
			}
		})
	}
}

func TestDeriveKeySensitivity(t *testing.T) {
	base := reqSpec{url: apiURL + "?expand=items", contentType: jsonCT,
		body: `{"amount":100,"customer":{"name":"Ada","tags":["a","b"]},"items":[1,2]}`}
	with := func(change func(*reqSpec)) reqSpec {
		s := base
		change(&s)
		return s
	}
	generic := providers.Generic()
	renamed := providers.Generic()
	renamed.Name = "generic2"
	tests := []struct {
		name string
		p    providers.Provider
		s    reqSpec
	}{
		{"number", generic, with(func(s *reqSpec) { s.body = strings.Replace(s.body, "100", "101", 1) })},
		{"number type", generic, with(func(s *reqSpec) { s.body = strings.Replace(s.body, "100", `"100"`, 1) })},
		{"nested string", generic, with(func(s *reqSpec) { s.body = strings.Replace(s.body, `"Ada"`, `"Ada "`, 1) })},
		{"nested array order", generic, with(func(s *reqSpec) { s.body = strings.Replace(s.body, `["a","b"]`, `["b","a"]`, 1) })},
		{"array order", generic, with(func(s *reqSpec) { s.body = strings.Replace(s.body, `[1,2]`, `[2,1]`, 1) })},
		{"member name", generic, with(func(s *reqSpec) { s.body = strings.Replace(s.body, `"items"`, `"item"`, 1) })},
		{"extra member", generic, with(func(s *reqSpec) { s.body = strings.Replace(s.body, `"items"`, `"x":null,"items"`, 1) })},
		{"path", generic, with(func(s *reqSpec) { s.url = "https://api.example.com/v1/order?expand=items" })},
		{"path case", generic, with(func(s *reqSpec) { s.url = "https://api.example.com/v1/Orders?expand=items" })},
		{"method", generic, with(func(s *reqSpec) { s.method = http.MethodPatch })},
		{"host", generic, with(func(s *reqSpec) { s.url = "https://api2.example.com/v1/orders?expand=items" })},
		{"port", generic, with(func(s *reqSpec) { s.url = "https://api.example.com:8443/v1/orders?expand=items" })},
		{"scheme", generic, with(func(s *reqSpec) { s.url = "http://api.example.com/v1/orders?expand=items" })},
		{"query value", generic, with(func(s *reqSpec) { s.url = apiURL + "?expand=item" })},
		{"query removed", generic, with(func(s *reqSpec) { s.url = apiURL })},
		{"scope", generic, with(func(s *reqSpec) { s.scope = "session-b" })},
		{"body kind (same bytes, not JSON)", generic, with(func(s *reqSpec) { s.contentType = "text/plain" })},
		{"provider name", renamed, base},
	}
	baseKey := keyOf(t, base, generic)
	seen := map[string]string{baseKey: "base"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := keyOf(t, tt.s, tt.p)
			if prev, dup := seen[k]; dup {
				t.Errorf("key %s of %q equals the key of %q", k, tt.name, prev)
			}
			seen[k] = tt.name
		})
	}

	// Forms: a value and the order of a repeated field are meaningful.
	form := func(body string) string {
		return keyOf(t, reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: body}, providers.Stripe())
	}
	formKeys := map[string]string{}
	for _, body := range []string{"a=1&a=2&b=x", "a=2&a=1&b=x", "a=1&a=2&b=y", "a=1&a=2", "a=1&a=2&b=x&c="} {
		k := form(body)
		if prev, dup := formKeys[k]; dup {
			t.Errorf("form bodies %q and %q share key %s", body, prev, k)
		}
		formKeys[k] = body
	}

	// Multipart: a part's content matters, its boundary does not.
	mpType, mpBody, _ := multipartBody(t, [][2]string{{"purpose", "identity_document"}}, "id.png", "png-1")
	mpType2, mpBody2, _ := multipartBody(t, [][2]string{{"purpose", "identity_document"}}, "id.png", "png-2")
	files := "https://files.stripe.com/v1/files"
	if keyOf(t, reqSpec{url: files, contentType: mpType, body: mpBody}, providers.Stripe()) ==
		keyOf(t, reqSpec{url: files, contentType: mpType2, body: mpBody2}, providers.Stripe()) {
		t.Error("multipart bodies with different file content share a key")
	}
}

func TestDeriveKeyRepeatable(t *testing.T) {
	const body = `{"b":2,"a":1}`
	for _, withGetBody := range []bool{true, false} {
		req := reqSpec{url: apiURL, contentType: jsonCT, body: body}.build(t)
		if !withGetBody {
			// A body that reads once, as on a request built by hand.
			req.GetBody = nil
			req.Body = io.NopCloser(strings.NewReader(body))
		}
		first := deriveKey(t, req, providers.Generic())
		for range 3 {
			if k := deriveKey(t, req, providers.Generic()); k != first {
				t.Fatalf("GetBody=%v: DeriveKey changed from %s to %s on a repeated call", withGetBody, first, k)
			}
		}
		got, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != body {
			t.Errorf("GetBody=%v: body after DeriveKey reads %q, want %q", withGetBody, got, body)
		}
	}
}

func TestDeriveKeyExplicit(t *testing.T) {
	stripe := providers.Stripe()
	charge := reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "amount=1"}

	t.Run("WithKey wins over derivation and over a header", func(t *testing.T) {
		req := charge.build(t)
		req.Header.Set("Idempotency-Key", "from-header")
		req = req.WithContext(idemhttp.WithKey(req.Context(), "order-42-charge"))
		if k := deriveKey(t, req, stripe); k != "order-42-charge" {
			t.Errorf("key = %q, want the WithKey key", k)
		}
	})
	t.Run("header already set", func(t *testing.T) {
		req := charge.build(t)
		req.Header.Set("Idempotency-Key", "sdk-random-key")
		if k := deriveKey(t, req, stripe); k != "sdk-random-key" {
			t.Errorf("key = %q, want the header's key", k)
		}
	})
	t.Run("quoted IETF header parsed", func(t *testing.T) {
		ietf := providers.Generic()
		ietf.QuoteKey = true
		for _, key := range []string{"v1-abc", `with "quotes"`, `back\slash\`} {
			req := reqSpec{url: "https://orders.test/orders", contentType: jsonCT, body: `{}`}.build(t)
			req.Header.Set("Idempotency-Key", ietf.FormatKey(key))
			if k := deriveKey(t, req, ietf); k != key {
				t.Errorf("header %s: key = %q, want %q", req.Header.Get("Idempotency-Key"), k, key)
			}
		}
	})
	t.Run("Square body field", func(t *testing.T) {
		req := reqSpec{url: "https://connect.squareup.com/v2/payments", contentType: jsonCT,
			body: `{"amount_money":{"amount":100},"idempotency_key":"square-key-1"}`}.build(t)
		if k := deriveKey(t, req, providers.Square()); k != "square-key-1" {
			t.Errorf("key = %q, want the body's idempotency_key", k)
		}
	})
	t.Run("explicit key over the limit", func(t *testing.T) {
		square := providers.Square()
		req := reqSpec{url: "https://connect.squareup.com/v2/payments", contentType: jsonCT, body: `{}`}.build(t)
		req = req.WithContext(idemhttp.WithKey(req.Context(), strings.Repeat("k", square.MaxKeyLen+1)))
		if _, err := idemhttp.DeriveKey(req, &square); !errors.Is(err, idemhttp.ErrKeyTooLong) {
			t.Errorf("WithKey over MaxKeyLen: err = %v, want ErrKeyTooLong", err)
		}
		req = charge.build(t)
		req.Header.Set("Idempotency-Key", strings.Repeat("k", stripe.MaxKeyLen+1))
		if _, err := idemhttp.DeriveKey(req, &stripe); !errors.Is(err, idemhttp.ErrKeyTooLong) {
			t.Errorf("header key over MaxKeyLen: err = %v, want ErrKeyTooLong", err)
		}
		req = charge.build(t)
		req.Header.Set("Idempotency-Key", strings.Repeat("k", stripe.MaxKeyLen))
		if k := deriveKey(t, req, stripe); len(k) != stripe.MaxKeyLen {
			t.Errorf("a key of exactly MaxKeyLen was changed to %q", k)
		}
	})
}

var derivedKeyPattern = regexp.MustCompile(`^v1-[0-9a-f]{40}$`)

func TestDeriveKeyText(t *testing.T) {
	spec := reqSpec{url: "https://connect.squareup.com/v2/payments", contentType: jsonCT, body: `{"amount_money":{"amount":100,"currency":"USD"}}`}
	unlimited := providers.Square()
	unlimited.MaxKeyLen = 0
	full := keyOf(t, spec, unlimited)
	if !derivedKeyPattern.MatchString(full) {
		t.Fatalf("derived key %q does not match %s", full, derivedKeyPattern)
	}
	tests := []struct {
		maxLen int
		want   string // "" means ErrKeyTooLong
	}{
		{45, full}, // Square's limit: the full key fits
		{43, full},
		{42, full[:42]},
		{20, full[:20]}, // 17 hex digits
		{19, full[:19]}, // 16 hex digits, the minimum
		{18, ""},
		{10, ""},
	}
	for _, tt := range tests {
		p := unlimited
		p.MaxKeyLen = tt.maxLen
		key, err := idemhttp.DeriveKey(spec.build(t), &p)
		if tt.want == "" {
			if !errors.Is(err, idemhttp.ErrKeyTooLong) {
				t.Errorf("MaxKeyLen %d: key %q, err %v; want ErrKeyTooLong", tt.maxLen, key, err)
			}
			continue
		}
		if err != nil || key != tt.want {
			t.Errorf("MaxKeyLen %d: key %q, err %v; want %q", tt.maxLen, key, err, tt.want)
		}
	}
}

// mailBody is a SendGrid v3 mail/send body.
func mailBody(to, subject, text string) string {
	return `{"personalizations":[{"to":[{"email":"` + to + `"}]}],"from":{"email":"agent@shop.test"},` +
		`"subject":"` + subject + `","content":[{"type":"text/plain","value":"` + text + `"}]}`
}

func TestDeriveKeyFields(t *testing.T) {
	sendgrid := providers.SendGrid()
	mail := func(path, body string) string {
		return keyOf(t, reqSpec{url: "https://api.sendgrid.com" + path, contentType: jsonCT, body: body}, sendgrid)
	}
	const send = "/v3/mail/send"
	k := mail(send, mailBody("ada@example.com", "Welcome", "Hello Ada, welcome aboard."))
	if !derivedKeyPattern.MatchString(k) {
		t.Fatalf("key %q does not match %s", k, derivedKeyPattern)
	}
	if k2 := mail(send, mailBody("ada@example.com", "Welcome", "Hi Ada! Glad you joined.")); k2 != k {
		t.Errorf("reworded content changed the key: %s vs %s", k, k2)
	}
	reordered := `{"subject":"Welcome","content":[{"value":"Other words","type":"text/plain"}],` +
		`"from":{"email":"agent@shop.test"},"personalizations":[{"to":[{"email":"ada@example.com"}]}]}`
	if k2 := mail(send, reordered); k2 != k {
		t.Errorf("reordered, reworded body changed the key: %s vs %s", k, k2)
	}
	for name, body := range map[string]string{
		"subject":   mailBody("ada@example.com", "Welcome!", "Hello Ada, welcome aboard."),
		"recipient": mailBody("bob@example.com", "Welcome", "Hello Ada, welcome aboard."),
		"sender":    strings.Replace(mailBody("ada@example.com", "Welcome", "Hello Ada, welcome aboard."), "agent@shop.test", "other@shop.test", 1),
		"cc added":  strings.Replace(mailBody("ada@example.com", "Welcome", "Hello Ada, welcome aboard."), `}]}]`, `}],"cc":[{"email":"c@example.com"}]}]`, 1),
	} {
		if k2 := mail(send, body); k2 == k {
			t.Errorf("a different %s kept the key %s", name, k)
		}
	}
	// Outside the route the whole body counts.
	if mail("/v3/other", mailBody("ada@example.com", "Welcome", "Hello Ada, welcome aboard.")) ==
		mail("/v3/other", mailBody("ada@example.com", "Welcome", "Hi Ada! Glad you joined.")) {
		t.Error("reworded content kept the key on a route without key fields")
	}
}

func TestDeriveKeyMalformedJSON(t *testing.T) {
	malformed := []string{`{"a":1`, `{"a":1,}`, `{"a" 1}`, `[1,2`, `{"a":01}`, "{\"a\":\"\xff\"}", `{"a":1,"a":2}`, `{"a":"\ud800"}`, `1e400`, `{"a":1} x`, `nul`}
	generic := providers.Generic()
	keys := map[string]string{}
	for _, body := range malformed {
		k1 := keyOf(t, reqSpec{url: apiURL, contentType: jsonCT, body: body}, generic)
		if k2 := keyOf(t, reqSpec{url: apiURL, contentType: jsonCT, body: body}, generic); k2 != k1 {
			t.Errorf("%q: two keys %s and %s for the same bytes", body, k1, k2)
		}
		// Documented fallback: JSON that does not parse is keyed on its raw bytes.
		if raw := keyOf(t, reqSpec{url: apiURL, contentType: "application/octet-stream", body: body}, generic); raw != k1 {
			t.Errorf("%q: key %s under application/json, %s as raw bytes; want the raw-bytes key", body, k1, raw)
		}
		if prev, dup := keys[k1]; dup {
			t.Errorf("malformed bodies %q and %q share key %s", body, prev, k1)
		}
		keys[k1] = body
	}
	valid := keyOf(t, reqSpec{url: apiURL, contentType: jsonCT, body: `{"a":1}`}, generic)
	if body, dup := keys[valid]; dup {
		t.Errorf("valid JSON shares key %s with malformed %q", valid, body)
	}
	// On a key-fields route too, a body that does not parse is keyed whole.
	sendgrid := providers.SendGrid()
	mail := reqSpec{url: "https://api.sendgrid.com/v3/mail/send", contentType: jsonCT, body: `{"subject":"Hi",`}
	kj := keyOf(t, mail, sendgrid)
	mail.contentType = "application/octet-stream"
	if kb := keyOf(t, mail, sendgrid); kb != kj {
		t.Errorf("malformed mail body: key %s under JSON, %s as raw bytes", kj, kb)
	}
}

// appendField appends one field of the documented key encoding: a uvarint
// length, then the bytes.
func appendField(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// documentedKey computes a derived key from the encoding documented on
// DeriveKey, for a body kind and canonical body given by the caller.
func documentedKey(scope, provider, method, origin, path, query string, kind byte, body string) string {
	var b []byte
	for _, f := range []string{"idemhttp/v1", scope, provider, method, origin, path, query} {
		b = appendField(b, f)
	}
	b = appendField(append(b, kind), body)
	sum := sha256.Sum256(b)
	return "v1-" + hex.EncodeToString(sum[:20])
}

func TestDeriveKeyFollowsDocumentedEncoding(t *testing.T) {
	t.Run("raw bytes", func(t *testing.T) {
		got := keyOf(t, reqSpec{url: "http://Orders.TEST:80/a%20b/c", body: "hello", scope: "s1"}, providers.Generic())
		want := documentedKey("s1", "generic", "POST", "http://orders.test", "/a%20b/c", "", 'b', "hello")
		if got != want {
			t.Errorf("key %s, documented encoding gives %s", got, want)
		}
	})
	t.Run("canonical JSON with query", func(t *testing.T) {
		// The query b=2&a=1 canonicalised like a form: field count, then
		// length-prefixed name and value per field, sorted by name.
		query := string(appendField(appendField(appendField(appendField([]byte{2}, "a"), "1"), "b"), "2"))
		want := documentedKey("", "generic", "PATCH", "https://api.example.com", "/v1/x", query, 'j', `{"a":[1,"é"],"b":true}`)
		for _, body := range []string{`{"a":[1,"é"],"b":true}`, `{ "b" : true, "a" : [ 1.0, "\u00e9" ] }`} {
			got := keyOf(t, reqSpec{method: "PATCH", url: "https://api.example.com/v1/x?b=2&a=1", contentType: jsonCT, body: body}, providers.Generic())
			if got != want {
				t.Errorf("%s: key %s, documented encoding gives %s", body, got, want)
			}
		}
	})
}

// TestDeriveKeyGolden pins derived keys computed once with derivation v1
// (and checked by hand against the encoding documented on DeriveKey).
// If this test fails, the derivation changed: every pending operation of
// every user would get a new key after an upgrade and be executed again.
// A change of these values requires a new derivation version, kept beside
// v1 (DESIGN.md, "The derivation is versioned"); never update them in place.
func TestDeriveKeyGolden(t *testing.T) {
	tests := []struct {
		name string
		p    providers.Provider
		s    reqSpec
		want string
	}{
		{"stripe form charge", providers.Stripe(),
			reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT,
				body: "amount=2000&currency=usd&customer=cus_42&description=order+42&metadata[order]=42"},
			"v1-a44a88ab8c9dd54d25fb7968bed654a398e2fffb"},
		{"sendgrid key fields", providers.SendGrid(),
			reqSpec{url: "https://api.sendgrid.com/v3/mail/send", contentType: jsonCT, scope: "agent-session-7",
				body: mailBody("ada@example.com", "Welcome", "Hello Ada")},
			"v1-deb5001cca6264069d89db9ebcd7180b337ef3c4"},
		{"generic JSON with query and scope", providers.Generic(),
			reqSpec{url: "https://orders.test/orders?expand=items&dry_run=false", contentType: jsonCT, scope: "task-42",
				body: `{"sku":"A-1","qty":2,"price":{"amount":19.90,"currency":"EUR"},"notes":"caf\u00e9 \/ bar"}`},
			"v1-3d6cee8bf9eeba62d6d7c2a16a2f6398b4eb6232"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyOf(t, tt.s, tt.p); got != tt.want {
				t.Errorf("derived key changed: got %s, pinned %s (a change needs a new derivation version)", got, tt.want)
			}
		})
	}
}
