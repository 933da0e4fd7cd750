package redis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// The entry encoding is compact, binary-safe and versioned:
//
//	version  byte (entryVersion)
//	flags    byte (flagBodyOmitted | flagStoredAt)
//	status   varint
//	stored   varint Unix seconds, uvarint nanoseconds, present when flagStoredAt
//	headers  uvarint count, then per name (sorted): uvarint len, name,
//	         uvarint value count, then per value: uvarint len, value
//	body     uvarint len, body
//
// Nothing may follow the body.
const (
	entryVersion    byte = 1
	flagBodyOmitted byte = 1 << 0
	flagStoredAt    byte = 1 << 1
	knownFlags           = flagBodyOmitted | flagStoredAt
)

// errCorruptEntry is wrapped by every decoding failure.
var errCorruptEntry = errors.New("corrupt entry")

// encodeEntry returns the encoding of e; a zero StoredAt is recorded as now.
func encodeEntry(e *cache.Entry, now time.Time) []byte {
	buf := make([]byte, 0, 32+e.Size())
	flags := flagStoredAt
	if e.BodyOmitted {
		flags |= flagBodyOmitted
	}
	stored := e.StoredAt
	if stored.IsZero() {
		stored = now
	}
	buf = append(buf, entryVersion, flags)
	buf = binary.AppendVarint(buf, int64(e.Status))
	buf = binary.AppendVarint(buf, stored.Unix())
	buf = binary.AppendUvarint(buf, uint64(stored.Nanosecond()))
	names := make([]string, 0, len(e.Header))
	for name := range e.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	buf = binary.AppendUvarint(buf, uint64(len(names)))
	for _, name := range names {
		buf = appendBytes(buf, name)
		values := e.Header[name]
		buf = binary.AppendUvarint(buf, uint64(len(values)))
		for _, v := range values {
			buf = appendBytes(buf, v)
		}
	}
	return appendBytes(buf, e.Body)
}

// appendBytes appends the length of b and b.
func appendBytes[T string | []byte](buf []byte, b T) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// decodeEntry parses an encoding made by encodeEntry. It never panics: any
// malformed input is an error wrapping errCorruptEntry.
func decodeEntry(data []byte) (*cache.Entry, error) {
	d := decoder{data: data}
	if v := d.byte(); d.err == nil && v != entryVersion {
		return nil, fmt.Errorf("%w: unknown version %d", errCorruptEntry, v)
	}
	flags := d.byte()
	if flags&^knownFlags != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", errCorruptEntry, flags)
	}
	e := &cache.Entry{BodyOmitted: flags&flagBodyOmitted != 0}
	e.Status = int(d.varint())
	if flags&flagStoredAt != 0 {
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= uint64(time.Second) {
			d.fail("time")
		}
		e.StoredAt = time.Unix(sec, int64(nsec)).UTC()
	}
	if n := d.count(); n > 0 {
		e.Header = make(http.Header, n)
		for range n {
			name := string(d.bytes())
			values := make([]string, d.count())
			for i := range values {
				values[i] = string(d.bytes())
			}
			e.Header[name] = values
		}
	}
	e.Body = d.bytes()
	if d.err == nil && len(d.data) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errCorruptEntry, len(d.data))
	}
	if d.err != nil {
		return nil, d.err
	}
	return e, nil
}

// decoder reads from data, remembering the first error; after an error every
// read returns a zero value.
type decoder struct {
	data []byte
	err  error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or malformed %s", errCorruptEntry, what)
	}
	d.data = nil
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.data) == 0 {
		d.fail("header byte")
		return 0
	}
	b := d.data[0]
	d.data = d.data[1:]
	return b
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.data)
	if d.err != nil || n <= 0 {
		d.fail("varint")
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.data)
	if d.err != nil || n <= 0 {
		d.fail("length")
		return 0
	}
	d.data = d.data[n:]
	return v
}

// count reads a number of items; each item takes at least one byte, so a
// count beyond the remaining bytes is corrupt (and is not allocated).
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.data)) {
		d.fail("count")
		return 0
	}
	return int(n)
}

// bytes reads a length-prefixed byte string, copied out of the input.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.data)) {
		d.fail("byte string")
		return nil
	}
	b := slices.Clone(d.data[:n])
	d.data = d.data[n:]
	return b
}
