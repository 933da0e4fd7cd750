package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/redistest"
)

// queued is the number of requests waiting for a slot.
func (p *pipeliner) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// gate holds every round trip of a Store's pipeliner just before it is
// written, until opened, and reports how many commands each carries.
type gate struct {
	sizes chan int
	open  chan struct{}
	once  sync.Once
}

// gated installs a gate on s, opened at the latest by the test's cleanup
// (before s is closed).
func gated(tb testing.TB, s *Store) *gate {
	tb.Helper()
	g := &gate{sizes: make(chan int, 1024), open: make(chan struct{})}
	s.pipe.sending = func(n int) {
		g.sizes <- n
		<-g.open
	}
	tb.Cleanup(g.release)
	return g
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// next returns the size of the next batch to reach the gate.
func (g *gate) next(tb testing.TB) int {
	tb.Helper()
	select {
	case n := <-g.sizes:
		return n
	case <-tb.Context().Done():
		tb.Fatal("no batch reached the gate")
		return 0
	}
}

// claimResult is the outcome of a Claim run in a goroutine.
type claimResult struct {
	key   string
	claim cache.Claim
	err   error
}

// startClaim runs Claim(key) in a goroutine; its result arrives on results.
func startClaim(ctx context.Context, s *Store, key string, results chan<- claimResult) {
	go func() {
		c, err := s.Claim(ctx, key, "fp", longLease)
		results <- claimResult{key, c, err}
	}()
}

// occupySlots makes every slot of s hold a Get (a read: no script), sent
// by itself, at the gate, so that the calls that follow queue up. The Gets'
// errors arrive on the returned channel once the gate opens.
func occupySlots(t *testing.T, s *Store, g *gate) <-chan error {
	t.Helper()
	errs := make(chan error, slots)
	for i := range slots {
		go func() {
			_, err := s.Get(t.Context(), fmt.Sprint("absent-", i))
			errs <- err
		}()
		if n := g.next(t); n != 1 {
			t.Fatalf("round trip of a lone call: %d commands, want 1", n)
		}
	}
	return errs
}

// wantNotFound fails the test unless the errors of the Gets of
// occupySlots say ErrNotFound.
func wantNotFound(t *testing.T, errs <-chan error) {
	t.Helper()
	for range slots {
		wantErr(t, "Get of an absent key", <-errs, cache.ErrNotFound)
	}
}

// queueClaims starts n claims (of key prefix+"queued-"+i) and waits until
// all of them are queued.
func queueClaims(t *testing.T, s *Store, prefix string, n int, results chan<- claimResult) {
	t.Helper()
	for i := range n {
		startClaim(t.Context(), s, fmt.Sprint(prefix, "queued-", i), results)
	}
	eventually(t, fmt.Sprintf("%d calls queued", n), func() bool { return s.pipe.queued() == n })
}

// wantAcquired fails the test unless n results arrive, each Acquired.
func wantAcquired(t *testing.T, results <-chan claimResult, n int) {
	t.Helper()
	for range n {
		r := <-results
		if r.err != nil || r.claim.Outcome != cache.Acquired {
			t.Errorf("Claim(%q): %v, %v; want Acquired", r.key, r.claim.Outcome, r.err)
		}
	}
}

// TestPipelineBatchesConcurrentCalls: calls made while every slot waits
// for Redis go out together, as one pipeline — one write on the wire — and
// each caller gets its own reply; on a cluster the pipeline reaches every
// node it needs.
func TestPipelineBatchesConcurrentCalls(t *testing.T) {
	const n = 40
	srv := redistest.Start(t)
	writes := &writeCounter{}
	standalone := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Dialer: writes.dial})
	t.Cleanup(func() { _ = standalone.Close() })
	clients := map[string]goredis.UniversalClient{
		"standalone": standalone,
		"cluster":    redistest.StartCluster(t, 3).Client(),
	}
	for name, client := range clients {
		t.Run(name, func(t *testing.T) {
			s := newTestStore(t, client)
			// The first round caches the script on the servers and opens
			// the connections; the second is counted.
			for _, round := range []string{"warm-", ""} {
				g := gated(t, s)
				writes.take()
				lone := occupySlots(t, s, g)
				results := make(chan claimResult, n)
				queueClaims(t, s, round, n, results)
				g.release()
				if got := g.next(t); got != n {
					t.Errorf("batch after the gate opened: %d commands, want all %d queued calls", got, n)
				}
				wantAcquired(t, results, n)
				wantNotFound(t, lone)
			}
			if got := writes.take(); name == "standalone" && got != slots+1 {
				t.Errorf("%d calls took %d writes, want %d (one per round trip)", n+slots, got, slots+1)
			}
			for i := range n {
				key := fmt.Sprint("queued-", i)
				if r, err := s.Get(t.Context(), key); err != nil || r.State != cache.InFlight {
					t.Fatalf("Get(%q) = %+v, %v; want in flight", key, r, err)
				}
			}
		})
	}
}

