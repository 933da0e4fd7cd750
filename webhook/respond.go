package webhook

import (
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// replayedHeader marks a response that comes from the record, not from the
// handler: the same header Stripe and idemhttp's transport use.
const replayedHeader = "Idempotent-Replayed"

// replay writes a recorded response, marked as replayed.
func replay(w http.ResponseWriter, e *cache.Entry) {
	h := w.Header()
	status := http.StatusOK
	var body []byte
	if e != nil {
		for name, values := range e.Header {
			h[name] = slices.Clone(values)
		}
		if e.Status >= 200 && e.Status <= 999 {
			status = e.Status
		}
		if e.BodyOmitted {
			h.Del("Content-Length")
		}
		body = e.Body
	}
	h.Set(replayedHeader, "true")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// acknowledgeDuplicates answers a batch whose events were all handled before.
func acknowledgeDuplicates(w http.ResponseWriter) {
	w.Header().Set(replayedHeader, "true")
	w.WriteHeader(http.StatusOK)
}

// busy answers a concurrent duplicate: 409, retry once the holder's lease ends.
func busy(w http.ResponseWriter, until time.Time) {
	seconds := math.Ceil(time.Until(until).Seconds())
	w.Header().Set("Retry-After", strconv.Itoa(int(max(1, min(seconds, 3600)))))
	http.Error(w, "webhook: this event is being handled by another delivery; retry later", http.StatusConflict)
}

// reject answers a delivery that cannot be handled, with a status that fits
// err: 413 for a body over the bound, 503 for an unavailable store, else 400
// (missing or invalid id, failed signature check: the status Stripe's own
// documentation uses for a failed check).
func reject(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, cache.ErrUnavailable):
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	http.Error(w, err.Error(), status)
}
