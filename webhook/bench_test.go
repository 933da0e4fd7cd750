package webhook_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/webhook"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })

// benchDeliveries runs b.N deliveries through h, with ids from id(i).
func benchDeliveries(b *testing.B, h http.Handler, id func(i int) string) {
	r, err := http.NewRequest(http.MethodPost, "http://example.test/twilio", nil)
	if err != nil {
		b.Fatal(err)
	}
	rw := &discardWriter{}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Header.Set("I-Twilio-Idempotency-Token", id(i))
		rw.header, rw.status = http.Header{}, 0
		h.ServeHTTP(rw, r)
		if rw.status != http.StatusOK {
			b.Fatalf("status %d", rw.status)
		}
	}
}

// BenchmarkDedup measures the middleware's cost per delivery over the memory
// store: a new event each time (claim, handler, complete), the same event each
// time (replay), and no middleware at all, for comparison.
func BenchmarkDedup(b *testing.B) {
	b.Run("handler-alone", func(b *testing.B) {
		benchDeliveries(b, okHandler, strconv.Itoa)
	})
	b.Run("new-event", func(b *testing.B) {
		h := webhook.Dedup(cache.NewMemory(), twilioLike())(okHandler)
		benchDeliveries(b, h, strconv.Itoa)
	})
	b.Run("duplicate", func(b *testing.B) {
		h := webhook.Dedup(cache.NewMemory(), twilioLike())(okHandler)
		benchDeliveries(b, h, func(int) string { return "same" })
	})
}
