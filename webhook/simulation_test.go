package webhook_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/webhook"
)

// simulationStats counts what the simulated sender went through.
type simulationStats struct {
	deliveries, lostAcks, duplicates, conflicts, failures, replays atomic.Int64
}

func (s *simulationStats) note(r response) {
	s.deliveries.Add(1)
	switch {
	case r.status == http.StatusConflict:
		s.conflicts.Add(1)
	case r.status >= 500:
		s.failures.Add(1)
	case r.header.Get("Idempotent-Replayed") == "true":
		s.replays.Add(1)
	}
}

// TestAtLeastOnceSenderEachEventHandledOnce plays a sender that delivers at
// least once, against verify → Dedup → handler on a loopback server: 1,000
// Stripe events, each acknowledgement lost with probability 20% (the sender
// never sees it and delivers again), a duplicate racing the delivery with
// probability 15% (a resend while the first is still in flight, as after a
// slow acknowledgement), and one event in ten failing in the handler on its
// first attempt. Each event must take effect exactly once.
func TestAtLeastOnceSenderEachEventHandledOnce(t *testing.T) {
	for _, sc := range stores() {
		t.Run(sc.name, func(t *testing.T) { simulateAtLeastOnce(t, sc.open(t)) })
	}
}

func simulateAtLeastOnce(t *testing.T, store cache.Store) {
	const (
		events      = 1000
		senders     = 16
		lostAckRate = 0.20
		raceRate    = 0.15
		maxAttempts = 1000
		secret      = "whsec_simulation"
	)
	done, calls := newEffects(), newEffects()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := eventIDOf(t, r)
		var n int
		fmt.Sscanf(id, "evt_%d", &n)
		if calls.add(id) == 1 && n%10 == 3 {
			http.Error(w, "transient failure", http.StatusInternalServerError)
			return
		}
		done.add(id)
		fmt.Fprintf(w, "handled %s", id)
	})
	verify, err := webhook.VerifyStripe(secret)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, verify(webhook.Dedup(store, webhook.Stripe())(app)))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * senders}}
	defer client.CloseIdleConnections()

	var stats simulationStats
	var racers sync.WaitGroup
	send := func(id string) (response, error) {
		payload := stripeEvent(id)
		header := http.Header{"Stripe-Signature": {webhook.SignStripe(secret, time.Now(), payload)}}
		r, err := deliver(t.Context(), client, srv.URL, header, payload)
		if err == nil {
			stats.note(r)
		}
		return r, err
	}

	jobs := make(chan int)
	var workers sync.WaitGroup
	for w := range senders {
		rng := rand.New(rand.NewPCG(uint64(w), 42))
		workers.Go(func() {
			for i := range jobs {
				id := fmt.Sprintf("evt_%04d", i)
				for attempt := 1; ; attempt++ {
					if attempt > maxAttempts {
						t.Errorf("%s: no acknowledgement after %d attempts", id, maxAttempts)
						break
					}
					if rng.Float64() < raceRate {
						stats.duplicates.Add(1)
						racers.Go(func() {
							if _, err := send(id); err != nil {
								t.Errorf("racing duplicate of %s: %v", id, err)
							}
						})
					}
					r, err := send(id)
					if err != nil {
						t.Errorf("%s: %v", id, err)
						break
					}
					if rng.Float64() < lostAckRate {
						stats.lostAcks.Add(1)
						continue // the acknowledgement never reached the sender
					}
					if r.status/100 == 2 {
						break
					}
				}
			}
		})
	}
	for i := range events {
		jobs <- i
	}
	close(jobs)
	workers.Wait()
	racers.Wait()

	for i := range events {
		id := fmt.Sprintf("evt_%04d", i)
		if n := done.of(id); n != 1 {
			t.Errorf("%s took effect %d times, want exactly 1", id, n)
		}
		if rec, found := recordOf(t, store, "webhook:stripe:"+id); !found || rec.State != cache.Done {
			t.Errorf("%s: record %+v, found=%v; want completed", id, rec, found)
		}
	}
	if done.total() != events {
		t.Errorf("%d effects in total, want %d", done.total(), events)
	}
	t.Logf("%d deliveries: %d acknowledgements lost, %d racing duplicates, %d replays, %d conflicts (409), %d handler failures",
		stats.deliveries.Load(), stats.lostAcks.Load(), stats.duplicates.Load(), stats.replays.Load(), stats.conflicts.Load(), stats.failures.Load())
	// The scenario must really have exercised redelivery.
	if stats.lostAcks.Load() == 0 || stats.duplicates.Load() == 0 || stats.replays.Load() == 0 || stats.failures.Load() < events/10 {
		t.Errorf("the simulation did not exercise redelivery: %+v", &stats)
	}
}
