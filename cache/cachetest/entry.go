package cachetest

import (
	"bytes"
	"math/rand/v2"
	"net/http"

	"github.com/idemhttp/idemhttp/cache"
)

func entryCases() []testCase {
	return []testCase{
		{"LargeBody", testLargeBody},
		{"BinaryBody", testBinaryBody},
		{"MultiValueHeaders", testMultiValueHeaders},
		{"EmptyAndNilBody", testEmptyAndNilBody},
		{"BodyOmitted", testBodyOmitted},
		{"StoreKeepsCopies", testStoreKeepsCopies},
	}
}

// wantRoundTrip completes a claim of a new key with newEntry() and asserts that
// both Claim and Get give back an equal entry. newEntry is called twice so the
// store's copy and the expected value never share memory.
func (h *harness) wantRoundTrip(name string, newEntry func() *cache.Entry) {
	h.t.Helper()
	k := h.key(name)
	c := h.acquire(k, fpA, longLease, false)
	h.complete(k, c.Token, newEntry(), longTTL)
	want := newEntry()
	h.wantReplay(k, want)
	if d := diffEntry(h.get(k).Entry, want); d != "" {
		h.t.Fatalf("Get(%q) entry differs: %s", k, d)
	}
}

// testLargeBody: a 4 MiB body of random bytes is kept byte for byte.
func testLargeBody(h *harness) {
	body := make([]byte, 4<<20)
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	_, _ = rng.Read(body)
	h.wantRoundTrip("large", func() *cache.Entry {
		e := sampleEntry()
		e.Body = bytes.Clone(body)
		return e
	})
}

// testBinaryBody: every byte value, NULs at both ends and invalid UTF-8
// survive.
func testBinaryBody(h *harness) {
	var body []byte
	body = append(body, 0, 0)
	for i := range 3 * 256 {
		body = append(body, byte(i))
	}
	body = append(body, 0xff, 0xfe, 0xc3, 0x28, 0, 0)
	h.wantRoundTrip("binary", func() *cache.Entry {
		e := sampleEntry()
		e.Header = http.Header{"Content-Type": {"application/octet-stream"}}
		e.Body = bytes.Clone(body)
		return e
	})
}

// testMultiValueHeaders: header keys with several values, values with commas,
// quotes, spaces and empty values keep their order and content.
func testMultiValueHeaders(h *harness) {
	h.wantRoundTrip("headers", func() *cache.Entry {
		e := sampleEntry()
		e.Header = http.Header{
			"Link":            {`<https://a.example/?p=2>; rel="next"`, `<https://a.example/?p=9>; rel="last"`},
			"Vary":            {"Accept", "Accept-Encoding", "Origin"},
			"Warning":         {`199 - "a, b; c"`},
			"X-Empty":         {""},
			"X-Many":          {"3", "1", "2", "1", ""},
			"X-Utf8":          {"café ☕"},
			"Idempotency-Key": {"order-42"},
		}
		return e
	})
}

// testEmptyAndNilBody: an empty and a nil body both come back empty.
func testEmptyAndNilBody(h *harness) {
	for name, body := range map[string][]byte{"empty": {}, "nil": nil} {
		k := h.key(name)
		c := h.acquire(k, fpA, longLease, false)
		e := sampleEntry()
		e.Status = http.StatusNoContent
		e.Body = body
		h.complete(k, c.Token, e, longTTL)
		got := h.wantOutcome(k, fpA, cache.Completed)
		if got.Entry == nil || len(got.Entry.Body) != 0 || got.Entry.Status != http.StatusNoContent {
			h.t.Fatalf("%s body: replayed %+v, want status 204 and an empty body", name, got.Entry)
		}
	}
}

// testBodyOmitted: an entry recorded without its body, and without headers,
// keeps the flag and the status.
func testBodyOmitted(h *harness) {
	h.wantRoundTrip("omitted", func() *cache.Entry {
		return &cache.Entry{Status: http.StatusUnprocessableEntity, BodyOmitted: true, StoredAt: storedAt()}
	})
}

// testStoreKeepsCopies: mutating the entry passed to Complete, or one
// returned by Claim or Get, does not change what the store replays.
func testStoreKeepsCopies(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	passed := sampleEntry()
	h.complete(k, c.Token, passed, longTTL)
	scribble(passed)
	h.wantReplay(k, sampleEntry())

	scribble(h.wantOutcome(k, fpA, cache.Completed).Entry)
	h.wantReplay(k, sampleEntry())

	scribble(h.get(k).Entry)
	h.wantReplay(k, sampleEntry())
}

// scribble mutates every part of e in place.
func scribble(e *cache.Entry) {
	e.Status = http.StatusTeapot
	for i := range e.Body {
		e.Body[i] = 'X'
	}
	for k, vs := range e.Header {
		for i := range vs {
			vs[i] = "scribbled"
		}
		e.Header[k] = append(vs, "more")
	}
	e.Header.Set("X-Scribbled", "yes")
	e.BodyOmitted = !e.BodyOmitted
}
