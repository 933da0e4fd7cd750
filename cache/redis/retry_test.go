package redis

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/redistest"
)

// These tests check that every script may run twice, as it does when
// go-redis sends a command again (MaxRetries) after the connection failed
// with the command written: the first run changed the record, and its reply
// was lost. See "Failures" in doc.go.

// lossyConn loses the reply to the next write holding an EVALSHA once
// armed: it waits for the reply (so the server has run the script), drops
// it and ends the connection, as a reset or a failover would. go-redis then
// sends the command (or the pipeline) again on a new connection.
type lossyConn struct {
	net.Conn
	armed *atomic.Bool

	mu   sync.Mutex
	lose bool // the next read loses the reply and ends the connection
}

func (c *lossyConn) Write(b []byte) (int, error) {
	if bytes.Contains(bytes.ToLower(b), []byte("evalsha")) && c.armed.CompareAndSwap(true, false) {
		c.mu.Lock()
		c.lose = true
		c.mu.Unlock()
	}
	return c.Conn.Write(b)
}

func (c *lossyConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	lose := c.lose
	c.lose = false
	c.mu.Unlock()
	if lose {
		// Wait for the reply: the script has run. (Redis runs the
		// commands of a small write, read at once, before it answers any;
		// lose checks on the server that all of them ran.)
		if _, err := c.Conn.Read(make([]byte, 64<<10)); err != nil {
			return 0, err
		}
		_ = c.Conn.Close()
		return 0, io.EOF
	}
	return c.Conn.Read(b)
}

// lossy is a Store whose client loses one reply when armed, on a server
// the test can also reach directly.
type lossy struct {
	s     *Store
	raw   goredis.UniversalClient // a plain client of the same server
	armed atomic.Bool
}

// newLossy starts a Redis server and returns a Store on it through a client
// with go-redis' default retries, whose connections lose a reply when
// armed. Every script is loaded first, so that each call is one EVALSHA.
func newLossy(t *testing.T, opts ...Option) *lossy {
	t.Helper()
	return newLossyRetrying(t, 0, opts...)
}

// newLossyRetrying is newLossy with the client's MaxRetries (0: go-redis'
// default; -1: none, so that a lost reply fails the call).
func newLossyRetrying(t *testing.T, maxRetries int, opts ...Option) *lossy {
	t.Helper()
	srv := redistest.Start(t)
	l := &lossy{raw: srv.Client()}
	client := goredis.NewClient(&goredis.Options{
		Addr:       srv.Addr(),
		MaxRetries: maxRetries,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &lossyConn{Conn: c, armed: &l.armed}, nil
		},
	})
	t.Cleanup(func() { _ = client.Close() })
	l.s = newTestStore(t, client, opts...)
	sc := l.s.scripts
	for _, script := range []*goredis.Script{sc.claim, sc.renew, sc.complete, sc.release, sc.abandon, sc.markInDoubt, sc.resolve, sc.delete} {
		if err := script.Load(t.Context(), l.raw).Err(); err != nil {
			t.Fatalf("SCRIPT LOAD: %v", err)
		}
	}
	return l
}

// lose runs call with the reply to its (first) write of scripts lost, and
// checks that the loss happened and that the server then ran the scripts
// of that write again: runs is how many scripts the write holds.
func (l *lossy) lose(t *testing.T, runs int, call func()) {
	t.Helper()
	before := l.evalshaCalls(t)
	l.armed.Store(true)
	call()
	if l.armed.Swap(false) {
		t.Fatal("setup: no reply was lost")
	}
	if got := l.evalshaCalls(t) - before; got != int64(2*runs) {
		t.Fatalf("setup: the server ran %d scripts, want %d (each of %d twice)", got, 2*runs, runs)
	}
}

// evalshaCalls is how many EVALSHA the server has run.
func (l *lossy) evalshaCalls(t *testing.T) int64 {
	t.Helper()
	info, err := l.raw.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:calls=")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(rest[:strings.IndexByte(rest+",", ',')], 10, 64)
		if err != nil {
			t.Fatalf("INFO commandstats: %q: %v", line, err)
		}
		return n
	}
	return 0
}

// fields returns the record hash under key and its expiry, read directly.
func (l *lossy) fields(t *testing.T, key string) (map[string]string, int64) {
	t.Helper()
	ctx := t.Context()
	f, err := l.raw.HGetAll(ctx, l.s.recordKey(key)).Result()
	if err != nil {
		t.Fatalf("HGETALL: %v", err)
	}
	x, err := l.raw.Do(ctx, "PEXPIRETIME", l.s.recordKey(key)).Int64()
	if err != nil {
		t.Fatalf("PEXPIRETIME: %v", err)
	}
	return f, x
}

