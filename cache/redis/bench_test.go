package redis

import (
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/redistest"
)

// BenchmarkClaimComplete: one operation's store work, a claim of a new key
// and its completion (two round trips).
func BenchmarkClaimComplete(b *testing.B) {
	s := newTestStore(b, redistest.Start(b).Client())
	ctx := b.Context()
	entry := testEntry()
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprint("k", i)
		c := mustClaim(b, s, key, cache.Acquired)
		if err := s.Complete(ctx, key, c.Token, entry, longTTL); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplay: a claim of a completed record, which returns its entry
// (one round trip), with a client that leaves deadlines to the Store (each
// pipeline, or each call without pipelining, then runs in a guard
// goroutine, see send) and with one created with ContextTimeoutEnabled.
func BenchmarkReplay(b *testing.B) {
	srv := redistest.Start(b)
	for _, honours := range []bool{false, true} {
		b.Run(fmt.Sprint("ContextTimeoutEnabled=", honours), func(b *testing.B) {
			client := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: honours})
			b.Cleanup(func() { _ = client.Close() })
			s := newTestStore(b, client)
			c := mustClaim(b, s, "k", cache.Acquired)
			if err := s.Complete(b.Context(), "k", c.Token, testEntry(), longTTL); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				mustClaim(b, s, "k", cache.Completed)
			}
		})
	}
}

// concurrency is how many goroutines the parallel benchmarks run: the load
// of an idemhttp transport at 64 concurrent requests.
const concurrency = 64

// BenchmarkClaimCompleteParallel: BenchmarkClaimComplete from 64 goroutines
// at once, each claiming and completing new keys, through one Store with
// pipelining on a client that honours context deadlines. Reported beside
// ns/op (per claim+complete): the mean number of commands per round trip of
// the pipeliner (cmds/batch).
func BenchmarkClaimCompleteParallel(b *testing.B) {
	s, batches := parallelStore(b)
	entry := testEntry()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		for pb.Next() {
			key := fmt.Sprint("k", next.Add(1))
			c, err := s.Claim(ctx, key, "fp", longLease)
			if err == nil && c.Outcome != cache.Acquired {
				err = fmt.Errorf("outcome %v, want %v", c.Outcome, cache.Acquired)
			}
			if err == nil {
				err = s.Complete(ctx, key, c.Token, entry, longTTL)
			}
			if err != nil {
				b.Errorf("claim and complete %q: %v", key, err)
				return
			}
		}
	})
	batches.report(b)
}

// BenchmarkReplayParallel: BenchmarkReplay from 64 goroutines at once, all
// claiming one completed key, as BenchmarkClaimCompleteParallel.
func BenchmarkReplayParallel(b *testing.B) {
	s, batches := parallelStore(b)
	c := mustClaim(b, s, "k", cache.Acquired)
	if err := s.Complete(b.Context(), "k", c.Token, testEntry(), longTTL); err != nil {
		b.Fatal(err)
	}
	batches.reset()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		for pb.Next() {
			c, err := s.Claim(ctx, "k", "fp", longLease)
			if err == nil && c.Outcome != cache.Completed {
				err = fmt.Errorf("outcome %v, want %v", c.Outcome, cache.Completed)
			}
			if err != nil {
				b.Errorf("replay: %v", err)
				return
			}
		}
	})
	batches.report(b)
}

// parallelStore starts a Redis server and returns a pipelining Store on a
// client with a connection per goroutine and ContextTimeoutEnabled, the
// benchmark set to run concurrency goroutines, and the Store's batch sizes.
func parallelStore(b *testing.B) (*Store, *batchSizes) {
	srv := redistest.Start(b)
	client := goredis.NewClient(&goredis.Options{
		Addr:                  srv.Addr(),
		PoolSize:              concurrency,
		ContextTimeoutEnabled: true,
	})
	b.Cleanup(func() { _ = client.Close() })
	s := newTestStore(b, client)
	batches := &batchSizes{}
	s.pipe.sending = batches.add
	b.SetParallelism((concurrency + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	return s, batches
}

// batchSizes counts the round trips of a pipeliner and their commands.
type batchSizes struct {
	trips, cmds atomic.Int64
}

func (bs *batchSizes) add(n int) {
	bs.trips.Add(1)
	bs.cmds.Add(int64(n))
}

func (bs *batchSizes) reset() {
	bs.trips.Store(0)
	bs.cmds.Store(0)
}

// report reports the mean commands per round trip as cmds/batch.
func (bs *batchSizes) report(b *testing.B) {
	if trips := bs.trips.Load(); trips > 0 {
		b.ReportMetric(float64(bs.cmds.Load())/float64(trips), "cmds/batch")
	}
}

// BenchmarkHandoff: a waiter on one Store listens for a record held through
// another; the holder completes it. Reported: the time from the start of
// Complete until the waiter's Wait returned (handoff-µs, median and p99),
// beside Complete's own round trip (complete-µs, median). ns/op covers the
// whole cycle (claim, subscribe, complete, wake, unsubscribe).
func BenchmarkHandoff(b *testing.B) {
	srv := redistest.Start(b)
	holder := newTestStore(b, srv.Client())
	waiter, listens := listening(b, srv.Client(), WithPrefix(holder.cfg.prefix))
	ctx := b.Context()
	entry := testEntry()
	var handoff, complete []time.Duration
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprint("k", i)
		c := mustClaim(b, holder, key, cache.Acquired)
		woke := make(chan time.Time, 1)
		go func() {
			err := waiter.Wait(ctx, key, time.Now().Add(longLease))
			if err != nil {
				b.Error(err)
			}
			woke <- time.Now()
		}()
		if got := <-listens; got != key {
			b.Fatalf("waiter listens on %q, want %q", got, key)
		}
		start := time.Now()
		if err := holder.Complete(ctx, key, c.Token, entry, longTTL); err != nil {
			b.Fatal(err)
		}
		complete = append(complete, time.Since(start))
		handoff = append(handoff, (<-woke).Sub(start))
	}
	b.ReportMetric(micros(percentile(handoff, 50)), "handoff-µs-median")
	b.ReportMetric(micros(percentile(handoff, 99)), "handoff-µs-p99")
	b.ReportMetric(micros(percentile(complete, 50)), "complete-µs-median")
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[(len(sorted)-1)*p/100]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
