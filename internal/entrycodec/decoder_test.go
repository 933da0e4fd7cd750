package entrycodec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// TestDecoderReadsInOrder: each read consumes its field, and Finish is nil
// once all is read.
func TestDecoderReadsInOrder(t *testing.T) {
	b := []byte{7}
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = binary.AppendUvarint(b, 2)
	b = appendLengthPrefixed(b, "hi")
	d := NewDecoder(b)
	if v := d.Byte(); v != 7 {
		t.Errorf("Byte = %d, want 7", v)
	}
	if v := d.Uvarint(); v != 300 {
		t.Errorf("Uvarint = %d, want 300", v)
	}
	if v := d.Varint(); v != -5 {
		t.Errorf("Varint = %d, want -5", v)
	}
	if n := d.Count(1); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
	if v := d.Bytes(); string(v) != "hi" {
		t.Errorf("Bytes = %q, want %q", v, "hi")
	}
	if err := d.Finish(); err != nil {
		t.Errorf("Finish: %v", err)
	}
}

// TestDecoderKeepsFirstError: after a failure every read is zero and Finish
// reports the first failure, not a later one.
func TestDecoderKeepsFirstError(t *testing.T) {
	d := NewDecoder([]byte{5, 'a', 1, 2, 3})
	if v := d.Bytes(); v != nil {
		t.Fatalf("Bytes over the end = %q, want nil", v)
	}
	first := d.Err()
	if !errors.Is(first, ErrCorrupt) {
		t.Fatalf("Err = %v, want ErrCorrupt", first)
	}
	if d.Byte() != 0 || d.Uvarint() != 0 || d.Varint() != 0 || d.Count(1) != 0 || d.Bytes() != nil || d.Header() != nil {
		t.Error("a read after the error returned a value")
	}
	if err := d.Finish(); err != first {
		t.Errorf("Finish = %v, want the first error %v", err, first)
	}
}

// TestDecoderCountIsBounded: a count the remaining bytes cannot hold is an
// error, with minBytes per item taken into account.
func TestDecoderCountIsBounded(t *testing.T) {
	for _, tc := range []struct {
		count    uint64
		minBytes int
		ok       bool
	}{
		{4, 1, true}, {5, 1, false}, {2, 2, true}, {3, 2, false}, {4, 0, true}, {1 << 62, 1, false},
	} {
		b := binary.AppendUvarint(nil, tc.count)
		d := NewDecoder(append(b, 0, 0, 0, 0))
		n := d.Count(tc.minBytes)
		if ok := d.Err() == nil; ok != tc.ok || (ok && uint64(n) != tc.count) {
			t.Errorf("Count(%d) of %d over 4 bytes = %d, %v; want ok %v", tc.minBytes, tc.count, n, d.Err(), tc.ok)
		}
	}
}

// TestDecoderBytesAreCopies: Bytes never returns memory of the input, and
// an empty string is non-nil.
func TestDecoderBytesAreCopies(t *testing.T) {
	in := []byte{3, 'a', 'b', 'c', 0}
	d := NewDecoder(in)
	got := d.Bytes()
	empty := d.Bytes()
	in[1] = 'z'
	if !bytes.Equal(got, []byte("abc")) {
		t.Errorf("Bytes = %q after the input changed, want %q", got, "abc")
	}
	if empty == nil || len(empty) != 0 {
		t.Errorf("empty Bytes = %#v, want a non-nil empty slice", empty)
	}
}

func TestDecoderFinishRejectsTrailingBytes(t *testing.T) {
	d := NewDecoder([]byte{1, 2})
	d.Byte()
	if err := d.Finish(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Finish with a byte left = %v, want ErrCorrupt", err)
	}
}