// TestClaimRetriedAfterLostReply: a Claim whose first reply was lost is
// Acquired by the client's retry — flagged in doubt, with its Since, when
// it took over an in-doubt record — not Busy on its own claim; every other
// claim is still Busy.
func TestClaimRetriedAfterLostReply(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		t.Run("pipelining="+strconv.FormatBool(pipelining), func(t *testing.T) {
			l := newLossy(t, WithPipelining(pipelining))
			ctx := t.Context()

			var c cache.Claim
			l.lose(t, 1, func() {
				var err error
				if c, err = l.s.Claim(ctx, "new", "fp", longLease); err != nil {
					t.Fatalf("Claim: %v", err)
				}
			})
			if c.Outcome != cache.Acquired || c.InDoubt {
				t.Fatalf("Claim of a new key, reply lost = %v (in doubt %v, until %v), want acquired, not in doubt",
					c.Outcome, c.InDoubt, c.Until)
			}
			if r := mustGet(t, l.s, "new"); r.Token != c.Token || r.ClaimInDoubt {
				t.Fatalf("record %+v, want held under token %d, not flagged", r, c.Token)
			}
			mustClaim(t, l.s, "new", cache.Busy)
			if err := l.s.Complete(ctx, "new", c.Token, testEntry(), longTTL); err != nil {
				t.Fatalf("Complete with the retried claim's token: %v", err)
			}

			first := mustClaim(t, l.s, "doubt", cache.Acquired)
			since := mustGet(t, l.s, "doubt").Since
			if err := l.s.MarkInDoubt(ctx, "doubt", first.Token, longTTL); err != nil {
				t.Fatalf("MarkInDoubt: %v", err)
			}
			l.lose(t, 1, func() {
				var err error
				if c, err = l.s.Claim(ctx, "doubt", "fp", longLease); err != nil {
					t.Fatalf("Claim: %v", err)
				}
			})
			if c.Outcome != cache.Acquired || !c.InDoubt || !c.Since.Equal(since) {
				t.Fatalf("takeover, reply lost = %v (in doubt %v, since %v, until %v), want acquired, in doubt, since %v",
					c.Outcome, c.InDoubt, c.Since, c.Until, since)
			}
			if r := mustGet(t, l.s, "doubt"); r.Token != c.Token || !r.ClaimInDoubt {
				t.Fatalf("record %+v, want held under token %d, flagged", r, c.Token)
			}
			mustClaim(t, l.s, "doubt", cache.Busy)
		})
	}
}

// TestPipelineRetriedAfterLostReply: go-redis sends a pipeline again whole
// when its replies are lost; each claim of the batch is still Acquired.
func TestPipelineRetriedAfterLostReply(t *testing.T) {
	l := newLossy(t)
	g := gated(t, l.s)
	gets := occupySlots(t, l.s, g)
	const n = 3
	results := make(chan claimResult, n)
	queueClaims(t, l.s, "", n, results)
	l.lose(t, n, func() {
		g.release()
		wantNotFound(t, gets)
		wantAcquired(t, results, n)
	})
}

// TestCompleteRetriedAfterLostReply: a Complete whose reply was lost
// succeeds on the client's retry and the record holds its entry; another
// call is fenced as before, with the same token (a second Complete) or
// another.
func TestCompleteRetriedAfterLostReply(t *testing.T) {
	l := newLossy(t, WithPipelining(false))
	ctx := t.Context()
	c := mustClaim(t, l.s, "k", cache.Acquired)
	l.lose(t, 1, func() {
		if err := l.s.Complete(ctx, "k", c.Token, testEntry(), longTTL); err != nil {
			t.Fatalf("Complete, reply lost: %v", err)
		}
	})
	got := mustClaim(t, l.s, "k", cache.Completed).Entry
	if want := testEntry(); got.Status != want.Status || !bytes.Equal(got.Body, want.Body) || !got.StoredAt.Equal(want.StoredAt) {
		t.Fatalf("replayed %+v, want %+v", got, want)
	}
	before, x := l.fields(t, "k")
	for _, token := range []cache.Token{c.Token, c.Token + 1} {
		wantErr(t, "Complete again", l.s.Complete(ctx, "k", token, &cache.Entry{Status: 500}, longTTL), cache.ErrFenced)
		wantErr(t, "MarkInDoubt after Complete", l.s.MarkInDoubt(ctx, "k", token, longTTL), cache.ErrFenced)
		wantErr(t, "Release after Complete", l.s.Release(ctx, "k", token), cache.ErrFenced)
	}
	if after, y := l.fields(t, "k"); !maps.Equal(after, before) || y != x {
		t.Fatalf("record changed by fenced calls: %q (expiry %d), was %q (expiry %d)", after, y, before, x)
	}
}

