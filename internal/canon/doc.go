// Package canon turns request bodies into canonical byte strings, the input
// of idempotency keys and fingerprints: two bodies that mean the same
// request give the same bytes, two that differ give different bytes. What
// is hashed is specified here exactly; it is part of key derivation v1 and
// must never change within that version.
//
// # JSON: AppendJSON
//
// The output is the RFC 8785 (JSON Canonicalization Scheme) canonical form
// of the one JSON value in the input, byte for byte:
//
//   - no whitespace between tokens;
//   - literals true, false, null as such;
//   - strings: the decoded text, written between quotes with \" and \\, the
//     escapes \b \t \n \f \r for U+0008, U+0009, U+000A, U+000C, U+000D,
//     \u00xx (lower-case hex) for the other code points below U+0020, and
//     every other code point as its UTF-8 bytes (so \u0041 becomes A, \/
//     becomes /, and U+007F, U+2028 or U+00E9 are not escaped);
//   - numbers: the IEEE 754 double nearest to the number, written as
//     ECMAScript's Number.prototype.toString writes it: the shortest digits
//     that convert back to that double; plain notation when 1e-6 <= |x| <
//     1e21 (10.5, 0.000001, 100000000000000000000); otherwise one digit,
//     an optional fraction, "e", the sign and the exponent (1e+21, 1e-7,
//     5e-324, 1.5e+300); zero and -0 as 0;
//   - arrays: elements in order, separated by ",";
//   - objects: members "name":value separated by ",", sorted by the UTF-16
//     code units of the decoded names (so "\u20ac" sorts after "\ud83d\ude00").
//
// The input must be I-JSON (RFC 7493) or AppendJSON fails with ErrInvalid:
// valid JSON (RFC 8259) with nothing but whitespace after the value, valid
// UTF-8, no lone surrogate in a \u escape, no two members of one object
// with the same decoded name, every number within the range of a double
// (numbers too small for one become 0, as in every JSON parser), at most
// 10000 nested arrays and objects.
//
// The implementation is one hand-written pass over the input that writes
// the output as it reads: runs of string text that need no change are
// copied as they are, after an 8-bytes-at-a-time check for quote,
// backslash, control and non-ASCII bytes (non-ASCII text is then validated
// as UTF-8); integers and short decimals already in canonical spelling are
// copied; other numbers go through strconv.ParseFloat and
// strconv.AppendFloat's shortest digits, laid out as above. Object members
// are written in document order while their positions are recorded; an
// object whose names are not already in order has its members sorted, and
// after the pass a second walk writes the out-of-order objects in sorted
// order, so every byte moves at most once more whatever the nesting.
// Names sort by their UTF-8 bytes with one correction: the lead bytes of
// U+10000 and above (0xF0..0xF4) sort before those of U+E000..U+FFFF (0xEE,
// 0xEF), which is UTF-16 order.
//
// # Forms: AppendForm, AppendFormField
//
// application/x-www-form-urlencoded bodies (and URL queries) become
// uvarint(number of fields), then AppendLen(name) AppendLen(value) per
// field, names and values decoded, fields sorted by name in byte order,
// repeated names in body order. AppendFormField encodes the values of one
// field: uvarint(number of values), then AppendLen(value) per value.
//
// # Multipart: AppendMultipart
//
// multipart bodies become uvarint(number of parts), then per part in order
// AppendLen of the form name, the filename, the normalised content type and
// the content. The boundary never influences the result.
//
// # JSON Pointer: AppendPointer
//
// The canonical JSON (as AppendJSON) of the value an RFC 6901 pointer
// selects, for keys made of chosen fields only.
//
// AppendLen (uvarint length, then the bytes) is the building block of all
// these encodings, and of the caller's: a sequence of length-prefixed
// fields can be split in only one way.
package canon
