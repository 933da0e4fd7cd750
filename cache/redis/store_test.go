package redis

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/cache/cachetest"
	"github.com/idemhttp/idemhttp/internal/redistest"
)

func TestConformanceStandalone(t *testing.T) {
	client := redistest.Start(t).Client()
	cachetest.Run(t, func(t *testing.T) cache.Store { return newTestStore(t, client) })
}

func TestConformanceWithoutPipelining(t *testing.T) {
	client := redistest.Start(t).Client()
	cachetest.Run(t, func(t *testing.T) cache.Store { return newTestStore(t, client, WithPipelining(false)) })
}

func TestConformanceCluster(t *testing.T) {
	client := redistest.StartCluster(t, 3).Client()
	cachetest.Run(t, func(t *testing.T) cache.Store { return newTestStore(t, client) })
}

// TestClusterSpreadsRecords checks that records of one store land on every
// master of a cluster (each script touches one key, no hash tag needed).
func TestClusterSpreadsRecords(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	client := cluster.Client()
	s := newTestStore(t, client)
	ctx := t.Context()
	for i := range 60 {
		key := string(rune('a'+i%26)) + string(rune('a'+i/26))
		c := mustClaim(t, s, key, cache.Acquired)
		if err := s.Complete(ctx, key, c.Token, testEntry(), longTTL); err != nil {
			t.Fatalf("Complete(%q): %v", key, err)
		}
		mustClaim(t, s, key, cache.Completed)
	}
	for _, n := range cluster.Nodes() {
		keys, err := n.Client().DBSize(ctx).Result()
		if err != nil {
			t.Fatalf("DBSIZE %s: %v", n.Addr(), err)
		}
		if keys == 0 {
			t.Errorf("master %s holds no record", n.Addr())
		}
	}
}

func TestEntryKeptByteForByte(t *testing.T) {
	s := newTestStore(t, redistest.Start(t).Client())
	ctx := t.Context()
	want := testEntry()
	c := mustClaim(t, s, "k", cache.Acquired)
	if err := s.Complete(ctx, "k", c.Token, want, longTTL); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	got := mustClaim(t, s, "k", cache.Completed).Entry
	if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) || !got.StoredAt.Equal(want.StoredAt) {
		t.Fatalf("replayed %+v, want %+v", got, want)
	}
	if d := headerDiff(got, want); d != "" {
		t.Fatal(d)
	}
}

// TestExpiryMatchesRecord checks the key's expiry in Redis against the
// record: lease end + abandoned TTL in flight, the ttl once completed.
func TestExpiryMatchesRecord(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.Client(), WithAbandonedTTL(2*time.Hour))
	ctx := t.Context()
	raw := srv.Client()

	c := mustClaim(t, s, "k", cache.Acquired)
	r, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if want := r.LeaseUntil.Add(2 * time.Hour); !r.ExpiresAt.Equal(want) {
		t.Errorf("in flight: ExpiresAt %v, want the 2h abandoned TTL after the lease, %v", r.ExpiresAt, want)
	}
	wantPExpireTime(t, raw, s.recordKey("k"), r.ExpiresAt)

	if err := s.Complete(ctx, "k", c.Token, testEntry(), 10*time.Minute); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	r, err = s.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if r.ExpiresAt.After(time.Now().Add(11 * time.Minute)) {
		t.Errorf("completed: ExpiresAt %v beyond the 10m ttl", r.ExpiresAt)
	}
	wantPExpireTime(t, raw, s.recordKey("k"), r.ExpiresAt)
}

// TestZeroTTLKeepsRecord checks that ttl <= 0 keeps a record until deleted.
func TestZeroTTLKeepsRecord(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.Client())
	ctx := t.Context()
	for _, key := range []string{"done", "doubt"} {
		c := mustClaim(t, s, key, cache.Acquired)
		var err error
		if key == "done" {
			err = s.Complete(ctx, key, c.Token, &cache.Entry{Status: 200}, 0)
		} else {
			err = s.MarkInDoubt(ctx, key, c.Token, -time.Second)
		}
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		r, err := s.Get(ctx, key)
		if err != nil || !r.ExpiresAt.IsZero() {
			t.Fatalf("Get(%s): ExpiresAt %v, err %v; want zero (never)", key, r.ExpiresAt, err)
		}
		ms, err := srv.Client().Do(ctx, "PEXPIRETIME", s.recordKey(key)).Int64()
		if err != nil || ms != -1 {
			t.Fatalf("PEXPIRETIME %s = %d, %v; want -1 (no expiry)", key, ms, err)
		}
	}
	// A claim of the in-doubt record keeps it forever too.
	mustClaim(t, s, "doubt", cache.Acquired)
	if r, err := s.Get(ctx, "doubt"); err != nil || !r.ExpiresAt.IsZero() || !r.ClaimInDoubt {
		t.Fatalf("reclaimed in-doubt record: %+v, %v; want kept forever, flagged", r, err)
	}
}

