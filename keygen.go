package idemhttp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/idemhttp/idemhttp/internal/canon"
	"github.com/idemhttp/idemhttp/providers"
)

// derivationVersion is hashed into every derived key. A key must never change
// for the same request within a version: a new scheme is a new version, kept
// beside the old one.
const derivationVersion = "idemhttp/v1"

// Body kinds, hashed as one byte before the canonical body.
const (
	bodyBytes     = 'b'
	bodyJSON      = 'j'
	bodyForm      = 'f'
	bodyMultipart = 'm'
	bodyFields    = 'k'
)

// op is what the transport derives for one keyed request.
type op struct {
	provider  *providers.Provider
	route     *providers.Route
	key       string // the idempotency key, as the provider sees it (before FormatKey)
	derived   bool   // key derived by idemhttp (false: explicit or set by the caller)
	onRequest bool   // the key was already on the request (header or body field)
	// keyHeaderOther: the request holds the key header under another
	// spelling too, which the send must remove (oddHeaders.keyOther).
	keyHeaderOther bool
	fingerprint    string
	recordKey      string // namespaced key in the store, set by the transport
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBuf bounds the scratch buffers kept in bufPool: one grown by a
// huge body is left to the garbage collector.
const maxPooledBuf = 4 << 20

// putBuf returns a scratch buffer to bufPool.
func putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledBuf {
		bufPool.Put(bp)
	}
}

// DeriveKey returns the idempotency key that req would carry to provider p,
// without sending it: the key given with WithKey, else the one the caller set
// on the request (KeyHeader or KeyField), else the derived key. The body is
// read through req.GetBody when req has one (as http.NewRequest gives an
// in-memory body), leaving req untouched; otherwise req.Body is read and
// replaced by a reader over the same bytes.
//
// The derived key is "v1-" followed by hex digits of SHA-256 over this
// sequence of fields, each encoded as a uvarint length then its bytes:
//
//	"idemhttp/v1", the scope (WithScope), p.Name, the method, the lower-case
//	scheme "://" host (default port dropped; when req.Host names another
//	host, a 0 byte and that host follow), the escaped path (for a URL with
//	Opaque set, a 0 byte and Opaque), the query canonicalised like a form
//	body (one that does not decode: a 0 byte and its raw bytes), then one
//	body-kind byte and the canonical body:
//	  'j' JSON (application/json, */*+json): the RFC 8785 (JCS) canonical form;
//	  'f' form (application/x-www-form-urlencoded): fields sorted by name,
//	      repeated values in their order;
//	  'm' multipart: part by part, boundary excluded;
//	  'k' the route's KeyFields only: for each field, its name then the
//	      canonical value (absent fields encode as empty); a body with none
//	      of them is encoded whole instead, as above;
//	  'b' anything else, and JSON or a form that does not parse (with
//	      KeyFields too): the raw bytes.
//
// For providers that carry the key in a body field (p.KeyField), that field
// is left out of the body first.
//
// The Transport stores with each record a fingerprint of the whole request
// (the same encoding with exact numbers; for a key of the caller's, without
// the scope), or, on a route with KeyFields, of its ValidationFields (and
// of a key field holding a number the key rounded), or, with none, of the
// key fields alone: there a request that changes only other fields (a reworded
// email, but an amount too) replays. Name the amount among the
// ValidationFields of such a route to have it refused with ErrKeyReused.
// Records are namespaced by a hash of the credentials: Authorization and
// p.AccountHeaders, in whatever spelling the header map holds them, and
// the URL's user information.
//
// The digits are 40 (160 bits), fewer when p.MaxKeyLen requires (never fewer
// than 16).
//
// JSON numbers are keyed as RFC 8785 writes them, as doubles: two requests
// that differ only in numbers that round to the same double get the same
// key. Such numbers are integers beyond 2^53 (64-bit ids, amounts in minor
// units: 9007199254740993 and 9007199254740992), decimals with more
// significant digits than a double holds (0.10000000000000001 and 0.1) and
// numbers below its range (1e-400 and 0). Give such requests a key of their
// own with WithKey, or KeyFields that tell them apart. The Transport never
// takes one for the other: the fingerprint stored with a record holds the
// exact decimal value of every number, so the second request is refused
// with ErrKeyReused instead of being answered with the first one's
// response. Spellings of one value (1.0 and 1, 9007199254740993.0 and
// 9007199254740993) share key and fingerprint, and replay.
func DeriveKey(req *http.Request, p *providers.Provider) (string, error) {
	return deriveKey(req, p, false)
}

