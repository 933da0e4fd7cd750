package idemhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/idemhttp/idemhttp"
)

type altRT struct{ n int }

func (a *altRT) RoundTrip(req *http.Request) (*http.Response, error) {
	a.n++
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
}

// TestAlternateProtocolWithoutHostSent: net/http's Transport sends a request
// of a scheme registered with RegisterProtocol before it looks for a host
// (and validates headers only for http/https), so such a request with no
// host (file:///..., unix:///path style) is not refused before the claim.
func TestAlternateProtocolWithoutHostSent(t *testing.T) {
	rt := &altRT{}
	base := &http.Transport{}
	base.RegisterProtocol("sock", rt)
	// Plain net/http sends it.
	req, _ := http.NewRequest("POST", "sock:///run/app.sock/orders", strings.NewReader(`{"a":1}`))
	if resp, err := (&http.Client{Transport: base}).Do(req); err != nil {
		t.Fatalf("setup: net/http refuses it: %v", err)
	} else {
		resp.Body.Close()
	}
	tr := idemhttp.New(idemhttp.WithBase(base))
	req, _ = http.NewRequest("POST", "sock:///run/app.sock/orders", strings.NewReader(`{"a":1}`))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("idemhttp refuses what net/http sends: %v", err)
	}
	resp.Body.Close()
}

// TestResolveWithScopeOnBothWithoutGetBody: Resolve(ctx, req, …) with the
// same WithScope on ctx and on req's context, the natural call, works when
// req's body has no GetBody: the check of ctx's scope derives its key from
// the body already read, not from a drained one.
func TestResolveWithScopeOnBothWithoutGetBody(t *testing.T) {
	e := newEnv(t)
	tr := e.transport()
	ctx := idemhttp.WithScope(context.Background(), "s")
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+ordersHost+"/orders", io.NopCloser(strings.NewReader(`{"sku":"R-9"}`)))
	req.Header.Set("Content-Type", jsonType)
	err := tr.Resolve(ctx, req, nil)
	if errors.Is(err, idemhttp.ErrInvalidRequest) {
		t.Fatalf("Resolve refused the same scope on ctx and req: %v", err)
	}
}