// TestRecordFields checks the fields each state leaves in the record hash
// (see scripts.go), as the scripts change records in place: nothing of
// the claim but t is left in a settled record, and t is then the id of the
// call that settled it, not the claim's token; a takeover keeps the
// fingerprint and first-claim time.
func TestRecordFields(t *testing.T) {
	srv := redistest.Start(t)
	raw := srv.Client()
	s := newTestStore(t, raw)
	ctx := t.Context()
	want := func(key string, fields ...string) {
		t.Helper()
		got, err := raw.HKeys(ctx, s.recordKey(key)).Result()
		if err != nil {
			t.Fatalf("HKEYS %s: %v", key, err)
		}
		slices.Sort(got)
		slices.Sort(fields)
		if !slices.Equal(got, fields) {
			t.Fatalf("record %s has fields %q, want %q", key, got, fields)
		}
	}
	c := mustClaim(t, s, "k", cache.Acquired)
	want("k", "s", "p", "t", "l", "x", "i")
	since := mustGet(t, s, "k").Since
	if err := s.MarkInDoubt(ctx, "k", c.Token, longTTL); err != nil {
		t.Fatalf("MarkInDoubt: %v", err)
	}
	want("k", "s", "p", "t", "x", "i")
	wantSettledBy(t, raw, s.recordKey("k"), c.Token)
	c = mustClaim(t, s, "k", cache.Acquired)
	want("k", "s", "p", "t", "l", "q", "x", "i")
	if r := mustGet(t, s, "k"); !r.ClaimInDoubt || !r.Since.Equal(since) || r.Fingerprint != "fp" || r.Token != c.Token {
		t.Fatalf("taken over: %+v; want flagged, since %v, fingerprint fp, token %v", r, since, c.Token)
	}
	if err := s.Complete(ctx, "k", c.Token, testEntry(), longTTL); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	want("k", "s", "p", "t", "e", "x", "i")
	wantSettledBy(t, raw, s.recordKey("k"), c.Token)
	if r := mustGet(t, s, "k"); r.State != cache.Done || !r.Since.Equal(since) || r.Fingerprint != "fp" {
		t.Fatalf("completed: %+v; want done, since %v, fingerprint fp", r, since)
	}
}

// wantSettledBy fails the test unless the settled record under key holds
// a call id in t, and not the token of the claim it settled.
func wantSettledBy(t *testing.T, raw goredis.UniversalClient, key string, claim cache.Token) {
	t.Helper()
	id, err := raw.HGet(t.Context(), key, "t").Result()
	if err != nil {
		t.Fatalf("HGET %s t: %v", key, err)
	}
	if n, err := strconv.ParseUint(id, 10, 64); err != nil || n == 0 {
		t.Fatalf("settled record %s: t = %q, want a call id", key, id)
	}
	if id == formatToken(claim) {
		t.Fatalf("settled record %s: t is the claim's token %s, want the settling call's id", key, id)
	}
}

func wantPExpireTime(t *testing.T, raw goredis.UniversalClient, key string, want time.Time) {
	t.Helper()
	ms, err := raw.Do(t.Context(), "PEXPIRETIME", key).Int64()
	if err != nil {
		t.Fatalf("PEXPIRETIME: %v", err)
	}
	if ms != want.UnixMilli() {
		t.Fatalf("key expires at %d, record says %d", ms, want.UnixMilli())
	}
}

