package canon

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// SWAR constants: a byte value repeated in each byte of a uint64.
const (
	eachByte  = 0x0101010101010101
	eachHigh  = 0x8080808080808080
	eachQuote = eachByte * '"'
	eachSlash = eachByte * '\\'
	eachSpace = eachByte * ' '
)

// stopBytes returns a mask with the high bit set in the lowest byte of x
// that is a quote, a backslash or a control character (< 0x20), and maybe
// in bytes above it; zero when there is none. Borrows run only upwards, so
// the lowest flagged byte is always a true one.
func stopBytes(x uint64) uint64 {
	q := x ^ eachQuote
	b := x ^ eachSlash
	return ((q-eachByte)&^q | (b-eachByte)&^b | (x-eachSpace)&^x) & eachHigh
}

// string writes the canonical form of the string at src[i] == '"' and
// returns the new cursor and the offset just past the string. escaped
// reports that the canonical form holds a backslash escape. Text that needs
// no change, ASCII without quote, backslash or control characters, is
// copied 8 bytes at a time while it is checked; non-ASCII runs are
// validated as UTF-8 and copied as they are.
func (s *jsonState) string(w, i int) (next, read int, escaped bool, err error) {
	src, out := s.src, s.out
	out[w] = '"'
	w++
	i++
	for {
		for i+8 <= len(src) {
			x := binary.LittleEndian.Uint64(src[i:])
			binary.LittleEndian.PutUint64(out[w:], x)
			if m := stopBytes(x) | x&eachHigh; m != 0 {
				k := bits.TrailingZeros64(m) >> 3
				i += k
				w += k
				break
			}
			i += 8
			w += 8
		}
		for i < len(src) {
			c := src[i]
			if c < ' ' || c == '"' || c == '\\' || c >= utf8.RuneSelf {
				break
			}
			out[w] = c
			i++
			w++
		}
		if i >= len(src) {
			return w, i, escaped, invalidAt(i, "unterminated string")
		}
		switch c := src[i]; {
		case c == '"':
			out[w] = '"'
			return w + 1, i + 1, escaped, nil
		case c == '\\':
			var esc bool
			if w, i, esc, err = s.escape(w, i); err != nil {
				return w, i, escaped, err
			}
			escaped = escaped || esc
		case c < ' ':
			return w, i, escaped, invalidAt(i, "control character in string")
		default:
			end := textRun(src, i)
			if !utf8.Valid(src[i:end]) {
				return w, i, escaped, invalidAt(i, "invalid UTF-8 in string")
			}
			w += copy(out[w:], src[i:end])
			i = end
		}
	}
}

// textRun returns the offset of the first quote, backslash or control
// character at or after i; len(src) if none.
func textRun(src []byte, i int) int {
	for ; i+8 <= len(src); i += 8 {
		if m := stopBytes(binary.LittleEndian.Uint64(src[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(src); i++ {
		if c := src[i]; c < ' ' || c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

// escape writes the canonical form of the escape sequence at src[i] == '\\'
// and returns the new cursor and the offset just past it. escaped reports
// that the canonical form is itself an escape. No canonical form is longer
// than the escape it comes from.
func (s *jsonState) escape(w, i int) (next, read int, escaped bool, err error) {
	src := s.src
	if i+1 >= len(src) {
		return w, i, false, invalidAt(i, "unterminated string")
	}
	switch c := src[i+1]; c {
	case '"', '\\', 'b', 'f', 'n', 'r', 't':
		s.out[w], s.out[w+1] = '\\', c
		return w + 2, i + 2, true, nil
	case '/':
		s.out[w] = '/'
		return w + 1, i + 2, false, nil
	case 'u':
		r, n, err := decodeUnicodeEscape(src, i)
		if err != nil {
			return w, i, false, err
		}
		var buf [6]byte
		b, escaped := appendCanonicalRune(buf[:0], r)
		return w + copy(s.out[w:], b), i + n, escaped, nil
	default:
		return w, i, false, invalidAt(i, "invalid escape in string")
	}
}

// decodeUnicodeEscape decodes the \uXXXX escape at src[i], or the pair of
// escapes of a UTF-16 surrogate pair, and returns the code point and the
// length of the escapes. A lone surrogate is an error (I-JSON).
func decodeUnicodeEscape(src []byte, i int) (rune, int, error) {
	hi, ok := hex4(src, i+2)
	if !ok {
		return 0, 0, invalidAt(i, "invalid \\u escape")
	}
	switch {
	case hi < 0xD800 || hi > 0xDFFF:
		return hi, 6, nil
	case hi >= 0xDC00:
		return 0, 0, invalidAt(i, "lone low surrogate in \\u escape")
	}
	if len(src) < i+12 || src[i+6] != '\\' || src[i+7] != 'u' {
		return 0, 0, invalidAt(i, "lone high surrogate in \\u escape")
	}
	lo, ok := hex4(src, i+8)
	if !ok {
		return 0, 0, invalidAt(i+6, "invalid \\u escape")
	}
	if lo < 0xDC00 || lo > 0xDFFF {
		return 0, 0, invalidAt(i, "lone high surrogate in \\u escape")
	}
	return 0x10000 + (hi-0xD800)<<10 + (lo - 0xDC00), 12, nil
}

// hex4 decodes the 4 hex digits at src[i:].
func hex4(src []byte, i int) (rune, bool) {
	if len(src) < i+4 {
		return 0, false
	}
	var r rune
	for _, c := range src[i : i+4] {
		v, ok := hexValue(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// appendCanonicalRune appends the code point r as RFC 8785 writes it inside
// a string: the two-character escapes for quote, backslash, \b \f \n \r \t,
// \u00xx (lower-case hex) for other control characters, UTF-8 otherwise.
// escaped reports an escape.
func appendCanonicalRune(dst []byte, r rune) (out []byte, escaped bool) {
	switch r {
	case '"', '\\':
		return append(dst, '\\', byte(r)), true
	case '\b':
		return append(dst, '\\', 'b'), true
	case '\f':
		return append(dst, '\\', 'f'), true
	case '\n':
		return append(dst, '\\', 'n'), true
	case '\r':
		return append(dst, '\\', 'r'), true
	case '\t':
		return append(dst, '\\', 't'), true
	}
	if r < ' ' {
		const hex = "0123456789abcdef"
		return append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&15]), true
	}
	return utf8.AppendRune(dst, r), false
}
