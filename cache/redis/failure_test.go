package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/redistest"
)

// everyMethod calls each Store method once on key and returns their errors
// by name.
func everyMethod(ctx context.Context, s *Store, key string) map[string]error {
	_, claimErr := s.Claim(ctx, key, "fp", longLease)
	_, getErr := s.Get(ctx, key)
	return map[string]error{
		"Claim":       claimErr,
		"Renew":       s.Renew(ctx, key, 1, longLease),
		"Complete":    s.Complete(ctx, key, 1, testEntry(), longTTL),
		"Release":     s.Release(ctx, key, 1),
		"MarkInDoubt": s.MarkInDoubt(ctx, key, 1, longTTL),
		"Resolve":     s.Resolve(ctx, key, nil, 0),
		"Get":         getErr,
		"Delete":      s.Delete(ctx, key),
	}
}

// TestUnreachableIsUnavailable: with nothing listening, every method fails
// with ErrUnavailable.
func TestUnreachableIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, pipelining := range []bool{false, true} {
		t.Run(fmt.Sprint("pipelining=", pipelining), func(t *testing.T) {
			client := goredis.NewClient(&goredis.Options{Addr: addr})
			t.Cleanup(func() { _ = client.Close() })
			s := newTestStore(t, client, WithTimeout(250*time.Millisecond), WithPipelining(pipelining))
			for name, err := range everyMethod(t.Context(), s, "k") {
				wantErr(t, name, err, cache.ErrUnavailable)
			}
			// Wait cannot subscribe either: it polls, returning well before until.
			until := time.Now().Add(longLease)
			if err := s.Wait(t.Context(), "k", until); err != nil {
				t.Fatalf("Wait with Redis unreachable: %v", err)
			}
		})
	}
}

// TestTimeoutBoundsEveryMethod: a server that accepts connections but never
// answers cannot hold a call longer than WithTimeout — the error says the
// per-operation deadline ended it — even when the caller's context has no
// deadline, whether or not the client applies context deadlines itself.
func TestTimeoutBoundsEveryMethod(t *testing.T) {
	addr := blackHole(t)
	for _, honours := range []bool{false, true} {
		for _, pipelining := range []bool{false, true} {
			t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v/pipelining=%v", honours, pipelining), func(t *testing.T) {
				client := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: honours})
				t.Cleanup(func() { _ = client.Close() })
				s := newTestStore(t, client, WithTimeout(50*time.Millisecond), WithPipelining(pipelining))
				if s.honoursContext != honours {
					t.Fatalf("honoursContext = %v, want %v", s.honoursContext, honours)
				}
				for name, err := range everyMethod(context.Background(), s, "k") {
					wantErr(t, name, err, cache.ErrUnavailable)
					if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
						t.Errorf("%s: %v; want the per-operation deadline as the cause", name, err)
					}
				}
			})
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// blackHole listens on 127.0.0.1, accepts connections and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// TestRecoversAfterRestart: kill redis-server, every method fails with
// ErrUnavailable; start it again on the same port, and the same Store works
// again, without a new client.
func TestRecoversAfterRestart(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.Client(), WithTimeout(250*time.Millisecond))
	ctx := t.Context()
	mustClaim(t, s, "before", cache.Acquired)

	srv.Kill()
	for name, err := range everyMethod(ctx, s, "k") {
		wantErr(t, name+" while Redis is down", err, cache.ErrUnavailable)
	}

	srv.Restart()
	eventually(t, "Claim after restart", func() bool {
		_, err := s.Claim(ctx, "after", "fp", longLease)
		return err == nil
	})
	c := mustClaim(t, s, "k", cache.Acquired)
	if err := s.Complete(ctx, "k", c.Token, testEntry(), longTTL); err != nil {
		t.Fatalf("Complete after restart: %v", err)
	}
	mustClaim(t, s, "k", cache.Completed)
}

// TestRestartEmptyFencesHolder: Redis restarted without persistence forgets
// every claim. The holder learns it loudly — Complete fails with ErrFenced
// and does not recreate the record — and the next claim starts afresh (not
// flagged in doubt: the store cannot know the request may have been sent).
func TestRestartEmptyFencesHolder(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.Client())
	ctx := t.Context()
	c := mustClaim(t, s, "k", cache.Acquired)

	srv.Restart()
	var err error
	eventually(t, "Complete answered after restart", func() bool {
		err = s.Complete(ctx, "k", c.Token, testEntry(), longTTL)
		return !errors.Is(err, cache.ErrUnavailable)
	})
	wantErr(t, "holder's Complete after restart", err, cache.ErrFenced)
	wantGone(t, srv.Client(), s.recordKey("k"))
	next := mustClaim(t, s, "k", cache.Acquired)
	if next.InDoubt {
		t.Fatal("claim after an empty restart flagged in doubt; the store kept nothing to know it by")
	}
}

