package entrycodec

import (
	"encoding/binary"
	"net/http"
	"slices"
)

// AppendHeader appends the encoding of h to dst and returns the extended
// buffer. Names are written in sorted order, so equal headers encode to equal
// bytes. A nil and an empty header encode alike.
func AppendHeader(dst []byte, h http.Header) []byte {
	names, size := sortedNames(h)
	return appendHeader(slices.Grow(dst, size), h, names)
}

// DecodeHeader decodes b, which must hold exactly one header encoded by
// AppendHeader. The result is non-nil on success.
func DecodeHeader(b []byte) (http.Header, error) {
	d := NewDecoder(b)
	h := d.Header()
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return h, nil
}

// sortedNames returns the names of h in sorted order and a bound on the
// size of h's encoding.
func sortedNames(h http.Header) ([]string, int) {
	names := make([]string, 0, len(h))
	size := binary.MaxVarintLen64
	for name, values := range h {
		names = append(names, name)
		size += len(name) + 2*binary.MaxVarintLen64
		for _, v := range values {
			size += len(v) + binary.MaxVarintLen64
		}
	}
	slices.Sort(names)
	return names, size
}

// appendHeader appends the encoding of h, whose sorted names are names.
func appendHeader(dst []byte, h http.Header, names []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, name := range names {
		dst = appendLengthPrefixed(dst, name)
		dst = binary.AppendUvarint(dst, uint64(len(h[name])))
		for _, v := range h[name] {
			dst = appendLengthPrefixed(dst, v)
		}
	}
	return dst
}

// appendLengthPrefixed appends the length of s, then s.
func appendLengthPrefixed[T string | []byte](dst []byte, s T) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}
