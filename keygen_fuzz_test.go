package idemhttp_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/providers"
)

// FuzzDeriveKey checks that DeriveKey never panics and is deterministic for
// any body under any content type, and that a JSON value keeps its key
// however it is spelled: indented, compacted, or decoded and re-encoded by
// encoding/json (which sorts members, escapes <, > and & and respells
// numbers).
func FuzzDeriveKey(f *testing.F) {
	for _, seed := range []string{
		`{"amount":2000,"currency":"usd","metadata":{"order":"42"}}`,
		`{"b":[1,2.50,-0,1E2,10e-1,1e-7,1e21],"a":{"y":null,"x":true}}`,
		`["\u0041\/\u00e9\ud83d\ude00","<&>","\u2028"]`,
		`{"personalizations":[{"to":[{"email":"a@b.test"}]}],"subject":"Hi","content":[{"type":"text/plain","value":"x"}]}`,
		`{"\u20ac":1,"\ud83d\ude00":2,"a":3,"A":4,"":5}`,
		`123456789012345678901234567890`,
		`{"a":1,"a":2}`,
		`{"a":"\ud800"}`,
		`1e400`,
		`{"a":`,
		"a=1&b=2&a=3",
		"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n",
		"\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	contentTypes := []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream"}
	keyFor := func(t *testing.T, contentType string, body []byte) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "https://api.example.com/v1/things?q=1", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		p := providers.Generic()
		key, err := idemhttp.DeriveKey(req, &p)
		if err != nil {
			t.Fatalf("DeriveKey under %s: %v", contentType, err)
		}
		if got, err := io.ReadAll(req.Body); err != nil || !bytes.Equal(got, body) {
			t.Fatalf("DeriveKey did not restore the body: read %q, %v", got, err)
		}
		return key
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ct := range contentTypes {
			if a, b := keyFor(t, ct, body), keyFor(t, ct, body); a != b {
				t.Fatalf("under %s, two keys %s and %s for one body", ct, a, b)
			}
		}
		if !json.Valid(body) || !utf8.Valid(body) || hasLoneSurrogate(body) || hasDuplicateNames(body) {
			return // not I-JSON: keyed on its raw bytes, as documented
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return // a number outside the range of a double: not I-JSON either
		}
		want := keyFor(t, "application/json", body)
		var indented, compacted bytes.Buffer
		if err := json.Indent(&indented, body, "\t", "\t"); err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&compacted, body); err != nil {
			t.Fatal(err)
		}
		remarshaled, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for name, variant := range map[string][]byte{"indented": indented.Bytes(), "compacted": compacted.Bytes(), "re-encoded": remarshaled} {
			if got := keyFor(t, "application/json", variant); got != want {
				t.Errorf("%s spelling changed the key:\n  %q -> %s\n  %q -> %s", name, body, want, variant, got)
			}
		}
	})
}

// hasLoneSurrogate reports a \u escape of a UTF-16 surrogate that is not part
// of a high-low pair: encoding/json decodes it to U+FFFD, and it is not I-JSON.
func hasLoneSurrogate(b []byte) bool {
	surrogate := func(i int) (rune, bool) { // the escape at b[i] == '\\'
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		r, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(r), err == nil && r >= 0xd800 && r <= 0xdfff
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := surrogate(i)
		if !ok {
			i++ // skip the escaped character
			continue
		}
		if r >= 0xdc00 {
			return true // low surrogate first
		}
		if low, ok := surrogate(i + 6); !ok || low < 0xdc00 {
			return true
		}
		i += 11
	}
	return false
}

// hasDuplicateNames reports an object with two members of the same decoded
// name in a valid JSON document.
func hasDuplicateNames(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		names     map[string]bool
		expectKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF: the document ended
			return false
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				stack = append(stack, &frame{names: map[string]bool{}, expectKey: true})
				continue
			case '[':
				stack = append(stack, &frame{})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.names != nil && top.expectKey {
				if top.names[tok] {
					return true
				}
				top.names[tok] = true
				top.expectKey = false
				continue
			}
		}
		// A value ended: in an object, a name comes next.
		if len(stack) > 0 && stack[len(stack)-1].names != nil {
			stack[len(stack)-1].expectKey = true
		}
	}
}

func TestFuzzFilters(t *testing.T) {
	for _, tt := range []struct {
		doc             string
		lone, duplicate bool
	}{
		{`{"a":"\ud83d\ude00"}`, false, false},
		{`{"a":"\ud83d"}`, true, false},
		{`{"a":"\ude00\ud83d"}`, true, false},
		{`{"a":"\\ud800"}`, false, false},
		{`{"a":"\u0041\ud800x"}`, true, false},
		{`["\ud8000udC00"]`, true, false},
		{`{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`, false, false},
		{`{"a":1,"b":{"a":2},"a":3}`, false, true},
		{`[{"x":{"y":1},"x":2}]`, false, true},
		{`{"a":{"b":1,"b":2}}`, false, true},
		{`{"\u0061":1,"a":2}`, false, true},
	} {
		if got := hasLoneSurrogate([]byte(tt.doc)); got != tt.lone {
			t.Errorf("hasLoneSurrogate(%s) = %v", tt.doc, got)
		}
		if got := hasDuplicateNames([]byte(tt.doc)); got != tt.duplicate {
			t.Errorf("hasDuplicateNames(%s) = %v", tt.doc, got)
		}
	}
}
