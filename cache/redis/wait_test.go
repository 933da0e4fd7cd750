package redis

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/redistest"
)

// wakeDeadline bounds how long a test waits for a Wait that must return.
const wakeDeadline = 30 * time.Second

// listening returns a Store on client whose Waits report on the returned
// channel once they listen for the wake notification of a held record.
func listening(tb testing.TB, client goredis.UniversalClient, opts ...Option) (*Store, <-chan string) {
	tb.Helper()
	s := newTestStore(tb, client, opts...)
	ch := make(chan string, 16)
	s.waiting = func(key string) { ch <- key }
	return s, ch
}

// startWait runs Wait in a goroutine; its result arrives on the channel.
func startWait(ctx context.Context, s *Store, key string, until time.Time) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Wait(ctx, key, until) }()
	return done
}

// wantReturn fails the test unless Wait's result arrives and is nil.
func wantReturn(tb testing.TB, done <-chan error, what string) {
	tb.Helper()
	timer := time.NewTimer(wakeDeadline)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatalf("%s: Wait returned %v, want nil", what, err)
		}
	case <-timer.C:
		tb.Fatalf("%s: Wait did not return", what)
	}
}

// wantListening fails the test unless a Wait listens on key.
func wantListening(tb testing.TB, ch <-chan string, key string) {
	tb.Helper()
	timer := time.NewTimer(wakeDeadline)
	defer timer.Stop()
	select {
	case got := <-ch:
		if got != key {
			tb.Fatalf("Wait listens on %q, want %q", got, key)
		}
	case <-timer.C:
		tb.Fatalf("no Wait listened on %q", key)
	}
}

// TestWaitWakesOnEveryOutcome: a waiter on another Store (another machine,
// as far as Redis can tell) is woken by each way a claim ends, long before
// the holder's lease or the waiter's deadline.
func TestWaitWakesOnEveryOutcome(t *testing.T) {
	srv := redistest.Start(t)
	holder := newTestStore(t, srv.Client())
	waiter, listens := listening(t, srv.Client(), WithPrefix(holder.cfg.prefix))
	ctx := t.Context()
	outcomes := map[string]func(key string, token cache.Token) error{
		"complete": func(k string, tok cache.Token) error { return holder.Complete(ctx, k, tok, testEntry(), longTTL) },
		"release":  func(k string, tok cache.Token) error { return holder.Release(ctx, k, tok) },
		"in doubt": func(k string, tok cache.Token) error { return holder.MarkInDoubt(ctx, k, tok, longTTL) },
		"delete":   func(k string, _ cache.Token) error { return holder.Delete(ctx, k) },
	}
	for name, end := range outcomes {
		t.Run(name, func(t *testing.T) {
			key := "k-" + name
			c := mustClaim(t, holder, key, cache.Acquired)
			busy := mustClaim(t, waiter, key, cache.Busy)
			done := startWait(ctx, waiter, key, busy.Until)
			wantListening(t, listens, key)
			if err := end(key, c.Token); err != nil {
				t.Fatal(err)
			}
			wantReturn(t, done, name)
			if time.Now().After(busy.Until) {
				t.Fatal("Wait returned only after the lease")
			}
		})
	}
}

// TestWaitManyWaitersShareOneSubscription: every waiter on a key wakes on its
// completion; waiters on another key do not.
func TestWaitManyWaitersShareOneSubscription(t *testing.T) {
	srv := redistest.Start(t)
	raw := srv.Client()
	s, listens := listening(t, raw)
	ctx := t.Context()
	ca := mustClaim(t, s, "a", cache.Acquired)
	cb := mustClaim(t, s, "b", cache.Acquired)
	const n = 8
	var onA, onB []<-chan error
	for range n {
		onA = append(onA, startWait(ctx, s, "a", time.Now().Add(longLease)))
		onB = append(onB, startWait(ctx, s, "b", time.Now().Add(longLease)))
	}
	for range 2 * n {
		<-listens
	}
	numsub, err := raw.PubSubNumSub(ctx, s.wakeChannel("a"), s.wakeChannel("b")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if numsub[s.wakeChannel("a")] != 1 || numsub[s.wakeChannel("b")] != 1 {
		t.Fatalf("PUBSUB NUMSUB = %v, want one subscriber (the Store) per channel", numsub)
	}
	if err := s.Complete(ctx, "a", ca.Token, testEntry(), longTTL); err != nil {
		t.Fatal(err)
	}
	for _, done := range onA {
		wantReturn(t, done, "waiter on a")
	}
	for _, done := range onB {
		select {
		case err := <-done:
			t.Fatalf("a waiter on b returned (%v) when a completed", err)
		default:
		}
	}
	if err := s.Release(ctx, "b", cb.Token); err != nil {
		t.Fatal(err)
	}
	for _, done := range onB {
		wantReturn(t, done, "waiter on b")
	}
	// Everyone left: the Store unsubscribed.
	eventually(t, "unsubscribe after the last waiter", func() bool {
		numsub, err := raw.PubSubNumSub(ctx, s.wakeChannel("a"), s.wakeChannel("b")).Result()
		return err == nil && numsub[s.wakeChannel("a")] == 0 && numsub[s.wakeChannel("b")] == 0
	})
}

// TestWaitReturnsAtOnceWhenNotHeld: a record that finished before Wait
// listened does not leave the waiter hanging.
func TestWaitReturnsAtOnceWhenNotHeld(t *testing.T) {
	srv := redistest.Start(t)
	s, listens := listening(t, srv.Client())
	ctx := t.Context()
	c := mustClaim(t, s, "k", cache.Acquired)
	if err := s.Complete(ctx, "k", c.Token, testEntry(), longTTL); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"k", "absent"} {
		wantReturn(t, startWait(ctx, s, key, time.Now().Add(longLease)), key)
	}
	select {
	case key := <-listens:
		t.Fatalf("Wait listened on %q, which is not held", key)
	default:
	}
}