func deriveKey(req *http.Request, p *providers.Provider, replaceKeys bool) (string, error) {
	var body []byte
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		// A copy of the body to read: req stays as it is.
		bp := bufPool.Get().(*[]byte)
		defer putBuf(bp)
		rc, err := req.GetBody()
		if err != nil {
			return "", fmt.Errorf("idemhttp: reading request body: %w", err)
		}
		scratch := (*bp)[:0]
		if req.ContentLength > 0 {
			// Room for the whole body and the read that finds its end.
			scratch = slices.Grow(scratch, int(req.ContentLength)+bytes.MinRead)
		}
		buf := bytes.NewBuffer(scratch)
		_, err = buf.ReadFrom(rc)
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("idemhttp: reading request body: %w", err)
		}
		body, *bp = buf.Bytes(), buf.Bytes()
	} else {
		var err error
		if body, err = readBody(req, 0); err != nil {
			return "", err
		}
		if req.Body != nil && req.Body != http.NoBody {
			req.Body = io.NopCloser(bytes.NewReader(body)) // restore what was read
		}
	}
	var o op
	if err := prepareOp(&o, req, body, p, replaceKeys, false); err != nil {
		return "", err
	}
	return o.key, nil
}

// prepareOp derives o's key for a keyed request whose body has been
// buffered, and, when forTransport is set, its fingerprint and record key
// (DeriveKey needs the key alone).
//
// The key follows RFC 8785, where numbers are doubles; the fingerprint is
// always a hash of an encoding with JSON numbers in the exact form
// (canon.JSON), which tells apart numbers that round to the same double
// and is the RFC 8785 encoding itself when no number is lossy. So two
// requests that share a key because their numbers round alike have
// different fingerprints, and the second is refused (ErrKeyReused), never
// answered with the first one's response.
func prepareOp(o *op, req *http.Request, body []byte, p *providers.Provider, replaceKeys, forTransport bool) error {
	*o = op{provider: p, route: p.Route(req.Method, req.URL.Path)}
	odd := scanHeaders(req.Header, p)
	o.keyHeaderOther = odd.keyOther
	explicit, ok := keyFrom(req.Context())
	if !ok && !replaceKeys {
		explicit, ok = existingKey(req, body, p, odd.key)
		o.onRequest = ok
	}
	bp := bufPool.Get().(*[]byte)
	defer putBuf(bp)
	var key []byte // the derived key; explicit when empty
	var fingerprint [16]byte
	if ok {
		if p.MaxKeyLen > 0 && len(explicit) > p.MaxKeyLen {
			return fmt.Errorf("%w: %d characters, %s accepts %d", ErrKeyTooLong, len(explicit), p.Name, p.MaxKeyLen)
		}
		if explicit == "" {
			return ErrEmptyKey
		}
		if forTransport {
			if p.KeyField != "" && !o.onRequest {
				// A key given with WithKey: the body field carries another
				// (an SDK's random one, say), which the Transport replaces
				// with this one, so it does not tell operations apart. A
				// key the caller put in the field is this one, in the
				// record key already: the body is fingerprinted as sent.
				body = withoutJSONField(body, p.KeyField)
			}
			exact := canon.JSON{Exact: true}
			*bp, _ = encodeRequest((*bp)[:0], req, body, p, o.route, "", false, &exact)
			sum := sha256.Sum256(*bp)
			fingerprint = [16]byte(sum[:16])
		}
	} else {
		if p.KeyField != "" {
			// The key field never identifies the operation: an SDK's random
			// key in it must not change the derived key.
			body = withoutJSONField(body, p.KeyField)
		}
		var numbers canon.JSON // RFC 8785, noting lossy numbers
		var noneFound bool
		*bp, noneFound = encodeRequest((*bp)[:0], req, body, p, o.route, ScopeFrom(req.Context()), true, &numbers)
		sum := sha256.Sum256(*bp)
		var err error
		var text [keyTextLen]byte
		if key, err = keyText(text[:0], sum, p.MaxKeyLen); err != nil {
			return err
		}
		o.derived = true
		switch {
		case !forTransport:
			o.key = string(key)
			return nil
		case o.route != nil && len(o.route.KeyFields) > 0 && len(o.route.ValidationFields) > 0 && !noneFound:
			// The validation fields, exact. A key field whose number the
			// key rounded is added, exact, so that the fingerprint tells
			// such operations apart; only then, so that every other
			// fingerprint stays as it was.
			keyEnd := len(*bp) // *bp holds the key's encoding
			exact := canon.JSON{Exact: true}
			var exactKey []byte
			if numbers.Lossy {
				*bp, _ = encodeRequest(*bp, req, body, p, o.route, ScopeFrom(req.Context()), true, &exact)
				if !bytes.Equal((*bp)[:keyEnd], (*bp)[keyEnd:]) {
					exactKey = (*bp)[keyEnd:]
				}
			}
			start := len(*bp)
			*bp, _ = encodeFields(*bp, req, body, o.route.ValidationFields, &exact, false)
			if exactKey != nil {
				*bp = append(*bp, exactKey...)
			}
			fsum := sha256.Sum256((*bp)[start:])
			fingerprint = [16]byte(fsum[:16])
		case numbers.Lossy:
			// The key's encoding rounded some number: the fingerprint
			// hashes the same encoding with exact numbers.
			exact := canon.JSON{Exact: true}
			*bp, _ = encodeRequest((*bp)[:0], req, body, p, o.route, ScopeFrom(req.Context()), true, &exact)
			fsum := sha256.Sum256(*bp)
			fingerprint = [16]byte(fsum[16:32])
		default:
			// The key covers everything the fingerprint would: the whole
			// request, or the key fields that stand for it; with no lossy
			// number, its encoding is the exact one.
			fingerprint = [16]byte(sum[16:32])
		}
	}
	if !forTransport {
		o.key = explicit
		return nil
	}
	// Record key, key and fingerprint share one allocation.
	buf := appendRecordKey((*bp)[:0], req, p, odd.creds)
	keyAt := len(buf)
	if key != nil {
		buf = append(buf, key...)
	} else {
		buf = append(buf, explicit...)
	}
	fpAt := len(buf)
	buf = hex.AppendEncode(buf, fingerprint[:])
	*bp = buf
	all := string(buf)
	o.recordKey, o.key, o.fingerprint = all[:fpAt], all[keyAt:fpAt], all[fpAt:]
	return nil
}

