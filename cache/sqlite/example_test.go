package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/cache/sqlite"
)

// A record written before a restart is replayed after it: the second Open
// stands for the restarted program.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "idemhttp-example")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "idempotency.db")
	ctx := context.Background()

	store, err := sqlite.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	claim, err := store.Claim(ctx, "order-42-charge", "fingerprint-1", 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first run:", claim.Outcome)
	// ... send the request, then record its response:
	entry := &cache.Entry{Status: 201, Body: []byte(`{"id":"ch_1"}`)}
	if err := store.Complete(ctx, "order-42-charge", claim.Token, entry, 24*time.Hour); err != nil {
		log.Fatal(err)
	}
	if err := store.Close(); err != nil {
		log.Fatal(err)
	}

	store, err = sqlite.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	claim, err = store.Claim(ctx, "order-42-charge", "fingerprint-1", 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after restart:", claim.Outcome, claim.Entry.Status, string(claim.Entry.Body))
	// Output:
	// first run: acquired
	// after restart: completed 201 {"id":"ch_1"}
}

// A store for an agent that pays a provider which does not de-duplicate: a
// completion recorded just before a power loss must still be there after
// it, or the payment would be sent again.
func ExampleWithFullSync() {
	dir, err := os.MkdirTemp("", "idemhttp-example")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	store, err := sqlite.Open(filepath.Join(dir, "payments.db"), sqlite.WithFullSync())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	c, err := store.Claim(context.Background(), "payout-7", "fingerprint-1", 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Outcome == cache.Acquired)
	// Output: true
}
