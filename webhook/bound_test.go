package webhook_test

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/webhook"
)

// discardWriter is a reusable ResponseWriter that keeps only the status.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header  { return w.header }
func (w *discardWriter) WriteHeader(code int) { w.status = code }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestMemoryStoreStaysBoundedOverAMillionDistinctEvents(t *testing.T) {
	const (
		total   = 1_000_000
		workers = 2
		bound   = 10_000
		// A million records would take hundreds of MiB; the bounded store's
		// heap must not grow by more than this once it is full.
		maxGrowth = 32 << 20
	)
	store := cache.NewMemory(cache.WithMaxEntries(bound), cache.WithMaxBytes(4<<20))
	h := webhook.Dedup(store, twilioLike())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))

	run := func(from, to int) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				r, err := http.NewRequest(http.MethodPost, "http://example.test/twilio", nil)
				if err != nil {
					t.Error(err)
					return
				}
				rw := &discardWriter{}
				for i := from + w; i < to; i += workers {
					r.Header.Set("I-Twilio-Idempotency-Token", "tok-"+strconv.Itoa(i))
					rw.header, rw.status = http.Header{}, 0
					h.ServeHTTP(rw, r)
					if rw.status != http.StatusOK {
						t.Errorf("event %d: status %d", i, rw.status)
						return
					}
					if i%100_000 == 0 {
						if n := store.Len(); n > bound {
							t.Errorf("after %d events the store holds %d records, over its bound %d", i, n, bound)
							return
						}
					}
				}
			})
		}
		wg.Wait()
	}

	run(0, 2*bound) // fill the store
	full := heapInUse()
	run(2*bound, total)
	grown := int64(heapInUse()) - int64(full)
	if n := store.Len(); n > bound || n < bound/2 {
		t.Fatalf("store holds %d records after %d events, want at most (and about) %d", n, total, bound)
	}
	if grown > maxGrowth {
		t.Fatalf("heap grew by %d MiB over %d more events, bound is %d MiB", grown>>20, total-2*bound, maxGrowth>>20)
	}
	t.Logf("heap: %d MiB with the store full, %+d KiB after %d events", full>>20, grown>>10, total)
}