// TestEvictionFencesHolder: under maxmemory with an allkeys policy Redis may
// evict an in-flight record; the holder's Complete then fails with ErrFenced
// and never recreates the record.
//
// Real eviction is used: maxmemory is set just above what the server uses,
// and filler keys are written (allkeys-random) until the record is gone. In
// the unlikely case that it survives the filler budget, the test deletes
// the record from outside — what eviction does — and says so in the log.
func TestEvictionFencesHolder(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory-policy", "allkeys-random")
	raw := srv.Client()
	s := newTestStore(t, raw)
	ctx := t.Context()
	c := mustClaim(t, s, "k", cache.Acquired)
	recordKey := s.recordKey("k")

	setTightMaxmemory(t, raw)
	filler := strings.Repeat("x", 1024)
	const budget = 50_000
	evicted := false
	for i := range budget {
		if err := raw.Set(ctx, fmt.Sprint("filler-", i), filler, 0).Err(); err != nil {
			t.Fatalf("SET filler: %v", err)
		}
		if i%64 == 0 {
			if n, err := raw.Exists(ctx, recordKey).Result(); err == nil && n == 0 {
				t.Logf("Redis evicted the in-flight record after %d filler keys", i+1)
				evicted = true
				break
			}
		}
	}
	if !evicted {
		t.Logf("record survived %d filler keys; deleting it from outside to simulate eviction", budget)
		if err := raw.Del(ctx, recordKey).Err(); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Complete(ctx, "k", c.Token, testEntry(), longTTL)
	wantErr(t, "holder's Complete after eviction", err, cache.ErrFenced)
	wantGone(t, raw, recordKey)
	for _, op := range []func() error{
		func() error { return s.Renew(ctx, "k", c.Token, longLease) },
		func() error { return s.Release(ctx, "k", c.Token) },
		func() error { return s.MarkInDoubt(ctx, "k", c.Token, longTTL) },
	} {
		wantErr(t, "holder after eviction", op(), cache.ErrFenced)
	}
	wantGone(t, raw, recordKey)
}

// TestNoEvictionRefusesClaims: under maxmemory noeviction a full Redis
// refuses new claims with ErrUnavailable (OOM) and keeps what it holds; the
// records it holds still move on, since they replace a record rather than
// add one: a holder completes or marks in doubt, and an in-doubt record is
// claimed again.
func TestNoEvictionRefusesClaims(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory-policy", "noeviction")
	raw := srv.Client()
	s := newTestStore(t, raw)
	ctx := t.Context()
	held := mustClaim(t, s, "held", cache.Acquired)
	done := mustClaim(t, s, "done", cache.Acquired)
	doubt := mustClaim(t, s, "doubt", cache.Acquired)
	again := mustClaim(t, s, "again", cache.Acquired)
	if err := s.MarkInDoubt(ctx, "again", again.Token, longTTL); err != nil {
		t.Fatalf("MarkInDoubt: %v", err)
	}
	setTightMaxmemory(t, raw)
	filler := strings.Repeat("x", 1024)
	for i := 0; ; i++ {
		err := raw.Set(ctx, fmt.Sprint("filler-", i), filler, 0).Err()
		if err != nil && strings.Contains(err.Error(), "OOM") {
			break
		}
		if err != nil {
			t.Fatalf("SET filler: %v", err)
		}
	}
	_, err := s.Claim(ctx, "new", "fp", longLease)
	wantErr(t, "Claim on a full Redis", err, cache.ErrUnavailable)
	if !strings.Contains(err.Error(), "OOM") {
		t.Errorf("Claim error %v does not name the cause (OOM)", err)
	}
	wantGone(t, raw, s.recordKey("new"))
	if r, err := s.Get(ctx, "held"); err != nil || r.Token != held.Token {
		t.Fatalf("held record after OOM: %+v, %v", r, err)
	}
	// A long call keeps its lease on a full Redis.
	if err := s.Renew(ctx, "held", held.Token, longLease); err != nil {
		t.Fatalf("Renew on a full Redis: %v", err)
	}

	if err := s.Complete(ctx, "done", done.Token, testEntry(), longTTL); err != nil {
		t.Fatalf("Complete on a full Redis: %v", err)
	}
	mustClaim(t, s, "done", cache.Completed)
	if err := s.MarkInDoubt(ctx, "doubt", doubt.Token, longTTL); err != nil {
		t.Fatalf("MarkInDoubt on a full Redis: %v", err)
	}
	if c := mustClaim(t, s, "again", cache.Acquired); !c.InDoubt {
		t.Fatal("claim of an in-doubt record on a full Redis not flagged in doubt")
	}
}

// setTightMaxmemory sets maxmemory a little above what the server uses now.
func setTightMaxmemory(t *testing.T, raw goredis.UniversalClient) {
	t.Helper()
	ctx := t.Context()
	info, err := raw.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	var used int64
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			if _, err := fmt.Sscan(v, &used); err != nil {
				t.Fatalf("used_memory %q: %v", v, err)
			}
		}
	}
	if used == 0 {
		t.Fatalf("no used_memory in INFO memory:\n%s", info)
	}
	if err := raw.ConfigSet(ctx, "maxmemory", fmt.Sprint(used+512<<10)).Err(); err != nil {
		t.Fatal(err)
	}
}

// wantGone fails the test if key exists in Redis.
func wantGone(t *testing.T, raw goredis.UniversalClient, key string) {
	t.Helper()
	n, err := raw.Exists(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%s exists: the record was recreated", key)
	}
}
