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
//   - strings: the decoded text between quotes, with \" and \\, the escapes
//     \b \t \n \f \r for U+0008, U+0009, U+000A, U+000C, U+000D, \u00xx
//     (lower-case hex) for the other code points below U+0020, and every
//     other code point as its UTF-8 bytes (so \u0041 becomes A, \/ becomes
//     /, and U+007F, U+00E9 or U+2028 are not escaped);
//   - numbers: the IEEE 754 double nearest to the number, written as
//     ECMAScript's Number.prototype.toString writes it: the shortest digits
//     that convert back to that double; plain notation when 1e-6 <= |x| <
//     1e21 (10.5, 0.000001, 100000000000000000000); otherwise one digit, an
//     optional fraction, "e", the sign and the exponent (1e+21, 1e-7,
//     5e-324, 1.5e+300); 0 for zero and -0;
//   - arrays: the elements in order, separated by ",";
//   - objects: the members "name":value separated by ",", sorted by the
//     UTF-16 code units of the decoded names (so "\u20ac" sorts after
//     "\ud83d\ude00", whose first code unit is 0xD83D).
//
// The input must be I-JSON (RFC 7493), or AppendJSON fails with ErrInvalid:
// valid JSON (RFC 8259) with nothing but whitespace after the value, valid
// UTF-8, no lone surrogate in a \u escape, no two members of one object with
// the same decoded name, every number within the range of a double
// (numbers too small for one become 0, as in every JSON parser), at most
// 10000 nested arrays and objects.
//
// The implementation is one hand-written pass over the input that writes
// the output as it reads, then one more copy that puts object members in
// order:
//
//   - runs of string text that need no change are copied 8 bytes at a time
//     while a word-wide test looks for quote, backslash, control and
//     non-ASCII bytes; non-ASCII text is validated with utf8.Valid and
//     copied as it is; escapes are decoded and written canonically;
//   - integers of up to 15 digits and decimals of up to 15 significant
//     digits without exponent, leading zero or trailing zero are canonical
//     as written (every decimal of at most 15 significant digits converts to
//     a different double, so its digits are the shortest) and are copied;
//     other numbers go through strconv.ParseFloat and strconv.AppendFloat's
//     shortest digits, laid out as above;
//   - object members are written in document order while their positions
//     are recorded. Each name is compared with the previous one as it is
//     read: first by an 8-byte prefix of the decoded name, mapped so that
//     integer order is UTF-16 order, then by the whole name when prefixes
//     tie (an equal name is a duplicate). An object found out of order has
//     its members sorted (the prefixes with the member indexes packed below
//     them, as integers; ties by whole names). Orders found are remembered,
//     by a hash of the prefixes, and tried first on the next object with
//     the same names: a check of one comparison per member accepts or
//     rejects the guess, so a guess can never change the result;
//   - after the pass, when some object was out of order, the document is
//     written again in its final place with every such object's members in
//     sorted order; members that follow each other in both orders are
//     copied as one piece.
//
// UTF-8 byte order is code point order; it differs from UTF-16 order only
// between U+E000..U+FFFF (lead bytes 0xEE, 0xEF) and U+10000 and above (lead
// bytes 0xF0..0xF4, which UTF-16 writes as surrogates 0xD800..0xDFFF): the
// name comparison swaps these two groups of lead bytes and is otherwise a
// byte comparison.
//
// # Exact numbers: JSON
//
// RFC 8785 makes numbers that round to the same double equal: 9007199254740993
// and 9007199254740992 (2^53) both become 9007199254740992. A number is lossy
// when its RFC 8785 form denotes another decimal value than its literal;
// spellings of one value (1.0, 1e0, 0.50, -0) are not lossy. The methods of
// JSON do what AppendJSON, AppendLenJSON and AppendPointer do and report
// lossy numbers; with JSON.Exact they write the exact form, where each lossy
// number is written as its exact decimal value, laid out as ECMAScript lays
// out a double's digits (the JSON type documents the spelling). The exact
// form of a document without lossy numbers is its RFC 8785 form. The check
// costs nothing for numbers canonical as written, and one comparison for
// numbers of at most 15 digits that convert to a normal double (never
// lossy, DBL_DIG); only other numbers, zeros and literals spelled as their
// RFC 8785 form aside, compare the normalised decimals (sign, significant
// digits, exponent) of the literal and of its RFC 8785 form.
//
// # Forms: AppendForm, AppendFormField
//
// application/x-www-form-urlencoded bodies (and URL queries) become
// uvarint(number of fields), then AppendLen(name) AppendLen(value) per
// field, names and values decoded ('+' is a space, %XX a byte), fields
// sorted by name in byte order, the values of a repeated name in body
// order. AppendFormField encodes the values of one field: uvarint(number
// of values), then AppendLen(value) per value.
//
// # Multipart: AppendMultipart
//
// multipart bodies become uvarint(number of parts), then per part in order
// AppendLen of the form name, the filename, the normalised content type
// and the content. The boundary never influences the result.
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
