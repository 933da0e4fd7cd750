package idemhttp_test

// Crash safety, with real OS processes: the test binary re-executes itself
// as an agent (runChild), which the test kills with SIGKILL at the worst
// moment (after the provider performed the effect, before the response is
// read and recorded); the test then plays the restarted agent on the same
// SQLite file.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	redisstore "github.com/idemhttp/idemhttp/cache/redis"
	"github.com/idemhttp/idemhttp/cache/sqlite"
	"github.com/idemhttp/idemhttp/internal/faultserver"
	"github.com/idemhttp/idemhttp/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

const (
	childEnv   = "IDEMHTTP_TEST_CHILD" // the operation the child performs
	serverEnv  = "IDEMHTTP_TEST_SERVER"
	dbEnv      = "IDEMHTTP_TEST_DB"
	crashLease = 300 * time.Millisecond
)

const crashScope = "agent-session-1"

// crashOps are the operations a child can perform, by name.
var crashOps = map[string]func(context.Context, *http.Client) result{
	"charge": func(ctx context.Context, c *http.Client) result {
		return post(ctx, c, stripeHost, "/v1/charges", formType, chargeBody)
	},
	"email": func(ctx context.Context, c *http.Client) result {
		return post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hello Ann"))
	},
}

// runChild is the child process's main: one operation, or "hammer".
func runChild() int {
	store, err := openChildStore(os.Getenv(dbEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer store.Close()
	pol := testPolicy()
	pol.Lease = crashLease
	op := os.Getenv(childEnv)
	if op == "hammer" {
		// Nobody crashes: a lease that outlasts any stall of a loaded
		// machine, so no claim is taken over (in doubt) while its holder
		// still works.
		pol.Lease = 10 * time.Second
	}
	c := &http.Client{Transport: idemhttp.New(
		idemhttp.WithBase(loopbackBase(strings.TrimPrefix(os.Getenv(serverEnv), "http://"))),
		idemhttp.WithStore(store), idemhttp.WithProviders(testProviders()...), idemhttp.WithPolicy(pol))}
	ctx := idemhttp.WithScope(context.Background(), crashScope)
	if op == "hammer" {
		return hammer(ctx, c)
	}
	r := crashOps[op](ctx, c)
	if r.err != nil {
		fmt.Fprintln(os.Stderr, "child:", r.err)
		return 1
	}
	fmt.Println(r.resp.StatusCode, r.body)
	return 0
}

// childStore is a store a child process can close.
type childStore interface {
	cache.Store
	Close() error
}

// openChildStore opens the SQLite file or the redis:// address db.
func openChildStore(db string) (childStore, error) {
	if addr, ok := strings.CutPrefix(db, "redis://"); ok {
		return redisstore.New(goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true})), nil
	}
	return sqlite.Open(db)
}

// hammer sends 50 overlapping bookings from 8 goroutines.
func hammer(ctx context.Context, c *http.Client) int {
	var wg sync.WaitGroup
	var failed sync.Map
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				op := (i + g*7) % 50
				r := post(ctx, c, bookingsHost, "/bookings", jsonType, fmt.Sprintf(`{"slot":%d}`, op))
				if r.err != nil || r.resp.StatusCode != 201 {
					failed.Store(op, fmt.Sprint(r.err))
				}
			}
		}()
	}
	wg.Wait()
	code := 0
	failed.Range(func(k, v any) bool { fmt.Fprintln(os.Stderr, "op", k, v); code = 1; return true })
	return code
}

// startChild starts the test binary as a child performing op.
func startChild(t *testing.T, srv *faultserver.Server, db, op string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+op, serverEnv+"="+srv.URL(), dbEnv+"="+db)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// killAfterEffect starts a child performing op against a route that hangs
// after performing the effect, and kills it with SIGKILL once the effect
// happened: the worst moment.
func killAfterEffect(t *testing.T, e *env, db, op, path string) {
	t.Helper()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.srv.Inject("POST", path, faultserver.HangFault(release))
	cmd, out := startChild(t, e.srv, db, op)
	e.await(func() bool { return e.srv.RouteEffects("POST", path) == 1 })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	// The provider notices its client is gone.
	e.await(func() bool { return e.srv.Received("POST", path)[0].Finished })
}

// restarted returns a client for the restarted agent on db.
func (e *env) restarted(t *testing.T, db string) *http.Client {
	t.Helper()
	store, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.store = store
	return e.client()
}

// A de-duplicating provider: the restarted agent takes over the expired
// claim in doubt and re-sends with the SAME key; the provider replays.
func TestCrashAfterEffectDedupProvider(t *testing.T) {
	e := newEnv(t)
	db := filepath.Join(t.TempDir(), "record.db")
	killAfterEffect(t, e, db, "charge", "/v1/charges")

	c := e.restarted(t, db)
	r := crashOps["charge"](idemhttp.WithScope(context.Background(), crashScope), c)
	if r.err != nil || r.resp.StatusCode != 200 || !idemhttp.Replayed(r.resp) {
		t.Fatalf("restart: %v %v", r.err, r.resp)
	}
	if n := e.srv.RouteEffects("POST", "/v1/charges"); n != 1 {
		t.Fatalf("charged %d times across the crash", n)
	}
	rs := e.srv.Received("POST", "/v1/charges")
	if len(rs) != 2 || rs[0].Header.Get("Idempotency-Key") != rs[1].Header.Get("Idempotency-Key") {
		t.Fatalf("want the same key re-sent once, got %d requests", len(rs))
	}
	// The provider's replay is now recorded: a third call stays local.
	if r := crashOps["charge"](idemhttp.WithScope(context.Background(), crashScope), c); !idemhttp.Replayed(r.resp) || e.srv.Requests("POST", "/v1/charges") != 2 {
		t.Fatalf("not recorded after restart: %v", r.err)
	}
}

