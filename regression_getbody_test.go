package idemhttp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/providers"
)

// dropServer is a loopback HTTP/1.1 server on a raw listener. It serves
// keep-alive connections; the first request to dropPath is read whole (it
// "executes") and then its connection is closed without an answer. Every
// other request is answered 200 with a Content-Length, keeping the connection.
type dropServer struct {
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex
	conns   []net.Conn
	execs   map[string]int // requests read whole, per path
	dropped bool
}

const dropPath = "/drop"

func startDropServer(t *testing.T) *dropServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dropServer{ln: ln, execs: map[string]int{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *dropServer) url(path string) string { return "http://" + s.ln.Addr().String() + path }

func (s *dropServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *dropServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		s.mu.Lock()
		s.execs[req.URL.Path]++
		drop := req.URL.Path == dropPath && !s.dropped
		s.dropped = s.dropped || drop
		s.mu.Unlock()
		if drop {
			return // the request executed; its answer is lost with the connection
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

func (s *dropServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *dropServer) executions(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.execs[path]
}

func (s *dropServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// getBodyCountingBase counts the requests idemhttp hands to the base transport,
// per path: net/http's own re-sends happen below it and are not counted.
type getBodyCountingBase struct {
	rt    http.RoundTripper
	mu    sync.Mutex
	calls map[string]int
}

func (b *getBodyCountingBase) RoundTrip(r *http.Request) (*http.Response, error) {
	b.mu.Lock()
	b.calls[r.URL.Path]++
	b.mu.Unlock()
	return b.rt.RoundTrip(r)
}

func (b *getBodyCountingBase) count(path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[path]
}

// TestNetHTTPResendDisabledUnlessSafeToResend: net/http re-sends on its own
// a request carrying an Idempotency-Key header whose reused keep-alive
// connection closed before the answer, when it can rewind the body
// (Request.GetBody) or the body is empty. That second send executes the
// operation again at a provider that does not de-duplicate, or that keeps
// only its successes. sendOnce gives the request a GetBody only where
// Provider.SafeToResend, and an empty body a reader, so that net/http never
// counts the request as replayable elsewhere.
//
// The server executes the request (reads it whole) and then hangs up on a
// reused connection. Where a re-send is not safe the operation must have run
// once and the call end in doubt. The last cases are the control: where it is
// safe, net/http itself re-sends (one request handed to the base transport,
// two executions at the server), which shows the scenario does reach
// net/http's retry path.
func TestNetHTTPResendDisabledUnlessSafeToResend(t *testing.T) {
	generic := providers.Generic() // no Hosts: the fallback for 127.0.0.1; Dedup false
	successesOnly := providers.Generic()
	successesOnly.Name, successesOnly.Hosts = "successes-only", []string{"127.0.0.1"}
	successesOnly.Dedup, successesOnly.RecordsErrors = true, false
	safe := providers.Generic()
	safe.Name, safe.Hosts, safe.Dedup = "dedup", []string{"127.0.0.1"}, true

	for _, tc := range []struct {
		name      string
		prov      providers.Provider
		body      string
		wantExecs int
	}{
		{"not de-duplicating, with body", generic, "amount=2000&currency=usd", 1},
		{"not de-duplicating, empty body", generic, "", 1},
		{"keeps only successes, with body", successesOnly, "amount=2000&currency=usd", 1},
		{"keeps only successes, empty body", successesOnly, "", 1},
		{"control: safe to resend, with body", safe, "amount=2000&currency=usd", 2},
		{"control: safe to resend, empty body", safe, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prov.Dedup && tc.prov.RecordsErrors != tc.prov.SafeToResend() || (tc.wantExecs == 2) != tc.prov.SafeToResend() {
				t.Fatalf("test table: provider %q SafeToResend=%v", tc.prov.Name, tc.prov.SafeToResend())
			}
			srv := startDropServer(t)
			nh := &http.Transport{} // no proxy, keep-alives on
			t.Cleanup(nh.CloseIdleConnections)
			base := &getBodyCountingBase{rt: nh, calls: map[string]int{}}
			tr := idemhttp.New(idemhttp.WithBase(base), idemhttp.WithStore(cache.NewMemory()),
				idemhttp.WithProviders(tc.prov), idemhttp.WithPolicy(testPolicy()))
			client := &http.Client{Transport: tr}

			send := func(ctx context.Context, path, body string) (*http.Response, error) {
				var rd io.Reader
				if body != "" {
					rd = strings.NewReader(body)
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.url(path), rd)
				if err != nil {
					t.Fatal(err)
				}
				if body != "" {
					req.Header.Set("Content-Type", formType)
				}
				return client.Do(req)
			}

			// A first call opens the keep-alive connection; reading its body
			// to the end puts the connection back in the idle pool before
			// the body returns EOF.
			resp, err := send(context.Background(), "/warm", "warm=1")
			if err != nil {
				t.Fatalf("warm-up call: %v", err)
			}
			if _, err := io.ReadAll(resp.Body); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			var reused []bool
			var mu sync.Mutex
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				GotConn: func(i httptrace.GotConnInfo) { mu.Lock(); reused = append(reused, i.Reused); mu.Unlock() },
			})
			resp, err = send(ctx, dropPath, tc.body)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}

			mu.Lock()
			firstReused := len(reused) > 0 && reused[0]
			mu.Unlock()
			if !firstReused {
				t.Fatalf("the call did not go out on the reused keep-alive connection (GotConn reused: %v): the scenario is not set up", reused)
			}
			if n := base.count(dropPath); n != 1 {
				t.Fatalf("idemhttp handed the request to the base transport %d times, want 1 (re-sends must come from net/http alone here)", n)
			}
			if got := srv.executions(dropPath); got != tc.wantExecs {
				t.Fatalf("server executed the operation %d times, want %d (connections: %d, call error: %v): "+
					"net/http re-sent it on its own although a re-send to %q is not safe",
					got, tc.wantExecs, srv.connections(), err, tc.prov.Name)
			}
			if tc.wantExecs == 1 && !errors.Is(err, idemhttp.ErrInDoubt) {
				t.Fatalf("call error = %v, want ErrInDoubt (the request was written and got no answer)", err)
			}
			if tc.wantExecs == 2 && err != nil {
				t.Fatalf("control: call error = %v, want net/http's re-send to answer", err)
			}
		})
	}
}