// TestPipelineLoneCallsGoAlone: a call that finds a slot free is sent at
// once, by the caller itself, alone: no queue, no flusher goroutine.
func TestPipelineLoneCallsGoAlone(t *testing.T) {
	s := newTestStore(t, redistest.Start(t).Client())
	var sizes []int
	s.pipe.sending = func(n int) { sizes = append(sizes, n) }
	ctx := t.Context()
	c := mustClaim(t, s, "k", cache.Acquired)
	if err := s.Complete(ctx, "k", c.Token, testEntry(), longTTL); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 3 || sizes[0] != 1 || sizes[1] != 1 || sizes[2] != 1 {
		t.Fatalf("round trips %v, want three of one command", sizes)
	}
	s.pipe.mu.Lock()
	started := s.pipe.started
	s.pipe.mu.Unlock()
	if started {
		t.Fatal("lone calls started the flushers: they were queued")
	}
}

// TestPipelineRetriesFlushedScripts: after SCRIPT FLUSH every EVALSHA of a
// batch answers NOSCRIPT; each is sent again as EVAL and every caller gets
// its real reply.
func TestPipelineRetriesFlushedScripts(t *testing.T) {
	const n = 10
	srv := redistest.Start(t)
	counter := &commandCounter{}
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	client.AddHook(counter)
	s := newTestStore(t, client)
	mustClaim(t, s, "warm", cache.Acquired)
	g := gated(t, s)
	lone := occupySlots(t, s, g)
	results := make(chan claimResult, n)
	queueClaims(t, s, "", n, results)
	if err := srv.Client().ScriptFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	counter.take()
	g.release()
	wantAcquired(t, results, n)
	wantNotFound(t, lone)
	counts := map[string]int{}
	for _, name := range counter.take() {
		counts[name]++
	}
	if counts["evalsha"] != n || counts["eval"] != n {
		t.Fatalf("commands sent %v; want %d evalsha, each retried once as eval", counts, n)
	}
}

// TestPipelineCallerGivesUp: a caller whose context ends while its call is
// queued returns at once, and its command is never sent.
func TestPipelineCallerGivesUp(t *testing.T) {
	s := newTestStore(t, redistest.Start(t).Client())
	g := gated(t, s)
	lone := occupySlots(t, s, g)

	ctx, cancel := context.WithCancel(t.Context())
	gone := make(chan claimResult, 1)
	startClaim(ctx, s, "gone", gone)
	eventually(t, "call queued", func() bool { return s.pipe.queued() == 1 })
	cancel()
	r := <-gone
	wantErr(t, "Claim whose caller gave up", r.err, cache.ErrUnavailable)
	wantErr(t, "Claim whose caller gave up", r.err, context.Canceled)

	g.release()
	wantNotFound(t, lone)
	_, err := s.Get(t.Context(), "gone")
	wantErr(t, "Get of the abandoned claim", err, cache.ErrNotFound)
}

// TestPipelineCloseFailsQueuedCalls: Close fails the calls still queued at
// once and stops the flushers (goleak checks that they are gone); calls
// already on the wire end as they would.
func TestPipelineCloseFailsQueuedCalls(t *testing.T) {
	s := newTestStore(t, redistest.Start(t).Client())
	g := gated(t, s)
	lone := occupySlots(t, s, g)
	queued := make(chan claimResult, 1)
	startClaim(t.Context(), s, "queued", queued)
	eventually(t, "call queued", func() bool { return s.pipe.queued() == 1 })

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	r := <-queued
	wantErr(t, "queued Claim at Close", r.err, cache.ErrUnavailable)
	wantErr(t, "queued Claim at Close", r.err, errClosed)
	g.release()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range slots {
		if err := <-lone; !errors.Is(err, cache.ErrNotFound) && !errors.Is(err, cache.ErrUnavailable) {
			t.Errorf("Get in flight at Close: %v; want ErrNotFound or ErrUnavailable", err)
		}
	}
	_, err := s.Claim(t.Context(), "after", "fp", longLease)
	wantErr(t, "Claim after Close", err, cache.ErrUnavailable)
}

// TestWithoutPipelining: WithPipelining(false) sends each call by itself.
func TestWithoutPipelining(t *testing.T) {
	client := redistest.Start(t).Client()
	if s := newTestStore(t, client, WithPipelining(false)); s.pipe != nil {
		t.Fatal("WithPipelining(false) left pipelining on")
	}
	if s := newTestStore(t, client); s.pipe == nil {
		t.Fatal("pipelining is off by default")
	}
}
