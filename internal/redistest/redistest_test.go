package redistest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/idemhttp/idemhttp/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStartKillRestart(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	addr := srv.Addr()

	srv.Kill()
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(short).Err(); err == nil {
		t.Fatal("PING answered after Kill")
	}

	srv.Restart()
	if srv.Addr() != addr {
		t.Fatalf("Restart moved the server from %s to %s", addr, srv.Addr())
	}
	// The same client reconnects on its own; the restarted server is empty.
	n, err := c.Exists(ctx, "k").Result()
	if err != nil {
		t.Fatalf("EXISTS after restart: %v", err)
	}
	if n != 0 {
		t.Fatal("restarted server kept data; it must start empty")
	}
}

func TestStartPassesArgs(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "3mb")
	got, err := srv.Client().ConfigGet(t.Context(), "maxmemory").Result()
	if err != nil {
		t.Fatalf("CONFIG GET: %v", err)
	}
	if got["maxmemory"] != fmt.Sprint(3<<20) {
		t.Fatalf("maxmemory = %q, want %d", got["maxmemory"], 3<<20)
	}
}

func TestStartCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	if n := len(cl.Addrs()); n != 3 {
		t.Fatalf("%d nodes, want 3", n)
	}
	c := cl.Client()
	ctx := t.Context()
	// Enough keys to land on every master.
	for i := range 30 {
		if err := c.Set(ctx, fmt.Sprint("key-", i), i, 0).Err(); err != nil {
			t.Fatalf("SET key-%d: %v", i, err)
		}
	}
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		n, err := m.DBSize(ctx).Result()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("master %s holds no key", m.Options().Addr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
