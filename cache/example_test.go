package cache_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// A first claim of a key is acquired; once its holder completes it, every
// later claim with the same fingerprint replays the recorded response, and a
// claim with another fingerprint is refused as a mismatch.
func ExampleNewMemory() {
	ctx := context.Background()
	store := cache.NewMemory(cache.WithMaxEntries(1000), cache.WithMaxBytes(8<<20))

	first, err := store.Claim(ctx, "order-42-charge", "fingerprint-1", 10*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(first.Outcome)

	// ... send the request, then record its response:
	entry := &cache.Entry{
		Status: http.StatusCreated,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   []byte(`{"id":"ch_1"}`),
	}
	if err := store.Complete(ctx, "order-42-charge", first.Token, entry, 24*time.Hour); err != nil {
		fmt.Println(err)
		return
	}

	again, err := store.Claim(ctx, "order-42-charge", "fingerprint-1", 10*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(again.Outcome, again.Entry.Status, string(again.Entry.Body))

	reused, err := store.Claim(ctx, "order-42-charge", "fingerprint-2", 10*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reused.Outcome)
	// Output:
	// acquired
	// completed 201 {"id":"ch_1"}
	// mismatch
}
