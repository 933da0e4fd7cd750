package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/idemhttp/idemhttp/cache"
)

// Benchmarks report throughput as ops/s, where an op of ClaimComplete is one
// Claim of a new key plus its Complete, the hot path of a first request.
//
//	go test -run '^$' -bench . -benchtime 2s ./cache/sqlite/

func reportOpsPerSecond(b *testing.B, ops int) {
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "ops/s")
}

func openBench(b *testing.B, opts ...Option) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// runGoroutines runs op(i) for b.N distinct i on the given number of
// goroutines (at least; RunParallel rounds up to a multiple of GOMAXPROCS).
func runGoroutines(b *testing.B, goroutines int, op func(i int64) error) {
	if goroutines == 1 {
		for i := 0; b.Loop(); i++ {
			if err := op(int64(i)); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var next atomic.Int64
	b.SetParallelism((goroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(next.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkClaimComplete(b *testing.B) {
	for _, tc := range []struct {
		goroutines int
		fullSync   bool
	}{{1, false}, {8, false}, {1, true}} {
		name := fmt.Sprintf("goroutines=%d", tc.goroutines)
		var opts []Option
		if tc.fullSync {
			name, opts = "full-sync/"+name, []Option{WithFullSync()}
		}
		goroutines := tc.goroutines
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := openBench(b, opts...)
			e := testEntry(`{"id":"ch_1","amount":1000}`)
			runGoroutines(b, goroutines, func(i int64) error {
				key := "key-" + strconv.FormatInt(i, 10)
				c, err := s.Claim(ctx, key, "fp", longLease)
				if err != nil {
					return err
				}
				if c.Outcome != cache.Acquired {
					return fmt.Errorf("Claim(%q): %v", key, c.Outcome)
				}
				return s.Complete(ctx, key, c.Token, e, longTTL)
			})
			reportOpsPerSecond(b, b.N)
		})
	}
}

// BenchmarkReplay claims a completed key: the path of every retry and of
// every request repeated after a restart.
func BenchmarkReplay(b *testing.B) {
	for _, goroutines := range []int{1, 8} {
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			ctx := context.Background()
			s := openBench(b)
			c, err := s.Claim(ctx, "done", "fp", longLease)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Complete(ctx, "done", c.Token, testEntry(`{"id":"ch_1","amount":1000}`), longTTL); err != nil {
				b.Fatal(err)
			}
			runGoroutines(b, goroutines, func(int64) error {
				c, err := s.Claim(ctx, "done", "fp", longLease)
				if err == nil && c.Outcome != cache.Completed {
					err = fmt.Errorf("replay: %v", c.Outcome)
				}
				return err
			})
			reportOpsPerSecond(b, b.N)
		})
	}
}

// BenchmarkPlainInsert is the baseline: one INSERT per op of the same key
// and entry bytes into a plain table, on a file with the store's settings.
// ClaimComplete does one read and two such writes per op.
func BenchmarkPlainInsert(b *testing.B) {
	ctx := context.Background()
	s := openBench(b)
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE plain (key TEXT PRIMARY KEY, header BLOB, body BLOB)`); err != nil {
		b.Fatal(err)
	}
	stmt, err := s.writer.PrepareContext(ctx, `INSERT INTO plain (key, header, body) VALUES (?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stmt.Close() }()
	e := testEntry(`{"id":"ch_1","amount":1000}`)
	header := encodeHeader(e.Header)
	runGoroutines(b, 1, func(i int64) error {
		_, err := stmt.ExecContext(ctx, "key-"+strconv.FormatInt(i, 10), header, e.Body)
		return err
	})
	reportOpsPerSecond(b, b.N)
}

// BenchmarkClaimCompleteTwoProcesses runs ClaimComplete in this process and
// in a helper process on the same file at once; ops/s is the combined rate.
func BenchmarkClaimCompleteTwoProcesses(b *testing.B) {
	ctx := context.Background()
	s := openBench(b)
	h := startHelper(b, roleBench, s.Path(), strconv.Itoa(b.N), "", nil)
	if line := h.next(); line != "ready" {
		b.Fatalf("helper said %q", line)
	}
	b.ResetTimer()
	h.send("go")
	if err := claimCompleteN(ctx, s, "parent-", b.N); err != nil {
		b.Fatal(err)
	}
	if line := h.next(); line != "done" {
		b.Fatalf("helper said %q", line)
	}
	b.StopTimer()
	h.wait()
	reportOpsPerSecond(b, 2*b.N)
}