// TestMarkInDoubtRetriedAfterLostReply: a MarkInDoubt whose reply was lost
// succeeds on the client's retry; another call is fenced as before.
func TestMarkInDoubtRetriedAfterLostReply(t *testing.T) {
	l := newLossy(t, WithPipelining(false))
	ctx := t.Context()
	c := mustClaim(t, l.s, "k", cache.Acquired)
	l.lose(t, 1, func() {
		if err := l.s.MarkInDoubt(ctx, "k", c.Token, longTTL); err != nil {
			t.Fatalf("MarkInDoubt, reply lost: %v", err)
		}
	})
	if r := mustGet(t, l.s, "k"); r.State != cache.InDoubt {
		t.Fatalf("record %+v, want in doubt", r)
	}
	before, x := l.fields(t, "k")
	for _, token := range []cache.Token{c.Token, c.Token + 1} {
		wantErr(t, "MarkInDoubt again", l.s.MarkInDoubt(ctx, "k", token, longTTL), cache.ErrFenced)
		wantErr(t, "Complete after MarkInDoubt", l.s.Complete(ctx, "k", token, testEntry(), longTTL), cache.ErrFenced)
		wantErr(t, "Renew after MarkInDoubt", l.s.Renew(ctx, "k", token, longLease), cache.ErrFenced)
	}
	if after, y := l.fields(t, "k"); !maps.Equal(after, before) || y != x {
		t.Fatalf("record changed by fenced calls: %q (expiry %d), was %q (expiry %d)", after, y, before, x)
	}
	if c := mustClaim(t, l.s, "k", cache.Acquired); !c.InDoubt {
		t.Fatal("claim after MarkInDoubt not flagged in doubt")
	}
}

// TestResolveRetriedAfterLostReply: a Resolve with an entry whose reply was
// lost succeeds on the client's retry, and a second Resolve is refused as
// before; one with a nil entry leaves nothing to recognise, and its retry
// reports ErrNotFound with the key absent, as documented.
func TestResolveRetriedAfterLostReply(t *testing.T) {
	l := newLossy(t, WithPipelining(false))
	ctx := t.Context()
	for _, key := range []string{"entry", "nil"} {
		c := mustClaim(t, l.s, key, cache.Acquired)
		if err := l.s.MarkInDoubt(ctx, key, c.Token, longTTL); err != nil {
			t.Fatalf("MarkInDoubt: %v", err)
		}
	}
	l.lose(t, 1, func() {
		if err := l.s.Resolve(ctx, "entry", testEntry(), longTTL); err != nil {
			t.Fatalf("Resolve, reply lost: %v", err)
		}
	})
	mustClaim(t, l.s, "entry", cache.Completed)
	wantErr(t, "Resolve again", l.s.Resolve(ctx, "entry", testEntry(), longTTL), cache.ErrNotInDoubt)

	l.lose(t, 1, func() {
		wantErr(t, "Resolve(nil), reply lost", l.s.Resolve(ctx, "nil", nil, longTTL), cache.ErrNotFound)
	})
	_, err := l.s.Get(ctx, "nil")
	wantErr(t, "Get after Resolve(nil)", err, cache.ErrNotFound)
}

// TestReleaseRetriedAfterLostReply: Release leaves nothing to recognise, so
// its retry finds the key absent and reports ErrFenced, as documented on
// Store.Release; the claim was released all the same.
func TestReleaseRetriedAfterLostReply(t *testing.T) {
	l := newLossy(t, WithPipelining(false))
	ctx := t.Context()
	c := mustClaim(t, l.s, "k", cache.Acquired)
	l.lose(t, 1, func() {
		wantErr(t, "Release, reply lost", l.s.Release(ctx, "k", c.Token), cache.ErrFenced)
	})
	_, err := l.s.Get(ctx, "k")
	wantErr(t, "Get after Release", err, cache.ErrNotFound)
	if c := mustClaim(t, l.s, "k", cache.Acquired); c.InDoubt {
		t.Fatal("claim after Release flagged in doubt")
	}
}

