package idemhttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/internal/faultserver"
	"github.com/idemhttp/idemhttp/providers"
)

// lookupProbe asks the fault server's lookup endpoint whether a send with
// the key happened.
func lookupProbe(calls *atomic.Int32) providers.Probe {
	return func(ctx context.Context, base http.RoundTripper, req *http.Request, key string) (*http.Response, error) {
		calls.Add(1)
		u := url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: "/v3/lookup", RawQuery: "key=" + url.QueryEscape(key)}
		preq, _ := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
		resp, err := base.RoundTrip(preq)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusNotFound {
			resp.Body.Close()
			return nil, nil
		}
		return resp, nil
	}
}

// withProbe sets probe on the SendGrid route of e.
func (e *env) withProbe(probe providers.Probe, first bool) {
	for i := range e.provs {
		if e.provs[i].Name == "sendgrid" {
			routes := append([]providers.Route(nil), e.provs[i].Routes...)
			routes[0].Probe, routes[0].ProbeFirst = probe, first
			e.provs[i].Routes = routes
		}
	}
}

// inDoubtEmail leaves the welcome email in doubt: sent, acknowledgement lost.
// newInDoubtEmailEnv returns an env whose welcome email, in scope "s",
// is in doubt, and that scope's context.
func newInDoubtEmailEnv(t *testing.T) (*env, context.Context) {
	e := newEnv(t)
	ctx := idemhttp.WithScope(context.Background(), "s")
	e.inDoubtEmail(ctx)
	return e, ctx
}

func (e *env) inDoubtEmail(ctx context.Context) {
	e.t.Helper()
	e.srv.Inject("POST", "/v3/mail/send", faultserver.LostAckFault())
	r := post(ctx, e.client(), sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hello"))
	if !errors.Is(r.err, idemhttp.ErrInDoubt) {
		e.t.Fatalf("setup: want ErrInDoubt, got %v", r.err)
	}
}

func TestProbeFindsItDone(t *testing.T) {
	e, ctx := newInDoubtEmailEnv(t)
	var calls atomic.Int32
	e.withProbe(lookupProbe(&calls), false)
	c := e.client()
	r := post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hello again"))
	if r.err != nil || !idemhttp.Replayed(r.resp) || calls.Load() != 1 {
		t.Fatalf("probe did not settle it: %v, probe calls %d", r.err, calls.Load())
	}
	// Recorded: the next call replays without probing or sending.
	r2 := post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hello"))
	if r2.err != nil || !idemhttp.Replayed(r2.resp) || r2.body != r.body || calls.Load() != 1 {
		t.Fatalf("not recorded: %v, probe calls %d", r2.err, calls.Load())
	}
	if n := e.srv.Requests("POST", "/v3/mail/send"); n != 1 {
		t.Fatalf("email re-sent: %d sends", n)
	}
}

func TestProbeNotDoneSendsOnce(t *testing.T) {
	e := newEnv(t)
	ctx := idemhttp.WithScope(context.Background(), "s")
	// In doubt although nothing happened: the connection was reset before
	// the server processed the request, which the client cannot tell apart.
	e.srv.Inject("POST", "/v3/mail/send", faultserver.ResetFault())
	if r := post(ctx, e.client(), sendgridHost, "/v3/mail/send", jsonType, emailBody("bo@x.test", "Hi", "x")); !errors.Is(r.err, idemhttp.ErrInDoubt) {
		t.Fatalf("setup: %v", r.err)
	}
	var calls atomic.Int32
	e.withProbe(lookupProbe(&calls), false)
	r := post(ctx, e.client(), sendgridHost, "/v3/mail/send", jsonType, emailBody("bo@x.test", "Hi", "x"))
	if r.err != nil || r.resp.StatusCode != 202 || idemhttp.Replayed(r.resp) || calls.Load() != 1 {
		t.Fatalf("want one fresh send after the probe: %v, probe calls %d", r.err, calls.Load())
	}
	if n := e.srv.RouteEffects("POST", "/v3/mail/send"); n != 1 {
		t.Fatalf("%d emails", n)
	}
}

func TestProbeErrorKeepsItInDoubt(t *testing.T) {
	e, ctx := newInDoubtEmailEnv(t)
	probeErr := errors.New("activity API unavailable")
	e.withProbe(func(context.Context, http.RoundTripper, *http.Request, string) (*http.Response, error) {
		return nil, probeErr
	}, false)
	for range 2 {
		r := post(ctx, e.client(), sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hello"))
		if !errors.Is(r.err, idemhttp.ErrInDoubt) || !errors.Is(r.err, probeErr) {
			t.Fatalf("want ErrInDoubt wrapping the probe error, got %v", r.err)
		}
	}
	if n := e.srv.Requests("POST", "/v3/mail/send"); n != 1 {
		t.Fatalf("sent during doubt: %d", n)
	}
}

// ProbeFirst checks before the very first send (providers without keys).
func TestProbeFirst(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	e.withProbe(lookupProbe(&calls), true)
	r := post(context.Background(), e.client(), sendgridHost, "/v3/mail/send", jsonType, emailBody("cy@x.test", "Hi", "x"))
	if r.err != nil || calls.Load() != 1 || e.srv.RouteEffects("POST", "/v3/mail/send") != 1 {
		t.Fatalf("probe-first send: %v, probe calls %d", r.err, calls.Load())
	}
}

// Transport.Resolve settles an in-doubt record by hand.
func TestManualResolve(t *testing.T) {
	for _, done := range []bool{true, false} {
		t.Run(fmt.Sprint("done=", done), func(t *testing.T) {
			e := newEnv(t)
			ctx := idemhttp.WithScope(context.Background(), "s")
			e.inDoubtEmail(ctx)
			tr := e.transport()
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+sendgridHost+"/v3/mail/send", stringsReader(emailBody("ann@x.test", "Welcome!", "Hello")))
			req.Header.Set("Content-Type", jsonType)
			req.Header.Set("Authorization", "Bearer sk_test_tenant_a")
			var resp *http.Response
			if done {
				resp = &http.Response{StatusCode: 202, Header: http.Header{}, Body: http.NoBody, ContentLength: 0}
			}
			if err := tr.Resolve(ctx, req, resp); err != nil {
				t.Fatal(err)
			}
			r := post(ctx, &http.Client{Transport: tr}, sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hello"))
			if r.err != nil || idemhttp.Replayed(r.resp) != done {
				t.Fatalf("after Resolve(done=%v): %v replayed=%v", done, r.err, r.resp != nil && idemhttp.Replayed(r.resp))
			}
			want := 1
			if !done {
				want = 2
			}
			if n := e.srv.Requests("POST", "/v3/mail/send"); n != want {
				t.Fatalf("%d sends, want %d", n, want)
			}
		})
	}
}
