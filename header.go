package idemhttp

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/idemhttp/idemhttp/providers"
)

// checkOutgoing returns an error wrapping ErrInvalidRequest when req, sent
// under key by provider p, is one that net/http refuses before it asks for
// a connection: an http or https request with no host, or with a header or
// trailer field that it refuses to write, the key header as it will be
// sent included. net/http fails such a request without a trace event to say
// so; refused before the claim, it is never taken for a request that may
// have been sent. A URL with no scheme ("api.example.test/v1", read as a
// path) is refused too; other schemes go to a protocol registered with
// http.Transport.RegisterProtocol, or to a base of the caller's, which
// decide for themselves.
func checkOutgoing(req *http.Request, p *providers.Provider, key string) error {
	switch req.URL.Scheme {
	case "":
		return fmt.Errorf("%w: no scheme in the request URL %q", ErrInvalidRequest, req.URL.Redacted())
	case "http", "https":
	default:
		return nil
	}
	if req.URL.Host == "" {
		return fmt.Errorf("%w: no host in the request URL", ErrInvalidRequest)
	}
	keyHeader := ""
	if p.KeyHeader != "" {
		keyHeader = http.CanonicalHeaderKey(p.KeyHeader)
		// Quoting (p.QuoteKey) adds only printable characters: the key is
		// valid as sent when it is valid as it is.
		if !validFieldName(keyHeader) || !validFieldValue(key) {
			return fmt.Errorf("%w: key %q cannot be sent in header field %q", ErrInvalidRequest, key, p.KeyHeader)
		}
	}
	if err := checkHeader(req.Header, keyHeader); err != nil {
		return err
	}
	return checkHeader(req.Trailer, "")
}

// checkHeader returns an error wrapping ErrInvalidRequest when h holds a
// field that net/http refuses to write: a name that is not an RFC 9110
// token, or a value with a control character other than tab. The field
// named replaced (the key header, which the Transport sets) is skipped.
func checkHeader(h http.Header, replaced string) error {
	for name, values := range h {
		if name == replaced {
			continue
		}
		if !validFieldName(name) {
			return fmt.Errorf("%w: header field name %q", ErrInvalidRequest, name)
		}
		for _, v := range values {
			if !validFieldValue(v) {
				return fmt.Errorf("%w: control character in the value of header field %q", ErrInvalidRequest, name)
			}
		}
	}
	return nil
}

// validFieldName reports whether name is an RFC 9110 token.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c < 0x80 && c > ' ' && c != 0x7f && !isDelimiter(c):
		default:
			return false
		}
	}
	return true
}

// isDelimiter reports whether c is one of RFC 9110's delimiters, which a
// token excludes.
func isDelimiter(c byte) bool {
	switch c {
	case '"', '(', ')', ',', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}':
		return true
	}
	return false
}

// validFieldValue reports whether v holds no control character other than
// tab, as net/http requires of a value it writes.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// spelledOtherwise reports whether the header map key k is the canonical
// name in another spelling ("idempotency-key"), which net/http writes to the
// wire as it is.
func spelledOtherwise(k, name string) bool {
	return len(k) == len(name) && k != name && strings.EqualFold(k, name)
}

// oddHeaders is what a header map holds, among the headers that a key and
// a record key read, beyond one value under each canonical name: values
// that net/http sends as they are, but a lookup by canonical name misses.
type oddHeaders struct {
	// key is the key header's value under another spelling
	// ("idempotency-key"; the first such map key in sorted order), or "".
	key string
	// keyOther is set when the key header is there under another spelling
	// at all, empty values included.
	keyOther bool
	// creds are the credential map keys (Authorization, the provider's
	// account headers) in another spelling, or canonical with more than
	// one value, sorted.
	creds []string
}

// scanHeaders finds the odd headers of h for provider p, in one pass.
func scanHeaders(h http.Header, p *providers.Provider) oddHeaders {
	var odd oddHeaders
	var keyAt string
	for k, vs := range h {
		if p.KeyHeader != "" && len(k) == len(p.KeyHeader) && spelledOtherwise(k, http.CanonicalHeaderKey(p.KeyHeader)) {
			odd.keyOther = true
			if len(vs) > 0 && vs[0] != "" && (keyAt == "" || k < keyAt) {
				keyAt = k
			}
		}
		if oddCredential(k, vs, "Authorization") || slices.ContainsFunc(p.AccountHeaders, func(name string) bool { return oddCredential(k, vs, name) }) {
			odd.creds = append(odd.creds, k)
		}
	}
	if keyAt != "" {
		odd.key = h[keyAt][0]
	}
	slices.Sort(odd.creds)
	return odd
}

// oddCredential reports whether the map key k holding vs is the header name
// in another spelling, or under its canonical spelling with more than one
// value.
func oddCredential(k string, vs []string, name string) bool {
	if len(k) != len(name) {
		return false // most keys, at the cost of a length
	}
	name = http.CanonicalHeaderKey(name)
	return spelledOtherwise(k, name) || k == name && len(vs) > 1
}

// deleteOtherSpellings removes from h every key that is the canonical name
// spelt otherwise, so that a header set under name goes out once.
func deleteOtherSpellings(h http.Header, name string) {
	for k := range h {
		if spelledOtherwise(k, name) {
			delete(h, k)
		}
	}
}
