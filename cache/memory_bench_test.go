package cache_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// benchEntry is a typical API response: a few headers and a 1 KiB body.
func benchEntry() *cache.Entry {
	return &cache.Entry{
		Status: http.StatusOK,
		Header: http.Header{
			"Content-Type": {"application/json"},
			"Request-Id":   {"req_0123456789"},
			"Vary":         {"Accept", "Accept-Encoding"},
		},
		Body: bytes.Repeat([]byte("x"), 1024),
	}
}

// BenchmarkMemoryClaimCompleted measures a replay: Claim on a completed
// record, the hot path of retries and restarts.
func BenchmarkMemoryClaimCompleted(b *testing.B) {
	ctx := context.Background()
	m := cache.NewMemory()
	c, err := m.Claim(ctx, "key", "fp", time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Complete(ctx, "key", c.Token, benchEntry(), time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := m.Claim(ctx, "key", "fp", time.Minute)
		if err != nil || c.Outcome != cache.Completed {
			b.Fatalf("Claim = %v, %v", c.Outcome, err)
		}
	}
}

// BenchmarkMemoryClaimCompletedParallel is the replay under contention from
// all Ps on a thousand keys.
func BenchmarkMemoryClaimCompletedParallel(b *testing.B) {
	ctx := context.Background()
	m := cache.NewMemory()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
		c, err := m.Claim(ctx, keys[i], "fp", time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Complete(ctx, keys[i], c.Token, benchEntry(), time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := m.Claim(ctx, keys[i%len(keys)], "fp", time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMemoryClaimComplete measures recording a new operation: Claim of
// an absent key then Complete, in a full store that evicts as it goes.
func BenchmarkMemoryClaimComplete(b *testing.B) {
	ctx := context.Background()
	m := cache.NewMemory(cache.WithMaxEntries(10_000))
	e := benchEntry()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		k := strconv.Itoa(i)
		c, err := m.Claim(ctx, k, "fp", time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Complete(ctx, k, c.Token, e, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
