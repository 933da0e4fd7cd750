package entrycodec

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// entryVersion is the first byte of an encoded entry.
const entryVersion byte = 1

// Bits of an entry's flags byte.
const (
	flagBodyOmitted byte = 1 << iota
	flagStoredAt
	flagNilHeader
	knownFlags = flagBodyOmitted | flagStoredAt | flagNilHeader
)

// entryOverhead bounds the size of an entry's fields other than header and
// body: version, flags, status, stored time, body length.
const entryOverhead = 2 + 4*binary.MaxVarintLen64

// Append appends the encoding of e to dst and returns the extended buffer.
// A zero e.StoredAt is recorded as now. Equal entries encode to equal bytes.
func Append(dst []byte, e *cache.Entry, now time.Time) []byte {
	flags := flagStoredAt
	if e.BodyOmitted {
		flags |= flagBodyOmitted
	}
	if e.Header == nil {
		flags |= flagNilHeader
	}
	stored := e.StoredAt
	if stored.IsZero() {
		stored = now
	}
	names, headerSize := sortedNames(e.Header)
	dst = slices.Grow(dst, entryOverhead+headerSize+len(e.Body))
	dst = append(dst, entryVersion, flags)
	dst = binary.AppendVarint(dst, int64(e.Status))
	dst = binary.AppendVarint(dst, stored.Unix())
	dst = binary.AppendUvarint(dst, uint64(stored.Nanosecond()))
	dst = appendHeader(dst, e.Header, names)
	return appendLengthPrefixed(dst, e.Body)
}

// Decode decodes b, which must hold exactly one entry encoded by Append.
// The entry shares no memory with b; its StoredAt is in UTC.
func Decode(b []byte) (*cache.Entry, error) {
	d := NewDecoder(b)
	if v := d.Byte(); d.Err() == nil && v != entryVersion {
		d.fail("unknown entry version %d", v)
	}
	flags := d.Byte()
	if flags&^knownFlags != 0 {
		d.fail("unknown entry flags %#x", flags)
	}
	e := &cache.Entry{
		Status:      int(d.Varint()),
		BodyOmitted: flags&flagBodyOmitted != 0,
	}
	if flags&flagStoredAt != 0 {
		sec := d.Varint()
		nsec := d.Uvarint()
		if nsec >= uint64(time.Second) {
			d.fail("%d nanoseconds", nsec)
		}
		e.StoredAt = time.Unix(sec, int64(nsec)).UTC()
	}
	h := d.Header()
	if flags&flagNilHeader == 0 {
		e.Header = h
	} else if len(h) != 0 {
		d.fail("%d names in a nil header", len(h))
	}
	e.Body = d.Bytes()
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return e, nil
}
