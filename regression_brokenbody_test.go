package idemhttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/providers"
)

// brokenBodyProvider is a loopback provider that charges once per key and,
// on a key's first request, sends the status and half the body, then hangs
// up. A repeat of the key gets the first answer whole, as Stripe's replay
// does.
type brokenBodyProvider struct {
	mu      sync.Mutex
	charges map[string]int // executions per key
	calls   int
}

func (p *brokenBodyProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	key := r.Header.Get("Idempotency-Key")
	p.mu.Lock()
	p.calls++
	first := p.charges[key] == 0
	if first {
		p.charges[key]++
	}
	p.mu.Unlock()
	const answer = `{"id":"ch_1","amount":2000,"status":"succeeded"}`
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "48")
	if !first {
		io.WriteString(w, answer)
		return
	}
	io.WriteString(w, answer[:20])
	w.(http.Flusher).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func (p *brokenBodyProvider) counts() (charges, calls int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.charges {
		charges += n
	}
	return charges, p.calls
}

// A response whose body broke off (the connection dropped, or the caller
// gave up reading) is an operation that executed with an answer nobody read
// whole. The record keeps status and headers, and later calls replay them:
// never a re-send, which for a provider that keeps only successes could
// execute again, and which a body that always breaks off the same way (a bad
// gzip stream, a server that always sends short) would repeat on every call.
func TestBrokenResponseBody(t *testing.T) {
	safe := providers.Generic()
	safe.Name, safe.Hosts, safe.Dedup, safe.RecordsErrors, safe.Retention = "safe", []string{"127.0.0.1"}, true, true, time.Hour
	unsafe := providers.Generic()
	unsafe.Name, unsafe.Hosts = "unsafe", []string{"127.0.0.1"}
	for _, prov := range []providers.Provider{safe, unsafe} {
		t.Run(prov.Name, func(t *testing.T) {
			p := &brokenBodyProvider{charges: map[string]int{}}
			srv := httptest.NewServer(p)
			defer srv.Close()
			base := &http.Transport{}
			defer base.CloseIdleConnections()
			client := &http.Client{Transport: idemhttp.New(idemhttp.WithBase(base), idemhttp.WithStore(cache.NewMemory()),
				idemhttp.WithProviders(prov), idemhttp.WithPolicy(testPolicy()))}
			charge := func() (string, *http.Response, error) {
				resp, err := client.Post(srv.URL+"/v1/charges", formType, strings.NewReader("amount=2000"))
				if err != nil {
					return "", nil, err
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				return string(body), resp, err
			}
			if _, _, err := charge(); err == nil {
				t.Fatal("first call: the body read whole, want it broken off")
			}
			for _, call := range []string{"second", "third"} {
				body, resp, err := charge()
				if err != nil {
					t.Fatalf("%s call: %v", call, err)
				}
				if resp.StatusCode != 200 || body != "" || !idemhttp.Replayed(resp) || resp.Header.Get(idemhttp.HeaderBodyOmitted) != "true" {
					t.Errorf("%s call: %d %q replayed %v, body omitted %q; want a replay of 200 without body", call,
						resp.StatusCode, body, idemhttp.Replayed(resp), resp.Header.Get(idemhttp.HeaderBodyOmitted))
				}
			}
			if charges, calls := p.counts(); charges != 1 || calls != 1 {
				t.Errorf("%d charges in %d requests, want 1 in 1", charges, calls)
			}
		})
	}
}
