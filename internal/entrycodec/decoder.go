package entrycodec

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
)

// A Decoder reads the fields of an encoding in order. It remembers the
// first error: after it, every read returns a zero value and Finish reports
// that error. A Decoder never panics, and it rejects a length or count the
// remaining input cannot hold before allocating for it.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a Decoder reading b. Values it returns never share
// memory with b.
func NewDecoder(b []byte) *Decoder {
	return &Decoder{b: b}
}

// Err returns the first error met so far, or nil.
func (d *Decoder) Err() error {
	return d.err
}

// Finish returns the first error met, or an error if input remains unread.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if b := d.take(1, "byte"); d.err == nil {
		return b[0]
	}
	return 0
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	return readVarint(d, binary.Uvarint, "uvarint")
}

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 {
	return readVarint(d, binary.Varint, "varint")
}

// Count reads a uvarint number of items that each take at least minBytes
// bytes (at least 1) of the remaining input; a larger count is corrupt.
func (d *Decoder) Count(minBytes int) int {
	n := d.Uvarint()
	if d.err == nil && n > uint64(len(d.b)/max(minBytes, 1)) {
		d.fail("count %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

// Bytes reads a length-prefixed byte string into new memory. An empty
// string is a non-nil empty slice; after an error the result is nil.
func (d *Decoder) Bytes() []byte {
	b := d.take(d.Uvarint(), "byte string")
	if d.err != nil {
		return nil
	}
	return slices.Clone(b)
}

// Header reads a header in the form AppendHeader writes. The result is
// non-nil unless there is an error.
func (d *Decoder) Header() http.Header {
	// A name takes at least two bytes (its length and its value count), a
	// value at least one.
	n := d.Count(2)
	h := make(http.Header, n)
	prev := ""
	for i := range n {
		name := d.text()
		if d.err == nil && i > 0 && name <= prev {
			d.fail("header name %q does not follow %q", name, prev)
		}
		values := make([]string, d.Count(1))
		for j := range values {
			values[j] = d.text()
		}
		if d.err != nil {
			return nil
		}
		h[name] = values
		prev = name
	}
	if d.err != nil {
		return nil
	}
	return h
}

// text reads a length-prefixed string.
func (d *Decoder) text() string {
	return string(d.take(d.Uvarint(), "string"))
}

// take consumes and returns the next n bytes of the input, without copying.
func (d *Decoder) take(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("%s of %d bytes exceeds the %d bytes left", what, n, len(d.b))
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

// fail records an error unless one is already recorded, and drops the
// remaining input.
func (d *Decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	d.b = nil
}

// readVarint reads a varint with read, which is binary.Uvarint or
// binary.Varint.
func readVarint[T int64 | uint64](d *Decoder, read func([]byte) (T, int), what string) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.b)
	if n <= 0 {
		d.fail("truncated or overlong %s", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}