// keyTextLen is the length of a derived key at most: "v1-" and 40 digits.
const keyTextLen = 3 + 40

// keyText appends a digest rendered as key text within maxLen to dst.
func keyText(dst []byte, sum [32]byte, maxLen int) ([]byte, error) {
	const prefix, digits, minDigits = "v1-", keyTextLen - 3, 16
	n := digits
	if maxLen > 0 && len(prefix)+n > maxLen {
		n = maxLen - len(prefix)
		if n < minDigits {
			return nil, fmt.Errorf("%w: provider limit %d leaves no room for a derived key", ErrKeyTooLong, maxLen)
		}
	}
	start := len(dst)
	dst = append(dst, prefix...)
	dst = hex.AppendEncode(dst, sum[:digits/2])
	return dst[:start+len(prefix)+n], nil
}

// encodeRequest appends the encoding documented on DeriveKey to dst.
// withScope selects the key encoding (scope, key fields) over the
// fingerprint encoding (whole request, no scope). JSON is written and
// its lossy numbers noted by numbers.
//
// noneFound reports that the route has KeyFields (withScope only) but the
// body none of them, so that the body was encoded whole.
func encodeRequest(dst []byte, req *http.Request, body []byte, p *providers.Provider, route *providers.Route, scope string, withScope bool, numbers *canon.JSON) (out []byte, noneFound bool) {
	dst = appendLenString(dst, derivationVersion)
	if withScope {
		dst = appendLenString(dst, scope)
	}
	dst = appendLenString(dst, p.Name)
	dst = appendLenString(dst, req.Method)
	dst = appendOrigin(dst, req)
	dst = appendPath(dst, req.URL)
	if q := req.URL.RawQuery; q == "" {
		dst = append(dst, 0)
	} else if out, ok := appendCanonical(dst, func(d []byte) ([]byte, error) { return canon.AppendForm(d, []byte(q)) }); ok {
		dst = out
	} else {
		// A query that does not decode is keyed on its raw bytes behind a
		// 0 byte: a canonical form starts with its number of fields, so
		// one starting with 0 is exactly that byte, and no raw query can
		// pass for another query's canonical form.
		dst = binary.AppendUvarint(dst, uint64(1+len(q)))
		dst = append(append(dst, 0), q...)
	}
	if withScope && route != nil && len(route.KeyFields) > 0 {
		return encodeFields(dst, req, body, route.KeyFields, numbers, true)
	}
	return appendBody(dst, contentType(req.Header), body, numbers), false
}

