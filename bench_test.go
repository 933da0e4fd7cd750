package idemhttp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	redisstore "github.com/idemhttp/idemhttp/cache/redis"
	"github.com/idemhttp/idemhttp/internal/redistest"
	"github.com/idemhttp/idemhttp/providers"
	goredis "github.com/redis/go-redis/v9"
)

// benchBody returns a JSON body of about size bytes, unique per n.
func benchBody(size, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"customer":"cus_` + strconv.Itoa(n) + `","currency":"usd","amount":2000,"metadata":{`)
	for i := 0; b.Len() < size-40; i++ {
		fmt.Fprintf(&b, `"k%03d":"value number %d for the order",`, i, i)
	}
	b.WriteString(`"z":true},"capture":false}`)
	return b.Bytes()
}

// benchBodies returns 4096 distinct 1 KiB JSON bodies.
func benchBodies(size int) [][]byte {
	bodies := make([][]byte, 4096)
	for i := range bodies {
		bodies[i] = benchBody(size, i)
	}
	return bodies
}

// benchBase returns a plain transport keeping conns idle connections.
func benchBase(b *testing.B, conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = conns
	b.Cleanup(t.CloseIdleConnections)
	return t
}

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"ch_3MmlLrLkdIwHu7ix0snN0B15","object":"charge","amount":2000,"status":"succeeded"}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchPost(b *testing.B, ctx context.Context, c *http.Client, url string, body []byte) {
	req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatal(resp.Status)
	}
}

// BenchmarkRoundTrip compares a 1 KiB JSON POST to a loopback server through
// a plain http.Transport, go-retryablehttp, idemhttp's first call (a new
// operation each time: key, claim, send, record) and idemhttp's replay, and
// the same two for the yardstick floorTransport.
func BenchmarkRoundTrip(b *testing.B) {
	srv := benchServer(b)
	const size = 1 << 10
	newBase := func() *http.Transport { return benchBase(b, 64) }
	bodies := benchBodies(size)
	idem := func() *http.Client {
		return &http.Client{Transport: idemhttp.New(idemhttp.WithBase(newBase()),
			idemhttp.WithStore(cache.NewMemory()),
			idemhttp.WithProviders(providers.Stripe()))}
	}
	b.Run("plain", func(b *testing.B) {
		c := &http.Client{Transport: newBase()}
		b.SetBytes(size)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			benchPost(b, context.Background(), c, srv.URL, bodies[i%len(bodies)])
		}
	})
	b.Run("retryablehttp", func(b *testing.B) {
		rc := retryablehttp.NewClient()
		rc.HTTPClient = &http.Client{Transport: newBase()}
		rc.Logger = nil
		c := rc.StandardClient()
		b.SetBytes(size)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			benchPost(b, context.Background(), c, srv.URL, bodies[i%len(bodies)])
		}
	})
	firsts := func(b *testing.B, c *http.Client) {
		b.SetBytes(size)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			// A new scope each time: every call is a new operation.
			benchPost(b, idemhttp.WithScope(context.Background(), strconv.Itoa(i)), c, srv.URL, bodies[i%len(bodies)])
		}
	}
	replays := func(b *testing.B, c *http.Client) {
		benchPost(b, context.Background(), c, srv.URL, bodies[0])
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			benchPost(b, context.Background(), c, srv.URL, bodies[0])
		}
	}
	b.Run("idemhttp-first", func(b *testing.B) {
		firsts(b, idem())
	})
	b.Run("idemhttp-replay", func(b *testing.B) {
		replays(b, idem())
	})
	// The yardstick: the least any transport that keys and records calls
	// must do (floorTransport).
	floor := func() *http.Client { return &http.Client{Transport: newFloorTransport(newBase(), providers.Stripe())} }
	b.Run("floor-first", func(b *testing.B) {
		firsts(b, floor())
	})
	b.Run("floor-replay", func(b *testing.B) {
		replays(b, floor())
	})
}

// BenchmarkDeriveKey compares key derivation with raw SHA-256 over the same
// bytes, for 1 KiB and 1 MiB JSON bodies.
func BenchmarkDeriveKey(b *testing.B) {
	p := providers.Stripe()
	for _, size := range []int{1 << 10, 1 << 20} {
		body := benchBody(size, 1)
		b.Run(fmt.Sprintf("sha256/%dB", size), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				sha256.Sum256(body)
			}
		})
		b.Run(fmt.Sprintf("derive/%dB", size), func(b *testing.B) {
			req, _ := http.NewRequest("POST", "https://api.stripe.com/v1/charges", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := idemhttp.DeriveKey(req, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRoundTripRedis compares, with 64 concurrent goroutines, a plain
// http.Transport against idemhttp on a real Redis store: first calls (claim,
// send, complete: two Redis round trips each) and replays (one), and the
// yardstick of a claim and a record by two native commands. It reports the
// CPU time redis-server spends per call, which competes for the same cores.
func BenchmarkRoundTripRedis(b *testing.B) {
	srv := benchServer(b)
	redis := redistest.Start(b)
	const size, goroutines = 1 << 10, 64
	newBase := func() *http.Transport { return benchBase(b, goroutines) }
	bodies := benchBodies(size)
	idem := func() *http.Client {
		client := goredis.NewClient(&goredis.Options{Addr: redis.Addr(), ContextTimeoutEnabled: true, PoolSize: goroutines})
		store := redisstore.New(client)
		b.Cleanup(func() { store.Close(); client.Close() })
		return &http.Client{Transport: idemhttp.New(idemhttp.WithBase(newBase()), idemhttp.WithStore(store),
			idemhttp.WithProviders(providers.Stripe()))}
	}
	// Every run gets its own scopes: with -count, later runs must not
	// replay what earlier runs recorded in the same redis-server.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	admin := redis.Client()
	parallel := func(b *testing.B, c *http.Client, scoped bool) {
		cpu := serverCPU(b, admin)
		defer func() {
			b.ReportMetric(float64(serverCPU(b, admin)-cpu)/float64(b.N), "redis-cpu-ns/op")
		}()
		var seq atomic.Int64
		b.SetParallelism((goroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.SetBytes(size)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(seq.Add(1))
				ctx := context.Background()
				body := bodies[0]
				if scoped {
					ctx, body = idemhttp.WithScope(ctx, run+"-"+strconv.Itoa(i)+"-"+b.Name()), bodies[i%len(bodies)]
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	b.Run("plain", func(b *testing.B) {
		run = strconv.FormatInt(time.Now().UnixNano(), 36)
		parallel(b, &http.Client{Transport: newBase()}, true)
	})
	b.Run("idemhttp-first", func(b *testing.B) {
		run = strconv.FormatInt(time.Now().UnixNano(), 36)
		parallel(b, idem(), true)
	})
	b.Run("idemhttp-replay", func(b *testing.B) {
		c := idem()
		benchPost(b, context.Background(), c, srv.URL, bodies[0])
		parallel(b, c, false)
	})
	// The yardstick: two native commands per call (redisFloorTransport).
	b.Run("floor-first", func(b *testing.B) {
		run = strconv.FormatInt(time.Now().UnixNano(), 36)
		client := goredis.NewClient(&goredis.Options{Addr: redis.Addr(), ContextTimeoutEnabled: true, PoolSize: goroutines})
		b.Cleanup(func() { client.Close() })
		parallel(b, &http.Client{Transport: redisFloorTransport{base: newBase(), client: client}}, true)
	})
}

// instantTransport answers at once, like a server at zero distance: what
// idemhttp adds on top of it is its own cost per call.
type instantTransport struct{}

func (instantTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	const body = `{"id":"ch_3MmlLrLkdIwHu7ix0snN0B15","object":"charge","amount":2000,"status":"succeeded"}`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

// BenchmarkOverhead measures idemhttp's own cost per 1 KiB JSON POST, with
// a base transport that answers instantly: direct call vs first call vs
// replay.
func BenchmarkOverhead(b *testing.B) {
	const size = 1 << 10
	bodies := benchBodies(size)
	do := func(b *testing.B, rt http.RoundTripper, fresh bool) {
		b.SetBytes(size)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ctx, body := context.Background(), bodies[0]
			if fresh {
				ctx, body = idemhttp.WithScope(ctx, strconv.Itoa(i)), bodies[i%len(bodies)]
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", "https://api.stripe.com/v1/charges", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer sk_test_123")
			resp, err := rt.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	idem := func() http.RoundTripper {
		return idemhttp.New(idemhttp.WithBase(instantTransport{}),
			idemhttp.WithStore(cache.NewMemory()),
			idemhttp.WithProviders(providers.Stripe()))
	}
	b.Run("direct", func(b *testing.B) { do(b, instantTransport{}, true) })
	b.Run("idemhttp-first", func(b *testing.B) { do(b, idem(), true) })
	b.Run("idemhttp-replay", func(b *testing.B) { do(b, idem(), false) })
}
