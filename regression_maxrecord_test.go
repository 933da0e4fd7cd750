package idemhttp_test

import (
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
