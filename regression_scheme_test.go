package idemhttp_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/idemhttp/idemhttp"
)

// A URL without a scheme (a common slip: "api.example.test/v1/orders", which
// url.Parse reads as a path) has no host and scheme "". net/http refuses it
// ("unsupported protocol scheme") before asking for a connection, with no
// trace event: it is refused before the claim, never reported in doubt.
func TestSchemelessURLRefusedBeforeClaim(t *testing.T) {
	tr := idemhttp.New(idemhttp.WithBase(&http.Transport{}))
	c := &http.Client{Transport: tr}
	for i := range 2 {
		req, _ := http.NewRequest("POST", "api.example.test/v1/orders", strings.NewReader(`{"sku":"A"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		if errors.Is(err, idemhttp.ErrInDoubt) {
			t.Fatalf("call %d: a request net/http refused before any connection is reported in doubt: %v", i+1, err)
		}
		if !errors.Is(err, idemhttp.ErrInvalidRequest) {
			t.Fatalf("call %d: want ErrInvalidRequest, got %v", i+1, err)
		}
	}
}
