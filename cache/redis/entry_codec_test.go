package redis

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

func TestEntryCodecRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	cases := map[string]*cache.Entry{
		"binary":       testEntry(),
		"empty":        {},
		"omitted":      {Status: 500, BodyOmitted: true, StoredAt: now},
		"nil header":   {Status: 204, Header: nil, Body: nil, StoredAt: now},
		"far future":   {Status: 200, StoredAt: time.Date(3000, 1, 1, 0, 0, 0, 1, time.UTC)},
		"far past":     {Status: 200, StoredAt: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"odd status":   {Status: -1, StoredAt: now},
		"empty values": {Header: http.Header{"X": {}, "Y": {"", ""}}, StoredAt: now},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := decodeEntry(encodeEntry(want, now))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			wantStored := want.StoredAt
			if wantStored.IsZero() {
				wantStored = now
			}
			if got.Status != want.Status || got.BodyOmitted != want.BodyOmitted ||
				!bytes.Equal(got.Body, want.Body) || !got.StoredAt.Equal(wantStored) {
				t.Fatalf("decoded %+v, want %+v (StoredAt %v)", got, want, wantStored)
			}
			if d := headerDiff(got, want); d != "" && len(got.Header)+len(want.Header) > 0 {
				t.Fatal(d)
			}
		})
	}
}

// TestEntryCodecRejectsCorruption: every truncation and a few flipped bytes
// of a valid encoding are errors wrapping errCorruptEntry, never panics.
func TestEntryCodecRejectsCorruption(t *testing.T) {
	valid := encodeEntry(testEntry(), time.Now())
	for n := range len(valid) {
		if _, err := decodeEntry(valid[:n]); !errors.Is(err, errCorruptEntry) {
			t.Fatalf("truncated to %d bytes: err %v, want errCorruptEntry", n, err)
		}
	}
	bad := map[string][]byte{
		"version":  append([]byte{9}, valid[1:]...),
		"flags":    append([]byte{entryVersion, 0x80}, valid[2:]...),
		"trailing": append(bytes.Clone(valid), 0),
		"huge count": {entryVersion, flagStoredAt, 0, 0, 0,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"nanos": {entryVersion, flagStoredAt, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0},
	}
	for name, data := range bad {
		if _, err := decodeEntry(data); !errors.Is(err, errCorruptEntry) {
			t.Errorf("%s: err %v, want errCorruptEntry", name, err)
		}
	}
}

// FuzzDecodeEntry: decoding arbitrary bytes never panics, and whatever
// decodes encodes back to an equal entry.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(testEntry(), time.Now()))
	f.Add(encodeEntry(&cache.Entry{}, time.Now()))
	f.Add([]byte{entryVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeEntry(data)
		if err != nil {
			if !errors.Is(err, errCorruptEntry) {
				t.Fatalf("error %v does not wrap errCorruptEntry", err)
			}
			return
		}
		now := time.Unix(1e9, 0)
		again, err := decodeEntry(encodeEntry(e, now))
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		wantStored := e.StoredAt
		if wantStored.IsZero() { // a zero StoredAt is recorded as now
			wantStored = now
		}
		if again.Status != e.Status || !bytes.Equal(again.Body, e.Body) || !again.StoredAt.Equal(wantStored) {
			t.Fatalf("round trip changed %+v into %+v", e, again)
		}
	})
}
