package faultserver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ErrInvalidRoute is returned by Start for a route it cannot serve.
var ErrInvalidRoute = errors.New("faultserver: invalid route")

// Route is one endpoint with a counted side effect.
type Route struct {
	// Method and Path are matched exactly ("POST", "/v1/charges"); the query
	// is ignored.
	Method, Path string

	// KeyHeader, when set, makes the route de-duplicate server-side like
	// Stripe. A request carrying a key already seen with the same body gets the
	// first response byte-for-byte with "Idempotent-Replayed: true" and
	// performs no effect; with a different body it gets
	// 400 {"error":{"type":"idempotency_error"}}; while the key's first request
	// is still executing (held, hanging) it gets
	// 409 {"error":{"code":"idempotency_key_in_use"}}. Keys are remembered only
	// for requests whose effect was performed: a Reset or StatusBefore request
	// leaves nothing behind, while a LostAck, Hang or StatusAfter request did
	// execute and its success response is what the key replays.
	KeyHeader string

	// TraceHeader, when set, records the header's value with each effect (no
	// de-duplication) so that LookupPath can find it.
	TraceHeader string

	// LookupPath, when set, serves GET LookupPath?key=K: 200 with the success
	// response of the effect whose KeyHeader or TraceHeader value was K, else
	// 404. It is the probe of a check-then-act client.
	LookupPath string

	// EffectID names the side effect of a request, for counting. The default is
	// Method + " " + Path + " " + hex(sha256(body)).
	EffectID func(r *http.Request, body []byte) string

	// Status is the status of a success response, 200 when zero. The success
	// body is JSON {"id":"<Prefix><n>","effect":"<effect id>","seq":n}, n
	// counting the effects performed on the route from 1.
	Status int

	// Prefix starts the ids of the success bodies, "obj_" when empty.
	Prefix string
}

// routeName identifies a route (and its faults and received requests).
func routeName(method, path string) string { return method + " " + path }

// validate reports why r cannot be served, wrapping ErrInvalidRoute.
func (r Route) validate() error {
	switch {
	case r.Method == "" || strings.ContainsAny(r.Method, " \t\r\n"):
		return fmt.Errorf("%w: method %q", ErrInvalidRoute, r.Method)
	case !strings.HasPrefix(r.Path, "/"):
		return fmt.Errorf("%w: path %q must start with /", ErrInvalidRoute, r.Path)
	case r.LookupPath != "" && !strings.HasPrefix(r.LookupPath, "/"):
		return fmt.Errorf("%w: lookup path %q must start with /", ErrInvalidRoute, r.LookupPath)
	case r.Status != 0 && (r.Status < 200 || r.Status > 299):
		return fmt.Errorf("%w: success status %d is not 2xx", ErrInvalidRoute, r.Status)
	}
	return nil
}

// effectID names the effect of one request.
func (r Route) effectID(req *http.Request, body []byte) string {
	if r.EffectID != nil {
		return r.EffectID(req, body)
	}
	sum := sha256.Sum256(body)
	return routeName(r.Method, r.Path) + " " + hex.EncodeToString(sum[:])
}

// successResponse is the answer to the seq-th effect of the route.
func (r Route) successResponse(effect string, seq int) response {
	prefix := r.Prefix
	if prefix == "" {
		prefix = "obj_"
	}
	status := r.Status
	if status == 0 {
		status = http.StatusOK
	}
	return jsonResponse(status, map[string]any{
		"id":     prefix + strconv.Itoa(seq),
		"effect": effect,
		"seq":    seq,
	})
}

// traceValues are the header values an effect is recorded under for lookups.
func (r Route) traceValues(h http.Header) []string {
	var values []string
	for _, name := range []string{r.KeyHeader, r.TraceHeader} {
		if v := h.Get(name); name != "" && v != "" {
			values = append(values, v)
		}
	}
	return values
}
