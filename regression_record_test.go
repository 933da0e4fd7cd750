package idemhttp_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
)

// With MaxRecordBytes = math.MaxInt64 any announced Content-Length is within
// the bound. The response used to be read into a buffer of the announced
// size, allocated before a byte arrived: 2^62 made RoundTrip panic after the
// charge executed, and 100 GB would be an out-of-memory crash.
func TestHugeContentLengthDoesNotPanic(t *testing.T) {
	var execs atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		execs.Add(1)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"id\":\"ch_1\"}", int64(1)<<62)
		buf.Flush()
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	pol := testPolicy()
	pol.MaxRecordBytes = math.MaxInt64
	tr := idemhttp.New(idemhttp.WithBase(base), idemhttp.WithStore(cache.NewMemory()), idemhttp.WithPolicy(pol))

	req, _ := http.NewRequest("POST", srv.URL+"/v1/charges", strings.NewReader("amount=2000"))
	req.Header.Set("Content-Type", formType)
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		resp, err := tr.RoundTrip(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	if panicked != nil {
		t.Fatalf("RoundTrip panicked on an announced Content-Length of 2^62 with MaxRecordBytes=MaxInt64: %v "+
			"(the charge executed %d time(s))", panicked, execs.Load())
	}
}

// Resolve given a response whose body broke off reports it and records
// nothing: it used to record status and headers and return nil, and every
// later call replayed an empty body although the operator, told, could have
// fetched the answer again.
func TestResolveWithBrokenBodyIsReported(t *testing.T) {
	e := newEnv(t)
	ctx := idemhttp.WithScope(context.Background(), "s")
	e.inDoubtEmail(ctx)
	tr := e.transport()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+sendgridHost+"/v3/mail/send",
		strings.NewReader(emailBody("ann@x.test", "Welcome!", "Hello")))
	req.Header.Set("Content-Type", jsonType)
	req.Header.Set("Authorization", "Bearer sk_test_tenant_a")
	broken := io.MultiReader(strings.NewReader(`{"id":"msg_`), errReaderFunc(func() error { return io.ErrUnexpectedEOF }))
	resp := &http.Response{StatusCode: 202, Header: http.Header{"Content-Type": {jsonType}},
		Body: io.NopCloser(broken), ContentLength: -1}
	err := tr.Resolve(ctx, req, resp)
	if err != nil {
		return // reported: the operator can fetch the answer again
	}
	r := post(ctx, &http.Client{Transport: tr}, sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hello"))
	if r.err != nil {
		t.Fatalf("after Resolve: %v", r.err)
	}
	if r.body == "" {
		t.Fatalf("Resolve with a body that broke off returned nil and recorded an empty body: the replay is %d %q "+
			"(body omitted: %q)", r.resp.StatusCode, r.body, r.resp.Header.Get(idemhttp.HeaderBodyOmitted))
	}
}

type errReaderFunc func() error

func (f errReaderFunc) Read([]byte) (int, error) { return 0, f() }

// TestMaxRecordBytesMaxInt64KeepsBody: Policy.MaxRecordBytes set to
// math.MaxInt64 ("no bound") records and returns the response body. A body
// of unknown length (chunked) used to be read with a bound of limit+1,
// which wrapped to a negative number: nothing was read, and the caller and
// every replay got an empty body for an operation that executed.
func TestMaxRecordBytesMaxInt64KeepsBody(t *testing.T) {
	const want = `{"id":"ch_1","amount":2000}`
	var execs atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		execs.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, want)
		w.(http.Flusher).Flush() // no Content-Length: chunked
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	pol := testPolicy()
	pol.MaxRecordBytes = math.MaxInt64
	client := &http.Client{Transport: idemhttp.New(idemhttp.WithBase(base),
		idemhttp.WithStore(cache.NewMemory()), idemhttp.WithPolicy(pol))}

	for i, what := range []string{"first call", "replay"} {
		resp, err := client.Post(srv.URL+"/v1/charges", formType, strings.NewReader("amount=2000"))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: reading body: %v", what, err)
		}
		if string(body) != want {
			t.Errorf("%s (call %d, replayed=%v): body %q, want %q", what, i+1, idemhttp.Replayed(resp), body, want)
		}
	}
	if n := execs.Load(); n != 1 {
		t.Errorf("executed %d times, want 1", n)
	}
}
