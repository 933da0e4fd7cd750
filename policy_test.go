package idemhttp_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp"
)

func TestRecordable(t *testing.T) {
	for _, status := range []int{200, 201, 202, 204, 300, 301, 302, 303, 400, 402, 410, 422} {
		if !idemhttp.Recordable(status) {
			t.Errorf("Recordable(%d) = false, want true: a definitive outcome", status)
		}
	}
	for _, status := range []int{100, 304, 305, 306, 307, 308, 401, 403, 404, 408, 409, 425, 429, 500, 501, 502, 503, 504} {
		if idemhttp.Recordable(status) {
			t.Errorf("Recordable(%d) = true, want false: the claim must be released for a later try", status)
		}
	}
}

// TestDefaultPolicy checks DefaultPolicy against the defaults documented on
// each Policy field.
func TestDefaultPolicy(t *testing.T) {
	p := idemhttp.DefaultPolicy()
	if !slices.Equal(p.KeyedMethods, []string{"POST", "PATCH"}) {
		t.Errorf("KeyedMethods = %v", p.KeyedMethods)
	}
	if want := []string{"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}; !slices.Equal(p.SafeMethods, want) {
		t.Errorf("SafeMethods = %v, want %v", p.SafeMethods, want)
	}
	for _, f := range []struct {
		name      string
		got, want int64
	}{
		{"MaxBodyBytes", p.MaxBodyBytes, 8 << 20},
		{"MaxRecordBytes", p.MaxRecordBytes, 1 << 20},
		{"MaxAttempts", int64(p.MaxAttempts), 4},
		{"InitialInterval", int64(p.InitialInterval), int64(250 * time.Millisecond)},
		{"MaxInterval", int64(p.MaxInterval), int64(5 * time.Second)},
		{"MaxElapsed", int64(p.MaxElapsed), int64(30 * time.Second)},
		{"MaxRetryAfter", int64(p.MaxRetryAfter), int64(30 * time.Second)},
		{"Lease", int64(p.Lease), int64(10 * time.Second)},
		{"RecordTTL", int64(p.RecordTTL), int64(24 * time.Hour)},
		{"InDoubtTTL", int64(p.InDoubtTTL), int64(7 * 24 * time.Hour)},
		{"StoreTimeout", int64(p.StoreTimeout), int64(5 * time.Second)},
	} {
		if f.got != f.want {
			t.Errorf("%s = %d, documented default %d", f.name, f.got, f.want)
		}
	}
	if p.ReplaceKeys || p.StoreFailure != idemhttp.FailAuto {
		t.Errorf("ReplaceKeys = %v, StoreFailure = %v; want false, FailAuto", p.ReplaceKeys, p.StoreFailure)
	}
	for m, want := range map[string][2]bool{ // keyed, safe
		"POST": {true, false}, "PATCH": {true, false}, "PUT": {false, true}, "DELETE": {false, true},
		"GET": {false, true}, "HEAD": {false, true}, "OPTIONS": {false, true}, "TRACE": {false, false}, "CONNECT": {false, false},
	} {
		if p.Keyed(m) != want[0] || p.Safe(m) != want[1] {
			t.Errorf("%s: Keyed %v Safe %v, want %v %v", m, p.Keyed(m), p.Safe(m), want[0], want[1])
		}
	}
}

// A zero Policy given to WithPolicy behaves as DefaultPolicy: POST is keyed
// and recorded, a 2 KiB body is accepted and an 8 MiB + 1 body is not,
// Retry-After is honoured for exactly 4 attempts.
func TestZeroPolicyGetsDefaults(t *testing.T) {
	const url = "https://api.stripe.com/v1/charges"
	newMock := func(replies ...mockReply) (*mockAPI, *idemhttp.Transport) {
		m := newMockAPI()
		m.respond("POST", url, replies...)
		return m, mockTransport(m, idemhttp.Policy{})
	}

	t.Run("keyed, recorded, 2 KiB body", func(t *testing.T) {
		m, tr := newMock(mockReply{status: 200, body: `{"id":"ch_1"}`})
		spec := reqSpec{url: url, contentType: formCT, body: "description=" + strings.Repeat("x", 2<<10)}
		var resp *http.Response
		for range 2 {
			var err error
			if resp, _, err = roundTrip(t, tr, spec); err != nil {
				t.Fatal(err)
			}
		}
		calls := m.recorded()
		if len(calls) != 1 || !idemhttp.Replayed(resp) {
			t.Fatalf("%d calls, second replayed %v; want 1 call and a replay", len(calls), idemhttp.Replayed(resp))
		}
		if k := calls[0].header.Get("Idempotency-Key"); !derivedKeyPattern.MatchString(k) {
			t.Errorf("Idempotency-Key %q, want a derived key", k)
		}
	})
	t.Run("body over 8 MiB", func(t *testing.T) {
		m, tr := newMock(mockReply{status: 200})
		_, _, err := roundTrip(t, tr, reqSpec{url: url, contentType: formCT, body: "a=" + strings.Repeat("x", 8<<20)})
		if !errors.Is(err, idemhttp.ErrBodyTooLarge) {
			t.Errorf("err %v, want ErrBodyTooLarge", err)
		}
		if n := m.GetTotalCallCount(); n != 0 {
			t.Errorf("%d calls reached the API, want 0", n)
		}
	})
	t.Run("four attempts", func(t *testing.T) {
		m, tr := newMock(mockReply{status: 503, header: map[string]string{"Retry-After": "0"}})
		resp, _, err := roundTrip(t, tr, reqSpec{url: url, contentType: formCT, body: "a=1"})
		if err != nil {
			t.Fatal(err)
		}
		if n := m.count("POST", url); n != 4 || resp.StatusCode != 503 {
			t.Errorf("%d attempts ending in %d, want 4 ending in 503", n, resp.StatusCode)
		}
	})
}
