package faultserver_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/idemhttp/idemhttp/internal/faultserver"
)

// A charge whose response is lost on the way back: the client sees a
// connection error although the charge was made. A retry with the same
// idempotency key gets the recorded response, and the charge happened once.
func Example() {
	srv, err := faultserver.Start(faultserver.Route{
		Method: "POST", Path: "/v1/charges",
		KeyHeader: "Idempotency-Key",
		Prefix:    "ch_",
		EffectID: func(r *http.Request, body []byte) string {
			return "charge " + string(body)
		},
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	srv.Inject("POST", "/v1/charges", faultserver.LostAckFault())

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	charge := func() {
		req, _ := http.NewRequest("POST", srv.URL()+"/v1/charges", strings.NewReader("amount=500"))
		req.Header.Set("Idempotency-Key", "order-42")
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println("error: connection lost")
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d replayed=%s %s", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), body)
	}
	charge()
	charge()
	fmt.Println("charges made:", srv.RouteEffects("POST", "/v1/charges"))
	// Output:
	// error: connection lost
	// 200 replayed=true {"effect":"charge amount=500","id":"ch_1","seq":1}
	// charges made: 1
}

// Faults are consumed one per request, in order; then the route answers
// normally. StatusBefore answers without performing the effect.
func ExampleServer_Inject() {
	srv, err := faultserver.Start(faultserver.Route{Method: "POST", Path: "/v3/mail/send"})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	srv.Inject("POST", "/v3/mail/send",
		faultserver.StatusBeforeFault(http.StatusTooManyRequests, "1"),
		faultserver.StatusAfterFault(http.StatusInternalServerError))

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for range 3 {
		resp, err := client.Post(srv.URL()+"/v3/mail/send", "text/plain", strings.NewReader("hi"))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Printf("%d Retry-After=%q\n", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	fmt.Println("emails sent:", srv.RouteEffects("POST", "/v3/mail/send"))
	// Output:
	// 429 Retry-After="1"
	// 500 Retry-After=""
	// 200 Retry-After=""
	// emails sent: 2
}
