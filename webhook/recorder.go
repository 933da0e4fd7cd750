package webhook

import (
	"net/http"
	"strings"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// recorder passes the handler's response through to the client while keeping
// a copy (status, headers, body up to a bound) to record for replay.
//
// It implements http.Flusher (a no-op when the underlying writer cannot
// flush) and Unwrap, so http.ResponseController reaches the underlying
// writer's other features.
type recorder struct {
	w       http.ResponseWriter
	limit   int
	status  int
	header  http.Header
	body    []byte
	omitted bool
}

func newRecorder(w http.ResponseWriter, limit int) *recorder {
	return &recorder{w: w, limit: limit}
}

// Header returns the underlying writer's header map.
func (rec *recorder) Header() http.Header { return rec.w.Header() }

// WriteHeader records the first final status and the headers sent with it.
func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		rec.status = code
		rec.header = recordableHeader(rec.w.Header())
	}
	rec.w.WriteHeader(code)
}

// Write passes p through and keeps a copy while under the bound.
func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	if !rec.omitted {
		if len(rec.body)+len(p) > rec.limit {
			rec.omitted, rec.body = true, nil
		} else {
			rec.body = append(rec.body, p...)
		}
	}
	return rec.w.Write(p)
}

// Flush sends buffered data to the client, when the underlying writer can.
func (rec *recorder) Flush() {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(rec.w).Flush()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }

// succeeded reports whether the response is a 2xx. A handler that wrote
// nothing answered 200.
func (rec *recorder) succeeded() bool {
	return rec.status == 0 || rec.status/100 == 2
}

// entry is the response as recorded for replay.
func (rec *recorder) entry(now time.Time) *cache.Entry {
	status, header := rec.status, rec.header
	if status == 0 {
		status, header = http.StatusOK, recordableHeader(rec.w.Header())
	}
	return &cache.Entry{Status: status, Header: header, Body: rec.body, BodyOmitted: rec.omitted, StoredAt: now}
}

// recordableHeader returns a copy of h without the headers that are never
// replayed: hop-by-hop headers (RFC 9110 §7.6.1) and those the Connection
// header names, cookies, the date of the original response, and the replay
// marker itself.
func recordableHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	for name := range out {
		switch http.CanonicalHeaderKey(name) {
		case "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
			"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
			"Set-Cookie", "Date", replayedHeader:
			delete(out, name)
		}
	}
	return out
}