// TestWaitReturnsAtUntil: with no notification, Wait returns once until (or
// the holder's lease, if earlier) has passed.
func TestWaitReturnsAtUntil(t *testing.T) {
	srv := redistest.Start(t)
	s, listens := listening(t, srv.Client())
	ctx := t.Context()
	mustClaim(t, s, "k", cache.Acquired)
	until := time.Now().Add(50 * time.Millisecond)
	done := startWait(ctx, s, "k", until)
	wantListening(t, listens, "k")
	wantReturn(t, done, "until")
	if time.Now().Before(until) {
		t.Fatal("Wait returned before until")
	}

	c, err := s.Claim(ctx, "short", "fp", 50*time.Millisecond)
	if err != nil || c.Outcome != cache.Acquired {
		t.Fatalf("Claim(short) = %v, %v", c.Outcome, err)
	}
	lease, err := s.Get(ctx, "short")
	if err != nil {
		t.Fatal(err)
	}
	wantReturn(t, startWait(ctx, s, "short", time.Now().Add(longLease)), "lease end")
	if time.Now().Before(lease.LeaseUntil) {
		t.Fatal("Wait returned before the lease ended")
	}
}

func TestWaitContextEnds(t *testing.T) {
	srv := redistest.Start(t)
	s, listens := listening(t, srv.Client())
	mustClaim(t, s, "k", cache.Acquired)
	ctx, cancel := context.WithCancel(t.Context())
	done := startWait(ctx, s, "k", time.Now().Add(longLease))
	wantListening(t, listens, "k")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v, want context.Canceled", err)
	}
	if err := s.Wait(ctx, "k", time.Now().Add(longLease)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestCloseWakesWaiters(t *testing.T) {
	srv := redistest.Start(t)
	s, listens := listening(t, srv.Client())
	mustClaim(t, s, "k", cache.Acquired)
	done := startWait(t.Context(), s, "k", time.Now().Add(longLease))
	wantListening(t, listens, "k")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Wait across Close = %v, want ErrUnavailable", err)
	}
}

// TestWaitAcrossClusterNodes: the holder's and the waiter's Stores use
// different cluster clients; the notification published by the shard that
// owns the record reaches the waiter's subscription, on whatever node it is.
func TestWaitAcrossClusterNodes(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	holder := newTestStore(t, cluster.Client())
	waiter, listens := listening(t, cluster.Client(), WithPrefix(holder.cfg.prefix))
	ctx := t.Context()
	for _, key := range []string{"a", "b", "c", "d", "e", "f"} {
		c := mustClaim(t, holder, key, cache.Acquired)
		done := startWait(ctx, waiter, key, time.Now().Add(longLease))
		wantListening(t, listens, key)
		if err := holder.Complete(ctx, key, c.Token, testEntry(), longTTL); err != nil {
			t.Fatal(err)
		}
		wantReturn(t, done, key)
		mustClaim(t, waiter, key, cache.Completed)
	}
}

// TestWaitSurvivesRedisRestart: a waiter whose pub/sub connection breaks is
// woken (to look again) instead of sleeping until its deadline, and Wait
// listens again once Redis is back.
func TestWaitSurvivesRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	s, listens := listening(t, srv.Client())
	ctx := t.Context()
	mustClaim(t, s, "k", cache.Acquired)
	done := startWait(ctx, s, "k", time.Now().Add(longLease))
	wantListening(t, listens, "k")

	srv.Restart()
	wantReturn(t, done, "wait across a restart")

	// The restarted server is empty; claim again and wait until the Store
	// listens again on a new pub/sub connection.
	var c cache.Claim
	eventually(t, "claim after restart", func() bool {
		var err error
		c, err = s.Claim(ctx, "k", "fp", longLease)
		return err == nil
	})
	if c.Outcome != cache.Acquired || c.InDoubt {
		t.Fatalf("claim after restart: %+v; want a fresh claim (the record was lost)", c)
	}
	for {
		done = startWait(ctx, s, "k", time.Now().Add(longLease))
		select {
		case <-listens:
		case err := <-done: // pub/sub still backing off: Wait polled
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		break
	}
	if err := s.Release(ctx, "k", c.Token); err != nil {
		t.Fatal(err)
	}
	wantReturn(t, done, "wait after restart")
}

// The transport detects Wait through this interface (cache.Waiter, once the
// cache package declares it).
var _ interface {
	Wait(ctx context.Context, key string, until time.Time) error
} = (*Store)(nil)
