package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/cache/redis"
)

// A Store on a standalone Redis, used the way the transport uses it: claim,
// do the work, complete; a later claim replays the recorded response.
func Example() {
	client := goredis.NewClient(&goredis.Options{
		Addr: "localhost:6379",
		// Let go-redis itself cut socket waits at the context deadline.
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	store := redis.New(client, redis.WithPrefix("billing:"), redis.WithTimeout(time.Second))
	defer store.Close()

	ctx := context.Background()
	c, err := store.Claim(ctx, "order-42-charge", "fingerprint", 10*time.Second)
	if errors.Is(err, cache.ErrUnavailable) {
		log.Fatal("Redis unreachable: fail open or closed, as the provider allows")
	}
	if err != nil {
		log.Fatal(err)
	}
	switch c.Outcome {
	case cache.Acquired:
		// Send the request, then record its response.
		entry := &cache.Entry{Status: http.StatusOK, Body: []byte(`{"id":"ch_1"}`)}
		if err := store.Complete(ctx, "order-42-charge", c.Token, entry, 24*time.Hour); err != nil {
			log.Fatal(err) // ErrFenced: the claim was lost; do not assume it was recorded
		}
	case cache.Completed:
		fmt.Println("replay:", c.Entry.Status, string(c.Entry.Body))
	}
}

// A Store on Redis Cluster: every record is one key, so it lands on any shard.
func ExampleNew_cluster() {
	client := goredis.NewClusterClient(&goredis.ClusterOptions{
		Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
	})
	defer client.Close()
	store := redis.New(client)
	defer store.Close()
}

// Wait lets a caller that found the record held elsewhere learn as soon as
// the holder, on any machine, finishes.
func ExampleStore_Wait() {
	client := goredis.NewClient(&goredis.Options{Addr: "localhost:6379"})
	defer client.Close()
	store := redis.New(client)
	defer store.Close()

	ctx := context.Background()
	for {
		c, err := store.Claim(ctx, "order-42-charge", "fingerprint", 10*time.Second)
		if err != nil {
			log.Fatal(err)
		}
		if c.Outcome != cache.Busy {
			fmt.Println(c.Outcome)
			return
		}
		// Returns when the holder completes, releases or gives up, or at
		// c.Until; then look again.
		if err := store.Wait(ctx, "order-42-charge", c.Until); err != nil {
			log.Fatal(err)
		}
	}
}

// Pipelining is on by default: concurrent calls share round trips. A Store
// used by one goroutine at a time gains nothing from it and may turn it off.
func ExampleWithPipelining() {
	client := goredis.NewClient(&goredis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	store := redis.New(client, redis.WithPipelining(false))
	defer store.Close()
}
