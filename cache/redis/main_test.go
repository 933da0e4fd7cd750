package redis

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/idemhttp/idemhttp/cache"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Durations of the focused tests.
const (
	longLease = time.Hour
	longTTL   = time.Hour
	// eventuallyDeadline bounds how long a test polls for a condition.
	eventuallyDeadline = 30 * time.Second
	pollEvery          = 10 * time.Millisecond
)

// newTestStore returns a Store on client under a random prefix, closed by
// the test's cleanup.
func newTestStore(tb testing.TB, client goredis.UniversalClient, opts ...Option) *Store {
	tb.Helper()
	prefix := fmt.Sprintf("test-%016x:", rand.Uint64())
	s := New(client, append([]Option{WithPrefix(prefix)}, opts...)...)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// testEntry returns an entry whose body and headers hold every byte value.
func testEntry() *cache.Entry {
	body := make([]byte, 512)
	for i := range body {
		body[i] = byte(i)
	}
	return &cache.Entry{
		Status: http.StatusCreated,
		Header: http.Header{
			"Content-Type": {"application/octet-stream"},
			"X-Binary":     {"\x00\xff\r\n\x80", ""},
		},
		Body:     body,
		StoredAt: time.Date(2025, 3, 4, 5, 6, 7, 891_234_567, time.UTC),
	}
}

// eventually polls cond until it holds, failing the test after a generous
// deadline.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(eventuallyDeadline)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not observed within %v", what, eventuallyDeadline)
		}
		<-tick.C
	}
}

// mustClaim claims key and fails the test unless the outcome is want.
func mustClaim(tb testing.TB, s *Store, key string, want cache.Outcome) cache.Claim {
	tb.Helper()
	c, err := s.Claim(tb.Context(), key, "fp", longLease)
	if err != nil {
		tb.Fatalf("Claim(%q): %v", key, err)
	}
	if c.Outcome != want {
		tb.Fatalf("Claim(%q): outcome %v, want %v", key, c.Outcome, want)
	}
	return c
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(tb testing.TB, call string, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("%s: err = %v, want %v", call, err, target)
	}
}
