package entrycodec

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// testHeaders are headers of every shape a record may hold.
func testHeaders() map[string]http.Header {
	return map[string]http.Header{
		"empty":        {},
		"multi":        {"Set-Cookie": {"a=1", "b=2"}, "Vary": {"Accept", "Origin"}},
		"no values":    {"X-None": {}},
		"empty value":  {"X-Empty": {""}, "": {"empty name"}},
		"binary value": {"X-Bin": {"\x00\xff\xfe\x00"}, "\x00odd name": {"v"}},
		"long value":   {"X-Long": {strings.Repeat("abc", 100_000)}},
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	for name, want := range testHeaders() {
		t.Run(name, func(t *testing.T) {
			if got, err := DecodeHeader(AppendHeader(nil, want)); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip gave %q, %v; want %q", got, err, want)
			}
		})
	}
}

// TestNilHeaderDecodesEmpty: a header on its own has no nil form; a store
// that must tell nil from empty does so around it.
func TestNilHeaderDecodesEmpty(t *testing.T) {
	got, err := DecodeHeader(AppendHeader(nil, nil))
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("nil header decoded as %#v, %v; want an empty header", got, err)
	}
}

// TestHeaderEncodingIsDeterministic: the same header always encodes to the
// same bytes, whatever the map order.
func TestHeaderEncodingIsDeterministic(t *testing.T) {
	h := http.Header{}
	for _, k := range []string{"A", "B", "C", "D", "E", "F", "G", "H"} {
		h[k] = []string{k + "1", k + "2"}
	}
	first := AppendHeader(nil, h)
	for range 20 {
		if !bytes.Equal(AppendHeader(nil, h), first) {
			t.Fatal("encoding of one header varies")
		}
	}
}

// TestAppendHeaderKeepsPrefix: AppendHeader appends after what dst holds.
func TestAppendHeaderKeepsPrefix(t *testing.T) {
	h := http.Header{"A": {"1"}}
	got := AppendHeader([]byte("prefix"), h)
	if want := append([]byte("prefix"), AppendHeader(nil, h)...); !bytes.Equal(got, want) {
		t.Fatalf("AppendHeader with a prefix = % x, want % x", got, want)
	}
}

func TestDecodeHeaderRejectsCorrupt(t *testing.T) {
	valid := AppendHeader(nil, http.Header{"Content-Type": {"application/json"}})
	for name, b := range map[string][]byte{
		"nil":                   nil,
		"empty":                 {},
		"truncated":             valid[:len(valid)-3],
		"trailing bytes":        append(bytes.Clone(valid), 0),
		"huge count":            {0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad varint":            {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"name too long":         {1, 50, 'a'},
		"values too many":       {1, 1, 'a', 200},
		"value too long":        {1, 1, 'a', 1, 9, 'x'},
		"count, no names":       {3},
		"names out of order":    {2, 1, 'b', 0, 1, 'a', 0},
		"name given twice":      {2, 1, 'a', 0, 1, 'a', 0},
		"count one short":       {1, 1, 'a', 0, 1, 'b', 0},
		"value count too small": {1, 1, 'a', 1, 1, 'x', 1, 'y'},
	} {
		if got, err := DecodeHeader(b); !errors.Is(err, ErrCorrupt) || got != nil {
			t.Errorf("%s: DecodeHeader(% x) = %q, %v; want nil, ErrCorrupt", name, b, got, err)
		}
	}
}

// FuzzDecodeHeader: decoding arbitrary bytes never panics and fails only
// with ErrCorrupt; whatever decodes re-encodes to an equal header, and
// re-encoding is stable.
func FuzzDecodeHeader(f *testing.F) {
	for _, h := range testHeaders() {
		f.Add(AppendHeader(nil, h))
	}
	f.Add([]byte{1, 1, 'a', 1, 9, 'x'})
	f.Add([]byte{2, 1, 'b', 0, 1, 'a', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if !decoded(t, err) {
			return
		}
		encoded := AppendHeader(nil, h)
		again, err := DecodeHeader(encoded)
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("re-encoding %q: %q, %v", h, again, err)
		}
		if reencoded := AppendHeader(nil, again); !bytes.Equal(reencoded, encoded) {
			t.Fatalf("encoding of %q is not stable: % x, then % x", h, encoded, reencoded)
		}
	})
}

// decoded reports whether a fuzzed input decoded (err is nil), and fails t
// if err does not wrap ErrCorrupt.
func decoded(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v does not wrap ErrCorrupt", err)
	}
	return err == nil
}
