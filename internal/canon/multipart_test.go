package canon

import (
	"bytes"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"testing"
)

// testPart is one part of a multipart body built for a test.
type testPart struct {
	name, filename, contentType, content string
	header                               map[string]string // more headers
}

// multipartBody builds a multipart/form-data body with mime/multipart.
// An empty boundary means a random one, as clients use.
func multipartBody(t testing.TB, boundary string, parts []testPart) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if boundary != "" {
		if err := w.SetBoundary(boundary); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disposition := fmt.Sprintf("form-data; name=%q", p.name)
		if p.filename != "" {
			disposition += fmt.Sprintf("; filename=%q", p.filename)
		}
		h.Set("Content-Disposition", disposition)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		for k, v := range p.header {
			h.Set(k, v)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write([]byte(p.content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), w.FormDataContentType()
}

// canonicalMultipart returns AppendMultipart's output or fails the test.
func canonicalMultipart(t *testing.T, boundary string, parts []testPart) []byte {
	t.Helper()
	body, contentType := multipartBody(t, boundary, parts)
	out, err := AppendMultipart(nil, contentType, body)
	if err != nil {
		t.Fatalf("AppendMultipart: %v", err)
	}
	return out
}

var emailParts = []testPart{
	{name: "to", content: "a@example.com"},
	{name: "subject", content: "Your receipt"},
	{name: "attachment", filename: "receipt.pdf", contentType: "application/pdf", content: "%PDF-1.4 \x00\x01 binary"},
}

func TestAppendMultipartIgnoresBoundary(t *testing.T) {
	a := canonicalMultipart(t, "", emailParts)
	b := canonicalMultipart(t, "", emailParts) // another random boundary
	c := canonicalMultipart(t, "x-boundary-1234", emailParts)
	if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Fatalf("boundaries change the encoding:\n%q\n%q\n%q", a, b, c)
	}
	// Other headers and media type spelling do not count either.
	parts := append([]testPart(nil), emailParts...)
	parts[2].contentType = "Application/PDF"
	parts[0].header = map[string]string{"X-Trace": "abc"}
	if d := canonicalMultipart(t, "", parts); !bytes.Equal(a, d) {
		t.Errorf("media type case or extra headers change the encoding:\n%q\n%q", a, d)
	}
}

func TestAppendMultipartEncoding(t *testing.T) {
	got := canonicalMultipart(t, "", emailParts)
	want := []byte{3}
	for _, p := range emailParts {
		for _, field := range []string{p.name, p.filename, p.contentType, p.content} {
			want = AppendLen(want, []byte(field))
		}
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestAppendMultipartSensitivity(t *testing.T) {
	variants := map[string]func([]testPart){
		"content":      func(p []testPart) { p[0].content = "b@example.com" },
		"name":         func(p []testPart) { p[1].name = "Subject" },
		"filename":     func(p []testPart) { p[2].filename = "receipt2.pdf" },
		"content type": func(p []testPart) { p[2].contentType = "application/octet-stream" },
		"order":        func(p []testPart) { p[0], p[1] = p[1], p[0] },
		"one byte":     func(p []testPart) { p[2].content += "\x00" },
	}
	base := canonicalMultipart(t, "", emailParts)
	seen := map[string]string{string(base): "base"}
	for name, change := range variants {
		parts := append([]testPart(nil), emailParts...)
		change(parts)
		got := string(canonicalMultipart(t, "", parts))
		if other, ok := seen[got]; ok {
			t.Errorf("%s and %s give the same encoding", name, other)
		}
		seen[got] = name
	}
	fewer := canonicalMultipart(t, "", emailParts[:2])
	if bytes.Equal(fewer, base) {
		t.Error("dropping a part does not change the encoding")
	}
}

func TestAppendMultipartErrors(t *testing.T) {
	body, contentType := multipartBody(t, "bound", emailParts)
	tests := []struct {
		name, contentType string
		body              []byte
	}{
		{"no boundary", "multipart/form-data", body},
		{"not multipart", "application/json; boundary=bound", body},
		{"unparsable content type", "multipart/form-data; boundary", body},
		{"other boundary", "multipart/form-data; boundary=other", body},
		{"truncated", contentType, body[:len(body)/2]},
		{"no closing boundary", contentType, bytes.TrimSuffix(body, []byte("--bound--\r\n"))},
		{"bad disposition", contentType, []byte("--bound\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--bound--\r\n")},
	}
	for _, tt := range tests {
		out, err := AppendMultipart([]byte("p"), tt.contentType, tt.body)
		if !errors.Is(err, ErrInvalid) || string(out) != "p" {
			t.Errorf("%s: got %q, %v; want ErrInvalid", tt.name, out, err)
		}
	}
}
