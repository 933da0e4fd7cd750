package idemhttp_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/providers"
	goredis "github.com/redis/go-redis/v9"
)

// floorTransport does the least that any transport keying and recording
// calls must do, and nothing else: buffer the body, derive the key
// (DeriveKey), claim it in a map under a mutex, send a copy of the request
// with the key header and a trace of whether it was written, then read and
// record the response. It has no leases, no retries, no single-flight, no
// checks, no error handling: it is a benchmark's yardstick for how close
// the Transport comes to the cost its job sets, not a transport to use.
type floorTransport struct {
	base     http.RoundTripper
	provider providers.Provider

	mu      sync.Mutex
	records map[string]*floorRecord // nil value: claimed
}

type floorRecord struct {
	status int
	header http.Header
	body   []byte
}

func newFloorTransport(base http.RoundTripper, p providers.Provider) *floorTransport {
	return &floorTransport{base: base, provider: p, records: map[string]*floorRecord{}}
}

func (f *floorTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := make([]byte, req.ContentLength)
	if _, err := io.ReadFull(req.Body, body); err != nil {
		return nil, err
	}
	req.Body.Close()
	var written bool
	out := req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { written = i.Err == nil },
	}))
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	key, err := idemhttp.DeriveKey(out, &f.provider)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	rec, done := f.records[key]
	if !done {
		f.records[key] = nil
	}
	f.mu.Unlock()
	if rec != nil {
		h := rec.header.Clone()
		h.Set(idemhttp.HeaderReplayed, "true")
		return &http.Response{StatusCode: rec.status, Header: h, Body: io.NopCloser(bytes.NewReader(rec.body)),
			ContentLength: int64(len(rec.body)), Request: req}, nil
	}
	out.Header = req.Header.Clone()
	out.Header.Set(f.provider.KeyHeader, key)
	resp, err := f.base.RoundTrip(out)
	if err != nil || !written {
		return resp, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.records[key] = &floorRecord{status: resp.StatusCode, header: resp.Header.Clone(), body: rb}
	f.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	return resp, nil
}

// redisFloorTransport is the yardstick of the Redis benchmark: per call a
// SET NX to claim and a SET to record, native commands on one go-redis
// client, with the call's scope as the key (no derivation, no fingerprint,
// no lease, no fencing).
type redisFloorTransport struct {
	base   http.RoundTripper
	client goredis.UniversalClient
}

func (f redisFloorTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, key := req.Context(), "floor:"+idemhttp.ScopeFrom(req.Context())
	if err := f.client.SetNX(ctx, key, "", time.Minute).Err(); err != nil {
		return nil, err
	}
	resp, err := f.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if err := f.client.Set(ctx, key, rb, time.Hour).Err(); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	return resp, nil
}

// serverCPU returns the CPU time the redis-server behind client has used,
// from INFO cpu.
func serverCPU(b *testing.B, client goredis.UniversalClient) time.Duration {
	info, err := client.Info(b.Context(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		if k, v, _ := strings.Cut(line, ":"); k == "used_cpu_sys" || k == "used_cpu_user" {
			s, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO cpu: %q: %v", line, err)
			}
			total += s
		}
	}
	return time.Duration(total * float64(time.Second))
}
