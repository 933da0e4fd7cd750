package entrycodec

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// testEntry returns an entry with binary headers and a body holding every
// byte value, stored at a time with nanoseconds.
func testEntry() *cache.Entry {
	var body []byte
	for b := range 256 {
		body = append(body, byte(b), byte(255-b))
	}
	h := testHeaders()["binary value"]
	h["Set-Cookie"] = []string{"a=1", "b=2", ""}
	return &cache.Entry{
		Status:   http.StatusAccepted,
		Header:   h,
		Body:     body,
		StoredAt: time.Unix(1_741_064_767, 891_234_567).UTC(),
	}
}

// entryDiff describes how got differs from want, whose zero StoredAt stands
// for now, or returns "". Headers must match exactly, nil apart from empty.
func entryDiff(got, want *cache.Entry, now time.Time) string {
	wantStored := want.StoredAt
	if wantStored.IsZero() {
		wantStored = now
	}
	switch {
	case got.Status != want.Status:
		return fmt.Sprintf("Status %d, want %d", got.Status, want.Status)
	case got.BodyOmitted != want.BodyOmitted:
		return fmt.Sprintf("BodyOmitted %v, want %v", got.BodyOmitted, want.BodyOmitted)
	case !bytes.Equal(got.Body, want.Body):
		return fmt.Sprintf("Body %q, want %q", got.Body, want.Body)
	case !got.StoredAt.Equal(wantStored):
		return fmt.Sprintf("StoredAt %v, want %v", got.StoredAt, wantStored)
	case !reflect.DeepEqual(got.Header, want.Header):
		return fmt.Sprintf("Header %#v, want %#v", got.Header, want.Header)
	}
	return ""
}

func TestEntryRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	cases := map[string]*cache.Entry{
		"binary":       testEntry(),
		"zero":         {},
		"omitted":      {Status: 500, BodyOmitted: true, StoredAt: now},
		"nil header":   {Status: 204, Header: nil, StoredAt: now},
		"empty header": {Status: 204, Header: http.Header{}, StoredAt: now},
		"far future":   {Status: 200, StoredAt: time.Date(3000, 1, 1, 0, 0, 0, 1, time.UTC)},
		"far past":     {Status: 200, StoredAt: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"other zone":   {Status: 200, StoredAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))},
		"odd status":   {Status: -1, StoredAt: now},
		"empty values": {Header: http.Header{"X": {}, "Y": {"", ""}}, StoredAt: now},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Decode(Append(nil, want, now))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if d := entryDiff(got, want, now); d != "" {
				t.Fatal(d)
			}
			if got.StoredAt.Location() != time.UTC {
				t.Errorf("StoredAt in %v, want UTC", got.StoredAt.Location())
			}
		})
	}
}

// TestEntryEncodingIsDeterministic: equal entries encode to equal bytes,
// and Append appends after what dst holds.
func TestEntryEncodingIsDeterministic(t *testing.T) {
	now := time.Now()
	first := Append(nil, testEntry(), now)
	for range 20 {
		if got := Append([]byte("prefix"), testEntry(), now); !bytes.Equal(got, append([]byte("prefix"), first...)) {
			t.Fatal("encoding of one entry varies")
		}
	}
}

// TestDecodeSharesNoMemory: changing the input after Decode leaves the
// entry as it was.
func TestDecodeSharesNoMemory(t *testing.T) {
	want := testEntry()
	b := Append(nil, want, time.Now())
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xAA
	}
	if d := entryDiff(got, want, time.Time{}); d != "" {
		t.Fatalf("after the input changed: %s", d)
	}
}

// TestDecodeRejectsCorruption: every truncation and a few damaged fields of
// a valid encoding are errors wrapping ErrCorrupt.
func TestDecodeRejectsCorruption(t *testing.T) {
	valid := Append(nil, testEntry(), time.Now())
	for n := range len(valid) {
		if e, err := Decode(valid[:n]); !errors.Is(err, ErrCorrupt) || e != nil {
			t.Fatalf("truncated to %d bytes: %v, %v; want nil, ErrCorrupt", n, e, err)
		}
	}
	bad := map[string][]byte{
		"version":  append([]byte{9}, valid[1:]...),
		"flags":    append([]byte{entryVersion, 0x80}, valid[2:]...),
		"trailing": append(bytes.Clone(valid), 0),
		"huge count": {entryVersion, flagStoredAt, 0, 0, 0,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"nanoseconds":         {entryVersion, flagStoredAt, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0},
		"names in nil header": {entryVersion, flagNilHeader, 0, 1, 1, 'a', 0, 0},
		"body too long":       {entryVersion, 0, 0, 0, 5, 'x'},
	}
	for name, data := range bad {
		if _, err := Decode(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzDecode: decoding arbitrary bytes never panics and fails only with
// ErrCorrupt; whatever decodes encodes back to an equal entry, and
// re-encoding is stable.
func FuzzDecode(f *testing.F) {
	now := time.Unix(1e9, 0)
	for _, e := range []*cache.Entry{testEntry(), {}, {Header: http.Header{}, BodyOmitted: true}} {
		f.Add(Append(nil, e, now))
	}
	f.Add([]byte{entryVersion})
	f.Add([]byte{entryVersion, flagNilHeader, 0, 1, 1, 'a', 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if !decoded(t, err) {
			return
		}
		encoded := Append(nil, e, now)
		again, err := Decode(encoded)
		if err != nil {
			t.Fatalf("re-decoding %+v: %v", e, err)
		}
		if d := entryDiff(again, e, now); d != "" {
			t.Fatalf("round trip of %+v: %s", e, d)
		}
		if reencoded := Append(nil, again, now); !bytes.Equal(reencoded, encoded) {
			t.Fatalf("encoding of %+v is not stable: % x, then % x", e, encoded, reencoded)
		}
	})
}