// appendBody appends the body-kind byte and the length-prefixed canonical
// body, JSON written by numbers.
func appendBody(dst []byte, contentType string, body []byte, numbers *canon.JSON) []byte {
	switch mediaKind(contentType) {
	case bodyJSON:
		// The length goes in front directly: no move of the canonical form.
		if out, err := numbers.AppendLen(append(dst, bodyJSON), body); err == nil {
			return out
		}
		return canon.AppendLen(append(dst, bodyBytes), body)
	case bodyForm:
		return appendCanonicalKind(dst, bodyForm, func(d []byte) ([]byte, error) { return canon.AppendForm(d, body) }, body)
	case bodyMultipart:
		return appendCanonicalKind(dst, bodyMultipart, func(d []byte) ([]byte, error) { return canon.AppendMultipart(d, contentType, body) }, body)
	}
	dst = append(dst, bodyBytes)
	return canon.AppendLen(dst, body)
}

// encodeFields appends the 'k' body: each field's name and canonical value,
// JSON written by numbers. A body that fields cannot be read from is
// appended whole instead (see DeriveKey), and so, with wholeIfNone, is a
// body that has none of them, which noneFound reports.
func encodeFields(dst []byte, req *http.Request, body []byte, fields []string, numbers *canon.JSON, wholeIfNone bool) (out []byte, noneFound bool) {
	kind := mediaKind(contentType(req.Header))
	if kind != bodyJSON && kind != bodyForm {
		return appendBody(dst, contentType(req.Header), body, numbers), false
	}
	start := len(dst)
	dst = append(dst, bodyFields)
	present := false
	for _, f := range fields {
		dst = appendLenString(dst, f)
		var found bool
		out, ok := appendCanonical(dst, func(d []byte) ([]byte, error) {
			var out []byte
			var err error
			if kind == bodyJSON {
				out, found, err = numbers.AppendPointer(d, body, f)
			} else {
				out, found, err = canon.AppendFormField(d, body, f)
			}
			return out, err
		})
		if !ok {
			// A body that does not parse (JSON, or a form with a broken
			// escape) cannot yield its fields, nor a field name that
			// cannot be one: key on all of it, as raw bytes, never on the
			// fields that happened to read.
			return appendBody(dst[:start], "", body, numbers), false
		}
		present = present || found
		dst = out
	}
	if !present && wholeIfNone {
		// None of the fields is there (a route whose fields this body does
		// not have, JSON Pointers named on a form route): keyed on nothing,
		// every such request would be one operation. Key on the whole body.
		return appendBody(dst[:start], contentType(req.Header), body, numbers), true
	}
	return dst, false
}

// appendCanonicalKind appends kind and the length-prefixed canonical form, or
// the raw-bytes kind when the body does not canonicalise (malformed JSON under
// a JSON content type, a broken form): a documented fallback, never an error.
func appendCanonicalKind(dst []byte, kind byte, fn func([]byte) ([]byte, error), raw []byte) []byte {
	out, ok := appendCanonical(append(dst, kind), fn)
	if !ok {
		return canon.AppendLen(append(dst, bodyBytes), raw)
	}
	return out
}

// appendCanonical appends the canonical form made by fn with a uvarint length
// prefix. When fn fails it returns dst unchanged and false.
func appendCanonical(dst []byte, fn func([]byte) ([]byte, error)) ([]byte, bool) {
	// The canonical form is built after a maximal-width length slot, then
	// moved down behind a uvarint prefix: no second buffer.
	start := len(dst)
	var lb [binary.MaxVarintLen64]byte
	out, err := fn(append(dst, lb[:]...))
	if err != nil {
		return dst[:start], false
	}
	n := len(out) - start - len(lb)
	w := binary.PutUvarint(lb[:], uint64(n))
	copy(out[start:], lb[:w])
	copy(out[start+w:], out[start+len(lb):])
	return out[:start+w+n], true
}

func appendLenString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendOrigin appends lower-case scheme://host, without a default port.
func appendOrigin(dst []byte, req *http.Request) []byte {
	scheme := strings.ToLower(req.URL.Scheme)
	host := originHost(scheme, req.URL.Host)
	// A Host header other than the URL's (req.Host: a virtual host behind
	// one address) names another server: it follows a 0 byte, which no
	// host holds, so that every other origin encodes as it always did.
	var virtual string
	if req.Host != "" {
		if v := originHost(scheme, req.Host); v != host {
			virtual = v
		}
	}
	n := len(scheme) + 3 + len(host)
	if virtual != "" {
		n += 1 + len(virtual)
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, scheme...)
	dst = append(dst, "://"...)
	dst = append(dst, host...)
	if virtual != "" {
		dst = append(append(dst, 0), virtual...)
	}
	return dst
}

// originHost is hostport in lower case, without the scheme's default port.
func originHost(scheme, hostport string) string {
	host := strings.ToLower(hostport)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		if port := host[i+1:]; (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
			host = host[:i] // "[::1]:443" -> "[::1]"
		}
	}
	return host
}

