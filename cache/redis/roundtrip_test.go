package redis

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/redistest"
)

// commandCounter is a go-redis hook that records the commands a client sends,
// one entry per command, whether sent by itself or in a pipeline.
type commandCounter struct {
	mu   sync.Mutex
	sent []string
}

func (c *commandCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *commandCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.record(cmd.Name())
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, cmd := range cmds {
			c.record(cmd.Name())
		}
		return next(ctx, cmds)
	}
}

func (c *commandCounter) record(name string) {
	c.mu.Lock()
	c.sent = append(c.sent, name)
	c.mu.Unlock()
}

// take returns the commands recorded since the last take.
func (c *commandCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	sent := c.sent
	c.sent = nil
	return sent
}

// TestOneRoundTrip checks that a claim, a completion and a replay are one
// command each once the scripts are cached by the server (the first use of
// a script after a server start or SCRIPT FLUSH costs one more: EVALSHA
// answers NOSCRIPT, then EVAL), with and without pipelining.
func TestOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	for _, pipelining := range []bool{false, true} {
		t.Run(fmt.Sprint("pipelining=", pipelining), func(t *testing.T) {
			testOneRoundTrip(t, srv, WithPipelining(pipelining))
		})
	}
}

func testOneRoundTrip(t *testing.T, srv *redistest.Server, opts ...Option) {
	counter := &commandCounter{}
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	client.AddHook(counter)
	s := newTestStore(t, client, opts...)
	ctx := t.Context()

	// Warm up: load every script on the server.
	c := mustClaim(t, s, "warm", cache.Acquired)
	if err := s.Complete(ctx, "warm", c.Token, testEntry(), longTTL); err != nil {
		t.Fatal(err)
	}
	counter.take()

	steps := []struct {
		name string
		run  func()
	}{
		{"claim", func() { c = mustClaim(t, s, "k", cache.Acquired) }},
		{"complete", func() {
			if err := s.Complete(ctx, "k", c.Token, testEntry(), longTTL); err != nil {
				t.Fatal(err)
			}
		}},
		{"replay", func() { mustClaim(t, s, "k", cache.Completed) }},
		{"get", func() {
			if _, err := s.Get(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, step := range steps {
		step.run()
		if sent := counter.take(); len(sent) != 1 {
			t.Errorf("%s sent %d commands %v, want 1", step.name, len(sent), sent)
		}
	}
}

// TestOneRoundTripOnTheWire counts what reaches the server: requests written
// on the client's connections, through a dial hook, with and without
// pipelining.
func TestOneRoundTripOnTheWire(t *testing.T) {
	srv := redistest.Start(t)
	for _, pipelining := range []bool{false, true} {
		t.Run(fmt.Sprint("pipelining=", pipelining), func(t *testing.T) {
			testOneRoundTripOnTheWire(t, srv, WithPipelining(pipelining))
		})
	}
}

func testOneRoundTripOnTheWire(t *testing.T, srv *redistest.Server, opts ...Option) {
	writes := &writeCounter{}
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Dialer: writes.dial})
	t.Cleanup(func() { _ = client.Close() })
	s := newTestStore(t, client, opts...)
	ctx := t.Context()

	c := mustClaim(t, s, "warm", cache.Acquired)
	if err := s.Complete(ctx, "warm", c.Token, testEntry(), longTTL); err != nil {
		t.Fatal(err)
	}
	writes.take()
	c = mustClaim(t, s, "k", cache.Acquired)
	if n := writes.take(); n != 1 {
		t.Errorf("claim: %d writes, want 1", n)
	}
	if err := s.Complete(ctx, "k", c.Token, testEntry(), longTTL); err != nil {
		t.Fatal(err)
	}
	if n := writes.take(); n != 1 {
		t.Errorf("complete: %d writes, want 1", n)
	}
	mustClaim(t, s, "k", cache.Completed)
	if n := writes.take(); n != 1 {
		t.Errorf("replay: %d writes, want 1", n)
	}
}

// writeCounter dials connections that count their Write calls. go-redis
// writes each command with one Write.
type writeCounter struct {
	mu sync.Mutex
	n  int
}

func (w *writeCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, counter: w}, nil
}

func (w *writeCounter) take() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.n
	w.n = 0
	return n
}

type countingConn struct {
	net.Conn
	counter *writeCounter
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.counter.mu.Lock()
	c.counter.n++
	c.counter.mu.Unlock()
	return c.Conn.Write(p)
}
