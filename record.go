package idemhttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// Response headers set by the Transport.
const (
	// HeaderReplayed marks a response that came from the record, not from a
	// new execution (the convention of Stripe and Mollie).
	HeaderReplayed = "Idempotent-Replayed"
	// HeaderBodyOmitted marks a replay whose body was over
	// Policy.MaxRecordBytes when recorded: status and headers only.
	HeaderBodyOmitted = "Idempotent-Body-Omitted"
)

// Replayed reports whether resp answers an operation that an earlier call
// executed: it came from idemhttp's record, or, for an operation in doubt
// re-sent with its key, from the provider's own replay. A response to an
// operation executed during this call (retries included) is not a replay.
func Replayed(resp *http.Response) bool {
	return resp != nil && resp.Header.Get(HeaderReplayed) == "true"
}

// KeyOf returns the idempotency key used for the request behind resp, or ""
// when the request was not keyed.
func KeyOf(resp *http.Response) string {
	if resp == nil || resp.Request == nil {
		return ""
	}
	k, _ := resp.Request.Context().Value(usedKey).(string)
	return k
}

// storedHeader returns the part of h that a record keeps: not hop-by-hop
// headers (RFC 9110 7.6.1), credentials, or what a replay recomputes.
func storedHeader(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range [...]string{
		"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Set-Cookie", "Content-Length",
		HeaderReplayed, HeaderBodyOmitted,
	} {
		delete(out, k)
	}
	return out
}

// entryFrom reads resp's body (at most limit bytes are kept) into an entry,
// and gives resp a body that reads the same bytes again. A body over limit is
// still returned whole to the caller; the entry keeps status and headers.
// A body that broke off is returned to the caller as it arrived, ending in
// the error, which entryFrom returns too; the entry keeps status and
// headers.
func entryFrom(resp *http.Response, limit int64, now time.Time) (*cache.Entry, error) {
	e := &cache.Entry{Status: resp.StatusCode, Header: storedHeader(resp.Header), StoredAt: now}
	body, err := readUpTo(resp.Body, resp.ContentLength, limit)
	switch {
	case err != nil:
		// The status arrived, the body broke off: the outcome is known,
		// its body is not.
		e.BodyOmitted = true
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), errReader{err}), resp.Body}
	case int64(len(body)) > limit:
		e.BodyOmitted = true
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	default:
		resp.Body.Close()
		e.Body = body
		resp.Body = responseBody(body)
	}
	return e, err
}

// streaming reports whether a content type is a stream that must reach the
// caller as it arrives rather than be buffered for the record.
func streaming(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case "text/event-stream", "application/x-ndjson", "application/jsonl", "application/stream+json":
		return true
	}
	return false
}

// preallocMax bounds the buffer readUpTo allocates before reading, whatever
// length the peer announces: a body longer than that grows as it arrives.
const preallocMax = 1 << 20

// readUpTo reads r to its end or to limit+1 bytes, whichever comes first.
// size is the announced length (-1: unknown); a body of that length, up to
// preallocMax, is read into one exactly sized buffer. A limit of
// math.MaxInt64 ("no bound") is taken as one less, so that limit+1 cannot
// wrap around.
func readUpTo(r io.Reader, size, limit int64) ([]byte, error) {
	limit = min(limit, math.MaxInt64-1)
	if size < 0 || size > limit || size > preallocMax {
		return readRest(nil, r, limit)
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(r, buf)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return buf[:n], err
	}
	// Confirm the end: a body longer than announced is read on, and reading
	// to EOF lets the connection be reused.
	var one [1]byte
	m, err := r.Read(one[:])
	for m == 0 && err == nil {
		m, err = r.Read(one[:])
	}
	if m > 0 {
		return readRest(append(buf, one[0]), r, limit)
	}
	if err == io.EOF {
		err = nil
	}
	return buf, err
}

func readRest(prefix []byte, r io.Reader, limit int64) ([]byte, error) {
	buf := bytes.NewBuffer(prefix)
	_, err := buf.ReadFrom(io.LimitReader(r, limit+1-int64(len(prefix))))
	return buf.Bytes(), err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// replayResponse builds the response for a recorded entry. The header map is
// copied when shared is set (the entry is shared with other callers).
func replayResponse(req *http.Request, e *cache.Entry, shared bool) *http.Response {
	h := e.Header
	if shared || h == nil {
		h = h.Clone()
		if h == nil {
			h = make(http.Header, 1)
		}
	}
	h[HeaderReplayed] = []string{"true"}
	if e.BodyOmitted {
		h[HeaderBodyOmitted] = []string{"true"}
	}
	return &http.Response{
		Status:        statusLine(e.Status),
		StatusCode:    e.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          responseBody(e.Body),
		ContentLength: int64(len(e.Body)),
		Request:       req,
	}
}

// statusLine returns Response.Status for code, without allocating for the
// usual success codes.
func statusLine(code int) string {
	switch code {
	case http.StatusOK:
		return "200 OK"
	case http.StatusCreated:
		return "201 Created"
	case http.StatusAccepted:
		return "202 Accepted"
	case http.StatusNoContent:
		return "204 No Content"
	}
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code) // as net/http reads it
	}
	return strconv.Itoa(code) + " " + text
}

// drain discards a little of a response body before closing it, so the
// connection can be reused.
func drain(resp *http.Response) {
	io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
}

// withKey returns ctx carrying the key KeyOf reports.
func withUsedKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, usedKey, key)
}