// appendPath appends the path as sent: the escaped path, or, for a URL
// with Opaque set (which net/http sends as the request target instead),
// a 0 byte then Opaque; no escaped path starts with a 0 byte, so every
// other path encodes as it always did.
func appendPath(dst []byte, u *url.URL) []byte {
	if u.Opaque == "" {
		return appendLenString(dst, u.EscapedPath())
	}
	dst = binary.AppendUvarint(dst, uint64(1+len(u.Opaque)))
	return append(append(dst, 0), u.Opaque...)
}

// canonicalGet is h.Get(name) for a name already in canonical form: no
// canonicalisation on the way.
func canonicalGet(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// contentType is the request's Content-Type.
func contentType(h http.Header) string { return canonicalGet(h, "Content-Type") }

// mediaKind classifies a Content-Type.
func mediaKind(contentType string) byte {
	if contentType == "" {
		return bodyBytes
	}
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return bodyJSON
	case mt == "application/x-www-form-urlencoded":
		return bodyForm
	case mt == "multipart/form-data" || mt == "multipart/mixed":
		if _, params, err := mime.ParseMediaType(contentType); err == nil && params["boundary"] != "" {
			return bodyMultipart
		}
	}
	return bodyBytes
}

// existingKey returns a key the caller (or an SDK) already put on the
// request. otherSpelling is the key header's value under another spelling
// (oddHeaders.key): it goes out as written, the caller's key all the same.
func existingKey(req *http.Request, body []byte, p *providers.Provider, otherSpelling string) (string, bool) {
	if p.KeyHeader != "" {
		v := req.Header.Get(p.KeyHeader)
		if v == "" {
			v = otherSpelling
		}
		if v != "" {
			return p.ParseKey(v), true
		}
		return "", false
	}
	if p.KeyField != "" && mediaKind(contentType(req.Header)) == bodyJSON {
		return jsonStringField(body, p.KeyField)
	}
	return "", false
}

// appendRecordKey appends the namespace of a record key to dst: the
// provider's name and a hash of the credentials (Authorization, the
// provider's account headers, those of them in oddCreds (see oddHeaders),
// and user information in the URL, which a base transport below may turn
// into credentials when RoundTrip is called without http.Client), so two
// tenants never see each other's records; the key follows it. Credentials
// are never stored.
func appendRecordKey(dst []byte, req *http.Request, p *providers.Provider, oddCreds []string) []byte {
	var scratch [256]byte
	creds := appendLenString(scratch[:0], canonicalGet(req.Header, "Authorization"))
	for _, name := range p.AccountHeaders {
		creds = appendLenString(creds, req.Header.Get(name))
	}
	// Only when there are any: the record keys of every other request stay
	// as they were.
	for _, k := range oddCreds {
		creds = appendLenString(creds, k)
		vs := req.Header[k]
		if k == http.CanonicalHeaderKey(k) {
			vs = vs[1:] // the first value is in already
		}
		creds = binary.AppendUvarint(creds, uint64(len(vs)))
		for _, v := range vs {
			creds = appendLenString(creds, v)
		}
	}
	if u := req.URL.User; u != nil {
		creds = appendLenString(creds, u.String())
	}
	sum := sha256.Sum256(creds)
	dst = append(dst, p.Name...)
	dst = append(dst, '/')
	dst = hex.AppendEncode(dst, sum[:8])
	return append(dst, '/')
}

// readBody buffers the body of req, at most limit bytes (0: no limit). It
// reads from GetBody when the request has one, so that the same request can
// be sent again, and closes req.Body as a RoundTripper must. req itself is
// not modified.
func readBody(req *http.Request, limit int64) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	if limit > 0 && req.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBodyTooLarge, req.ContentLength, limit)
	}
	// GetBody gives a reader of its own when the request has one: the
	// caller may send the same request again (a retry after a timeout), or
	// a clone of it, which shares Body.
	rc := req.Body
	if req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			rc = b
			defer b.Close()
		}
	}
	// The body is read into one exactly sized buffer when its length is
	// known; readRest grows it only for a body longer than announced.
	size := req.ContentLength
	if size < 0 || limit > 0 && size > limit {
		size = 0
	}
	bound := limit
	if bound <= 0 {
		bound = 1<<63 - 2
	}
	body, err := readUpTo(rc, size, bound)
	if err != nil {
		return nil, fmt.Errorf("idemhttp: reading request body: %w", err)
	}
	if int64(len(body)) > bound {
		return nil, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, limit)
	}
	return body, nil
}
