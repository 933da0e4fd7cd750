package webhook

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/idemhttp/idemhttp/cache"
)

// serveBatch de-duplicates each event of a batch delivery and passes the
// handler only the new ones.
//
// Claims are taken in key order, so two batches sharing events never wait
// for each other in a cycle. If any event is being handled by another
// delivery, every claim taken is released and the batch gets 409: the sender
// retries it whole, and then finds those events handled or free. WithWait
// applies to the first claim only: a batch holding claims never waits, as
// nothing renews them until its handler runs, and a claim that lapsed while
// it waited could be taken by a redelivery and its event handled twice.
func (d *deduper) serveBatch(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
	events, err := d.extractor.Batch(r, body)
	if err != nil {
		reject(w, err)
		return
	}
	keys := make(map[string]bool, len(events))
	for i, ev := range events {
		switch err := checkID(ev.ID); {
		case ev.ID == "" && !d.cfg.passMissingID:
			reject(w, fmt.Errorf("%w: batch event %d has none", ErrMissingID, i))
			return
		case ev.ID != "" && err != nil:
			reject(w, fmt.Errorf("batch event %d: %w", i, err))
			return
		case ev.ID != "":
			keys[d.keyPrefix+ev.ID] = true
		}
	}

	ctx := r.Context()
	var h held
	fresh := make(map[string]bool, len(keys))
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		wait := d.cfg.wait
		if len(h) > 0 {
			wait = 0
		}
		c, err := d.claim(ctx, key, wait)
		if err != nil {
			d.release(ctx, h)
			d.storeFailed(w, r, next, err)
			return
		}
		switch c.Outcome {
		case cache.Acquired:
			h = append(h, heldClaim{key: key, token: c.Token, inDoubt: c.InDoubt})
			fresh[key] = true
		case cache.Completed:
		case cache.Busy:
			d.release(ctx, h)
			busy(w, c.Until)
			return
		default:
			d.release(ctx, h)
			d.unexpected(w, r, key, c)
			return
		}
	}

	// The new events, in delivery order, each once; events without an id
	// (passed through) too.
	var kept [][]byte
	for _, ev := range events {
		key := d.keyPrefix + ev.ID
		if ev.ID == "" || fresh[key] {
			kept = append(kept, ev.Raw)
			delete(fresh, key)
		}
	}
	if len(kept) == 0 {
		acknowledgeDuplicates(w)
		return
	}
	setBody(r, joinJSONArray(kept))
	d.run(w, r, next, h)
}

// joinJSONArray writes items as one JSON array.
func joinJSONArray(items [][]byte) []byte {
	return slices.Concat([]byte("["), bytes.Join(items, []byte(",")), []byte("]"))
}
