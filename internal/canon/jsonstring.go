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

// load64 returns the 8 bytes at b[i:] as a little-endian word. The
// three-index slice spares the bounds arithmetic of an open-ended one.
func load64(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i : i+8 : i+8]) }

// store64 writes x to the 8 bytes at b[i:], little-endian.
func store64(b []byte, i int, x uint64) { binary.LittleEndian.PutUint64(b[i:i+8:i+8], x) }

// specialBytes returns a mask with the high bit set in the lowest byte of x
// that is a quote, a backslash, a control character (< 0x20) or not ASCII
// (>= 0x80), and maybe in bytes above it; zero when there is none. A
// subtraction sets the high bit of a byte when it wraps, and borrows run
// only upwards, so the lowest flagged byte is always a true one; bytes
// >= 0x80 are flagged by the last term whatever the others do.
func specialBytes(x uint64) uint64 {
	return ((x - eachSpace) | ((x ^ eachQuote) - eachByte) | ((x ^ eachSlash) - eachByte) | x) & eachHigh
}

// stopBytes is specialBytes without non-ASCII bytes: the mask flags the
// lowest quote, backslash or control character.
func stopBytes(x uint64) uint64 {
	q, b := x^eachQuote, x^eachSlash
	return ((x-eachSpace)&^x | (q-eachByte)&^q | (b-eachByte)&^b) & eachHigh
}

// writeString writes the canonical form of the string at src[i] == '"' to
// out[w:] and returns the new cursor and the offset just past the string.
// Plain text, ASCII without quote, backslash or control characters, is
// copied 8 bytes at a time while it is checked; anything else goes to
// textSpecial.
//
// It also returns the string's prefix as a member name (see namePrefix)
// when its first 8 bytes are plain text, which costs nothing here, and
// unknownPrefix otherwise.
func writeString(src, out []byte, w, i int) (next, read int, prefix uint64, err error) {
	out[w] = '"'
	w++
	i++
	prefix = unknownPrefix
	if i+8 <= len(src) {
		x := load64(src, i)
		store64(out, w, x)
		if m := specialBytes(x); m == 0 {
			prefix = bits.ReverseBytes64(x)
			i += 8
			w += 8
		} else {
			k := bits.TrailingZeros64(m) >> 3
			i += k
			w += k
			if src[i] == '"' {
				out[w] = '"'
				return w + 1, i + 1, bits.ReverseBytes64(x) &^ (^uint64(0) >> (8 * k)), nil
			}
		}
	}
	for {
		if i+8 <= len(src) {
			x := load64(src, i)
			store64(out, w, x)
			m := specialBytes(x)
			if m == 0 {
				i += 8
				w += 8
				continue
			}
			k := bits.TrailingZeros64(m) >> 3
			i += k
			w += k
		} else {
			for i < len(src) && isPlainText(src[i]) {
				out[w] = src[i]
				i++
				w++
			}
			if i >= len(src) {
				return w, i, prefix, invalidAt(i, "unterminated string")
			}
		}
		if src[i] == '"' {
			out[w] = '"'
			return w + 1, i + 1, prefix, nil
		}
		if w, i, err = textSpecial(src, out, w, i); err != nil {
			return w, i, prefix, err
		}
	}
}

// isPlainText reports whether c is copied unchanged inside a string without
// a closer look: ASCII other than quote, backslash and control characters.
func isPlainText(c byte) bool {
	return c >= ' ' && c != '"' && c != '\\' && c < utf8.RuneSelf
}

// textSpecial writes the canonical form of what starts at src[i] inside a
// string: an escape sequence, or a run of text with non-ASCII bytes, which
// is checked to be UTF-8 and copied as it is. It returns the new cursor and
// offset.
func textSpecial(src, out []byte, w, i int) (next, read int, err error) {
	switch c := src[i]; {
	case c == '\\':
		return escape(src, out, w, i)
	case c < ' ':
		return w, i, invalidAt(i, "control character in string")
	}
	end := textRun(src, i)
	if !utf8.Valid(src[i:end]) {
		return w, i, invalidAt(i, "invalid UTF-8 in string")
	}
	return w + copy(out[w:], src[i:end]), end, nil
}

// textRun returns the offset of the first quote, backslash or control
// character at or after i; len(src) if none.
func textRun(src []byte, i int) int {
	for ; i+8 <= len(src); i += 8 {
		if m := stopBytes(load64(src, i)); m != 0 {
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
// and returns the new cursor and the offset just past it. No canonical form
// is longer than the escape it comes from.
func escape(src, out []byte, w, i int) (next, read int, err error) {
	if i+1 >= len(src) {
		return w, i, invalidAt(i, "unterminated string")
	}
	switch c := src[i+1]; c {
	case '"', '\\', 'b', 'f', 'n', 'r', 't':
		out[w], out[w+1] = '\\', c
		return w + 2, i + 2, nil
	case '/':
		out[w] = '/'
		return w + 1, i + 2, nil
	case 'u':
		r, n, err := decodeUnicodeEscape(src, i)
		if err != nil {
			return w, i, err
		}
		var buf [6]byte
		return w + copy(out[w:], appendCanonicalRune(buf[:0], r)), i + n, nil
	default:
		return w, i, invalidAt(i, "invalid escape in string")
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
func appendCanonicalRune(dst []byte, r rune) []byte {
	switch r {
	case '"', '\\':
		return append(dst, '\\', byte(r))
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	if r < ' ' {
		const hex = "0123456789abcdef"
		return append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&15])
	}
	return utf8.AppendRune(dst, r)
}