// A provider that does not de-duplicate: the restarted agent does NOT
// re-send; the operation is in doubt.
func TestCrashAfterEffectNoDedupProvider(t *testing.T) {
	e := newEnv(t)
	db := filepath.Join(t.TempDir(), "record.db")
	killAfterEffect(t, e, db, "email", "/v3/mail/send")

	c := e.restarted(t, db)
	for range 2 {
		r := crashOps["email"](idemhttp.WithScope(context.Background(), crashScope), c)
		if !errors.Is(r.err, idemhttp.ErrInDoubt) {
			t.Fatalf("restart: want ErrInDoubt, got %v", r.err)
		}
	}
	if n := e.srv.Requests("POST", "/v3/mail/send"); n != 1 {
		t.Fatalf("email re-sent after the crash: %d sends", n)
	}
	// With a probe, the restarted agent settles it without sending.
	var calls atomic.Int32
	e.withProbe(lookupProbe(&calls), false)
	r := crashOps["email"](idemhttp.WithScope(context.Background(), crashScope), e.client())
	if r.err != nil || !idemhttp.Replayed(r.resp) || calls.Load() != 1 || e.srv.RouteEffects("POST", "/v3/mail/send") != 1 {
		t.Fatalf("probe after restart: %v (probe calls %d)", r.err, calls.Load())
	}
}

// failingTransport stands for a network that is gone.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("network unreachable")
}

// Completed records replay after a restart without touching the network.
func TestCompletedReplaysAfterRestartOffline(t *testing.T) {
	e := newEnv(t)
	db := filepath.Join(t.TempDir(), "record.db")
	cmd, out := startChild(t, e.srv, db, "charge")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	store, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	offline := &http.Client{Transport: idemhttp.New(idemhttp.WithBase(failingTransport{}),
		idemhttp.WithStore(store), idemhttp.WithProviders(testProviders()...), idemhttp.WithPolicy(testPolicy()))}
	r := crashOps["charge"](idemhttp.WithScope(context.Background(), crashScope), offline)
	if r.err != nil || !idemhttp.Replayed(r.resp) {
		t.Fatalf("offline replay: %v", r.err)
	}
	if want := strings.TrimSpace(out.String()); want != strings.TrimSpace(strconv.Itoa(r.resp.StatusCode)+" "+r.body) {
		t.Fatalf("replay %q differs from the child's answer %q", r.body, want)
	}
}

// Two processes hammer one store with overlapping operations: one
// execution per operation at a provider that does not de-duplicate.
func TestTwoProcessesOneStore(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "record.db") },
		"redis":  func(t *testing.T) string { return "redis://" + redistest.Start(t).Addr() },
	}
	for name, db := range stores {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			db := db(t)
			a, outA := startChild(t, e.srv, db, "hammer")
			b, outB := startChild(t, e.srv, db, "hammer")
			if err := a.Wait(); err != nil {
				t.Fatalf("process A: %v\n%s", err, outA)
			}
			if err := b.Wait(); err != nil {
				t.Fatalf("process B: %v\n%s", err, outB)
			}
			effects := e.srv.EffectsByID()
			if len(effects) != 50 {
				t.Fatalf("%d distinct operations executed, want 50", len(effects))
			}
			for id, n := range effects {
				if n != 1 {
					t.Errorf("%s executed %d times", id, n)
				}
			}
		})
	}
}

// An in-doubt operation is re-sent with its key to a de-duplicating
// provider only while the provider still remembers the key: past its
// retention, the same key could execute again, so the call is in doubt.
func TestInDoubtResentOnlyWithinProviderRetention(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retention time.Duration
		age       time.Duration // how long ago the first attempt began
		resent    bool
	}{{"within", 2 * time.Hour, time.Hour, true}, {"past", time.Minute, time.Hour, false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.policy.Lease = 200 * time.Millisecond
			dateClaimsBack(e, tc.age)
			for i := range e.provs {
				if e.provs[i].Name == "orders" {
					e.provs[i].Retention = tc.retention
				}
			}
			order := func(rt http.RoundTripper) (*http.Response, error) {
				req, _ := http.NewRequest("POST", "http://"+ordersHost+"/orders", strings.NewReader(`{"sku":"R-1"}`))
				req.Header.Set("Content-Type", jsonType)
				return rt.RoundTrip(req)
			}
			// A process that sent the order and died before recording it
			// (a panic leaves the record in doubt).
			func() {
				defer func() { recover() }()
				order(e.transport(idemhttp.WithBase(&panicAfterSend{base: e.base})))
			}()
			if n := e.srv.RouteEffects("POST", "/orders"); n != 1 {
				t.Fatalf("setup: %d orders", n)
			}
			resp, err := order(e.transport())
			if tc.resent {
				if err != nil || resp.StatusCode != 201 || !idemhttp.Replayed(resp) {
					t.Fatalf("within retention: want the provider's replay, got %v", err)
				}
				resp.Body.Close()
			} else if !errors.Is(err, idemhttp.ErrInDoubt) {
				t.Fatalf("past retention: want ErrInDoubt, got %v", err)
			}
			if n := e.srv.RouteEffects("POST", "/orders"); n != 1 {
				t.Fatalf("%d orders", n)
			}
			want := 1
			if tc.resent {
				want = 2
			}
			if n := e.srv.Requests("POST", "/orders"); n != want {
				t.Fatalf("%d requests, want %d", n, want)
			}
		})
	}
}