// TestRenewAndDeleteRetriedAfterLostReply: Renew and Delete are idempotent
// as they are.
func TestRenewAndDeleteRetriedAfterLostReply(t *testing.T) {
	l := newLossy(t, WithPipelining(false))
	ctx := t.Context()
	c := mustClaim(t, l.s, "k", cache.Acquired)
	l.lose(t, 1, func() {
		if err := l.s.Renew(ctx, "k", c.Token, longLease); err != nil {
			t.Fatalf("Renew, reply lost: %v", err)
		}
	})
	if r := mustGet(t, l.s, "k"); r.Token != c.Token || r.State != cache.InFlight {
		t.Fatalf("record %+v, want held under token %d", r, c.Token)
	}
	l.lose(t, 1, func() {
		if err := l.s.Delete(ctx, "k"); err != nil {
			t.Fatalf("Delete, reply lost: %v", err)
		}
	})
	_, err := l.s.Get(ctx, "k")
	wantErr(t, "Get after Delete", err, cache.ErrNotFound)
}

// TestScriptsRunTwice runs each settling script twice with the same
// arguments, as a retry sends them, and then with those of other calls: the
// second run answers as the first and leaves the record as it was; a call
// with another id or token is fenced.
func TestScriptsRunTwice(t *testing.T) {
	l := newLossy(t, WithPipelining(false))
	s := l.s
	ctx := t.Context()
	run := func(key string, sc *goredis.Script, args []any) int64 {
		t.Helper()
		v, err := s.run(ctx, "test", key, sc, args...)
		if err != nil {
			t.Fatalf("script on %s: %v", key, err)
		}
		code, ok := v.(int64)
		if !ok {
			t.Fatalf("script on %s: reply %#v", key, v)
		}
		return code
	}
	twice := func(key string, sc *goredis.Script, args []any) {
		t.Helper()
		if code := run(key, sc, args); code != codeOK {
			t.Fatalf("first run on %s: %d, want %d", key, code, codeOK)
		}
		before, x := l.fields(t, key)
		if code := run(key, sc, args); code != codeOK {
			t.Fatalf("second run on %s: %d, want %d", key, code, codeOK)
		}
		if after, y := l.fields(t, key); !maps.Equal(after, before) || y != x {
			t.Fatalf("second run changed %s: %q (expiry %d), was %q (expiry %d)", key, after, y, before, x)
		}
	}
	fenced := func(what, key string, sc *goredis.Script, args []any) {
		t.Helper()
		before, x := l.fields(t, key)
		if code := run(key, sc, args); code != codeFenced {
			t.Fatalf("%s on %s: %d, want %d (fenced)", what, key, code, codeFenced)
		}
		if after, y := l.fields(t, key); !maps.Equal(after, before) || y != x {
			t.Fatalf("%s changed %s: %q (expiry %d), was %q (expiry %d)", what, key, after, y, before, x)
		}
	}
	entry := encodeEntry(testEntry(), time.Now())
	completeArgs := func(key string, token cache.Token, id string) []any {
		return []any{s.wakeChannel(key), formatToken(token), id, millis(longTTL), entry}
	}
	doubtArgs := func(key string, token cache.Token, id string) []any {
		return []any{s.wakeChannel(key), formatToken(token), id, millis(longTTL)}
	}

	c := mustClaim(t, s, "done", cache.Acquired)
	id := newCallID()
	twice("done", s.scripts.complete, completeArgs("done", c.Token, id))
	fenced("Complete, same token, new call", "done", s.scripts.complete, completeArgs("done", c.Token, newCallID()))
	fenced("Complete, other token", "done", s.scripts.complete, completeArgs("done", c.Token+1, newCallID()))
	fenced("MarkInDoubt with the Complete's id", "done", s.scripts.markInDoubt, doubtArgs("done", c.Token, id))

	c = mustClaim(t, s, "doubt", cache.Acquired)
	id = newCallID()
	twice("doubt", s.scripts.markInDoubt, doubtArgs("doubt", c.Token, id))
	fenced("MarkInDoubt, same token, new call", "doubt", s.scripts.markInDoubt, doubtArgs("doubt", c.Token, newCallID()))
	fenced("MarkInDoubt, other token", "doubt", s.scripts.markInDoubt, doubtArgs("doubt", c.Token+1, newCallID()))
	fenced("Complete with the MarkInDoubt's id", "doubt", s.scripts.complete, completeArgs("doubt", c.Token, id))

	// A takeover writes its own token over the settling call's id, which
	// fences a retry of the settle from then on.
	taken := mustClaim(t, s, "doubt", cache.Acquired)
	fenced("MarkInDoubt retried after a takeover", "doubt", s.scripts.markInDoubt, doubtArgs("doubt", c.Token, id))
	twice("doubt", s.scripts.markInDoubt, doubtArgs("doubt", taken.Token, newCallID()))

	resolveArgs := func(id string) []any { return []any{s.wakeChannel("doubt"), id, millis(longTTL), entry} }
	twice("doubt", s.scripts.resolve, resolveArgs(newCallID()))
	if code := run("doubt", s.scripts.resolve, resolveArgs(newCallID())); code != codeNotInDoubt {
		t.Fatalf("second Resolve: %d, want %d (not in doubt)", code, codeNotInDoubt)
	}
	fenced("Complete after Resolve", "doubt", s.scripts.complete, completeArgs("doubt", taken.Token, newCallID()))
}

