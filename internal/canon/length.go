package canon

import "encoding/binary"

// AppendLen appends a length-prefixed field to dst: the length of b as an
// unsigned varint (encoding/binary.AppendUvarint), then b. A sequence of such
// fields splits in exactly one way, which is what makes the encodings of
// this package unambiguous.
func AppendLen(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// appendLenString is AppendLen for a string.
func appendLenString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// insertUvarint inserts the uvarint encoding of n at dst[at:], moving the
// bytes after it up.
func insertUvarint(dst []byte, at int, n uint64) []byte {
	var b [binary.MaxVarintLen64]byte
	w := binary.PutUvarint(b[:], n)
	end := len(dst)
	dst = append(dst, b[:w]...)
	copy(dst[at+w:], dst[at:end])
	copy(dst[at:], b[:w])
	return dst
}
