package idemhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/providers"
)

// chargeServer stands in for a payments API: it counts the charges it makes.
func chargeServer() (*httptest.Server, *atomic.Int32) {
	var charges atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := charges.Add(1)
		fmt.Fprintf(w, `{"id":"ch_%d"}`, n)
	}))
	return srv, &charges
}

func ExampleNew() {
	srv, charges := chargeServer()
	defer srv.Close()

	client := &http.Client{Transport: idemhttp.New(
		idemhttp.WithStore(cache.NewMemory()),
		idemhttp.WithProviders(providers.Stripe()),
	)}
	for range 3 { // an agent retrying the same tool call
		resp, err := client.Post(srv.URL+"/v1/charges", "application/x-www-form-urlencoded",
			strings.NewReader("amount=2000&currency=usd&customer=cus_42"))
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body), "replayed:", idemhttp.Replayed(resp))
	}
	fmt.Println("charges made:", charges.Load())
	// Output:
	// 200 {"id":"ch_1"} replayed: false
	// 200 {"id":"ch_1"} replayed: true
	// 200 {"id":"ch_1"} replayed: true
	// charges made: 1
}

func ExampleWithScope() {
	srv, charges := chargeServer()
	defer srv.Close()
	client := &http.Client{Transport: idemhttp.New()}

	charge := func(ctx context.Context) string {
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/charges", strings.NewReader("amount=500"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	// The same request in one task is one operation; in another task, another.
	task1 := idemhttp.WithScope(context.Background(), "task-1")
	task2 := idemhttp.WithScope(context.Background(), "task-2")
	fmt.Println(charge(task1), charge(task1), charge(task2))
	fmt.Println("charges made:", charges.Load())
	// Output:
	// {"id":"ch_1"} {"id":"ch_1"} {"id":"ch_2"}
	// charges made: 2
}

func ExampleWithKey() {
	srv, _ := chargeServer()
	defer srv.Close()
	client := &http.Client{Transport: idemhttp.New()}

	send := func(body string) error {
		ctx := idemhttp.WithKey(context.Background(), "order-42-charge")
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/charges", strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		fmt.Println("key sent:", idemhttp.KeyOf(resp))
		return nil
	}
	fmt.Println(send("amount=2000"))
	// The same key for another payload is refused, never replayed.
	err := send("amount=9999")
	fmt.Println(errors.Is(err, idemhttp.ErrKeyReused))
	// Output:
	// key sent: order-42-charge
	// <nil>
	// true
}

func ExampleReplayed() {
	srv, _ := chargeServer()
	defer srv.Close()
	client := &http.Client{Transport: idemhttp.New()}
	for range 2 {
		resp, err := client.Post(srv.URL+"/v1/refunds", "application/json", strings.NewReader(`{"charge":"ch_1"}`))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Printf("replayed: %v (header %q)\n", idemhttp.Replayed(resp), resp.Header.Get("Idempotent-Replayed"))
	}
	// Output:
	// replayed: false (header "")
	// replayed: true (header "true")
}

func ExampleDeriveKey() {
	stripe := providers.Stripe()
	a, _ := http.NewRequest("POST", "https://api.stripe.com/v1/refunds", strings.NewReader(`{"charge":"ch_1","amount":500}`))
	a.Header.Set("Content-Type", "application/json")
	b, _ := http.NewRequest("POST", "https://api.stripe.com/v1/refunds", strings.NewReader(`{ "amount": 5e2, "charge": "ch_1" }`))
	b.Header.Set("Content-Type", "application/json")
	ka, _ := idemhttp.DeriveKey(a, &stripe)
	kb, _ := idemhttp.DeriveKey(b, &stripe)
	fmt.Println(len(ka), ka == kb)
	// Output:
	// 43 true
}