// TestClaimScriptRunTwice runs the claim script twice with the same token,
// as a retry sends it, for a new claim and for a takeover: the second run
// answers as the first and leaves the record as it was; a claim with
// another token is Busy.
func TestClaimScriptRunTwice(t *testing.T) {
	l := newLossy(t, WithPipelining(false))
	s := l.s
	ctx := t.Context()
	run := func(key string, token cache.Token) any {
		t.Helper()
		v, err := s.run(ctx, "claim", key, s.scripts.claim, "fp", formatToken(token), millis(longLease), millis(longTTL))
		if err != nil {
			t.Fatalf("claim script on %s: %v", key, err)
		}
		return v
	}
	twice := func(key string, token cache.Token) any {
		t.Helper()
		first := run(key, token)
		before, x := l.fields(t, key)
		second := run(key, token)
		if fmt.Sprint(second) != fmt.Sprint(first) {
			t.Fatalf("claim of %s run again: %#v, first run %#v", key, second, first)
		}
		if after, y := l.fields(t, key); !maps.Equal(after, before) || y != x {
			t.Fatalf("second run changed %s: %q (expiry %d), was %q (expiry %d)", key, after, y, before, x)
		}
		return first
	}
	busy := func(key string) {
		t.Helper()
		c, err := parseClaim(run(key, newToken()), 0)
		if err != nil || c.Outcome != cache.Busy {
			t.Fatalf("claim of %s with another token: %v, %v; want busy", key, c.Outcome, err)
		}
	}

	token := newToken()
	if c, err := parseClaim(twice("k", token), token); err != nil || c.Outcome != cache.Acquired || c.InDoubt {
		t.Fatalf("new claim: %+v, %v; want acquired, not in doubt", c, err)
	}
	busy("k")

	since := mustGet(t, s, "k").Since
	if err := s.MarkInDoubt(ctx, "k", token, longTTL); err != nil {
		t.Fatalf("MarkInDoubt: %v", err)
	}
	token = newToken()
	if c, err := parseClaim(twice("k", token), token); err != nil || c.Outcome != cache.Acquired || !c.InDoubt || !c.Since.Equal(since) {
		t.Fatalf("takeover: %+v, %v; want acquired, in doubt, since %v", c, err, since)
	}
	busy("k")
}

// TestClaimWithLostReplyReleased: a Claim whose reply is lost and not
// retried fails, though the script ran on the server; the Store releases
// the claim it may have left, so the key is not held by nobody (busy for a
// lease, then in doubt) for an operation its caller never sent.
func TestClaimWithLostReplyReleased(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprint("pipelining=", pipelining), func(t *testing.T) {
			l := newLossyRetrying(t, -1, WithPipelining(pipelining))
			before := l.evalshaCalls(t)
			l.armed.Store(true)
			if _, err := l.s.Claim(t.Context(), "lost", "fp", time.Minute); err == nil {
				t.Fatal("setup: Claim with its reply lost succeeded")
			}
			if l.armed.Load() {
				t.Fatal("setup: no reply was lost")
			}
			if err := l.s.Close(); err != nil { // waits for the release
				t.Fatal(err)
			}
			if n := l.evalshaCalls(t) - before; n != 2 {
				t.Fatalf("the server ran %d scripts, want 2 (the claim, then its release)", n)
			}
			if f, _ := l.fields(t, "lost"); len(f) != 0 {
				t.Fatalf("record left after the lost claim: %v", f)
			}
		})
	}
}