// TestCorruptRecords checks that records Redis holds in an unexpected shape
// are reported as ErrUnavailable, without a panic and without being changed.
func TestCorruptRecords(t *testing.T) {
	srv := redistest.Start(t)
	raw := srv.Client()
	s := newTestStore(t, raw)
	ctx := t.Context()
	cases := []struct {
		name  string
		setup func(key string) error
	}{
		{"not a hash", func(k string) error { return raw.Set(ctx, k, "junk", 0).Err() }},
		{"unknown state", func(k string) error { return raw.HSet(ctx, k, "s", "z", "p", "fp", "x", "1").Err() }},
		{"bad entry", func(k string) error {
			return raw.HSet(ctx, k, "s", "c", "p", "fp", "e", "\x01\x00\xff\xff", "x", "1").Err()
		}},
		{"truncated entry", func(k string) error {
			e := encodeEntry(testEntry(), time.Now())
			return raw.HSet(ctx, k, "s", "c", "p", "fp", "e", e[:len(e)-1], "x", "1").Err()
		}},
		{"bad first-claim time", func(k string) error {
			return raw.HSet(ctx, k, "s", "d", "p", "fp", "x", "0", "i", "yesterday").Err()
		}},
		{"bad lease", func(k string) error {
			return raw.HSet(ctx, k, "s", "f", "p", "fp", "t", "7", "l", "soon", "x", "1").Err()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.name
			if err := tc.setup(s.recordKey(key)); err != nil {
				t.Fatalf("setup: %v", err)
			}
			before, err := raw.Dump(ctx, s.recordKey(key)).Result()
			if err != nil {
				t.Fatalf("DUMP: %v", err)
			}
			_, err = s.Claim(ctx, key, "fp", longLease)
			wantErr(t, "Claim", err, cache.ErrUnavailable)
			_, err = s.Get(ctx, key)
			wantErr(t, "Get", err, cache.ErrUnavailable)
			after, err := raw.Dump(ctx, s.recordKey(key)).Result()
			if err != nil || after != before {
				t.Fatalf("record changed by failed calls (err %v)", err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatalf("Delete of a corrupt record: %v", err)
			}
			mustClaim(t, s, key, cache.Acquired)
		})
	}
}

func TestEntryTooLargeKeepsClaim(t *testing.T) {
	s := newTestStore(t, redistest.Start(t).Client(), WithMaxEntryBytes(300))
	ctx := t.Context()
	c := mustClaim(t, s, "k", cache.Acquired)
	err := s.Complete(ctx, "k", c.Token, testEntry(), longTTL)
	wantErr(t, "Complete(large)", err, cache.ErrEntryTooLarge)
	if r, err := s.Get(ctx, "k"); err != nil || r.State != cache.InFlight || r.Token != c.Token {
		t.Fatalf("after a refused entry: record %+v, err %v; want still held", r, err)
	}
	small := &cache.Entry{Status: 201, BodyOmitted: true}
	if err := s.Complete(ctx, "k", c.Token, small, longTTL); err != nil {
		t.Fatalf("Complete(small): %v", err)
	}
	if got := mustClaim(t, s, "k", cache.Completed).Entry; !got.BodyOmitted || got.Status != 201 {
		t.Fatalf("replayed %+v", got)
	}
}

func TestInvalidArguments(t *testing.T) {
	s := newTestStore(t, redistest.Start(t).Client())
	ctx := t.Context()
	c := mustClaim(t, s, "k", cache.Acquired)
	calls := map[string]error{
		"Claim(lease 0)":  second(s.Claim(ctx, "j", "fp", 0)),
		"Renew(lease -1)": s.Renew(ctx, "k", c.Token, -1),
		"Complete(nil)":   s.Complete(ctx, "k", c.Token, nil, longTTL),
		"Renew(lease 0)":  s.Renew(ctx, "k", c.Token, 0),
	}
	for call, err := range calls {
		wantErr(t, call, err, errInvalid)
		if errors.Is(err, cache.ErrUnavailable) {
			t.Errorf("%s: a bad argument reported as ErrUnavailable: %v", call, err)
		}
	}
	if r, err := s.Get(ctx, "k"); err != nil || r.Token != c.Token || r.State != cache.InFlight {
		t.Fatalf("bad calls changed the record: %+v, %v", r, err)
	}
	_, err := s.Get(ctx, "j")
	wantErr(t, "Get(j)", err, cache.ErrNotFound)
}

func TestPrefixesAreIsolated(t *testing.T) {
	client := redistest.Start(t).Client()
	a := newTestStore(t, client, WithPrefix("a:"))
	b := newTestStore(t, client, WithPrefix("b:"))
	mustClaim(t, a, "k", cache.Acquired)
	mustClaim(t, b, "k", cache.Acquired)
	n, err := client.Exists(t.Context(), "a:k", "b:k").Result()
	if err != nil || n != 2 {
		t.Fatalf("EXISTS a:k b:k = %d, %v; want 2", n, err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := newTestStore(t, redistest.Start(t).Client())
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := s.Claim(t.Context(), "k", "fp", longLease)
	wantErr(t, "Claim after Close", err, cache.ErrUnavailable)
	err = s.Wait(t.Context(), "k", time.Now().Add(time.Hour))
	wantErr(t, "Wait after Close", err, cache.ErrUnavailable)
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// second returns the error of a two-valued call.
func second[T any](_ T, err error) error { return err }

// headerDiff describes how the headers of got and want differ, or "".
func headerDiff(got, want *cache.Entry) string {
	if !maps.EqualFunc(got.Header, want.Header, slices.Equal[[]string]) {
		return fmt.Sprintf("header %q, want %q", got.Header, want.Header)
	}
	return ""
}
