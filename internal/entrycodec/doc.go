// Package entrycodec is the binary encoding the record stores use for
// recorded responses: an http.Header on its own (the SQLite store keeps the
// other fields of an entry in columns) or a whole cache.Entry (the Redis
// store keeps an entry in one value).
//
// Numbers are uvarints unless said otherwise; a string is its length and its
// bytes. A header is the number of names, then for each name, in strictly
// increasing byte order, the name, the number of its values, and each value.
// An entry is:
//
//	version  byte (1)
//	flags    byte: 1 body omitted, 2 stored time present, 4 nil header
//	status   varint
//	stored   varint Unix seconds, uvarint nanoseconds; only with flag 2
//	header   as above (no names with flag 4)
//	body     string
//
// Nothing may follow the last field. Encoding is deterministic: equal
// inputs give equal bytes. Decoding never panics and never allocates more
// than the input justifies; every failure wraps ErrCorrupt.
package entrycodec
