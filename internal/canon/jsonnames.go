package canon

import "math/bits"

// utf16Byte maps a byte of valid UTF-8 so that comparing mapped bytes
// orders strings by their UTF-16 code units, as RFC 8785 requires. UTF-8
// byte order is code point order, which differs from UTF-16 order only
// between U+E000..U+FFFF (lead bytes 0xEE, 0xEF) and U+10000 and above
// (lead bytes 0xF0..0xF4, surrogate pairs in UTF-16, which sort below
// 0xE000). At the first difference of two strings with a common prefix both
// bytes are lead bytes or both are continuation bytes (0x80..0xBF) of
// characters of the same length, so swapping the two lead byte groups is
// enough: 0xF0..0xF4 become 0xEE..0xF2 and 0xEE, 0xEF become 0xF3, 0xF4.
func utf16Byte(c byte) byte {
	switch {
	case c < 0xEE:
		return c
	case c < 0xF0:
		return c + 5
	default:
		return c - 2
	}
}

// unknownPrefix stands for a name prefix not computed yet. No prefix has
// a byte 0xFF (utf16Byte never returns it), so it is never a real one.
const unknownPrefix = ^uint64(0)

// namePrefix returns the first 8 bytes of the decoded name written at
// out[start:end] with its quotes, big-endian, zero-padded, each mapped
// through utf16Byte: comparing prefixes compares names, and equal
// prefixes leave the decision to compareNames. writeString gives the
// prefix of plain names for free; this is for the others.
func namePrefix(out []byte, start, end int) uint64 {
	var p uint64
	name := out[start+1 : end]
	for k := 0; k < 8; k++ {
		p <<= 8
		if c, n := decodeCanonicalByte(name); n > 0 {
			p |= uint64(utf16Byte(c))
			name = name[n:]
		}
	}
	return p
}

// compareNames orders the canonical names written at out[a] and out[b]
// (opening quotes) by the UTF-16 code units of the decoded names, as RFC
// 8785 requires. Zero means equal names.
func compareNames(out []byte, a, b int) int {
	// Compare 8 bytes at a time while neither name has ended or holds an
	// escape; out has room to read past the closing quotes.
	for a, b = a+1, b+1; ; a, b = a+8, b+8 {
		x := load64(out, a)
		y := load64(out, b)
		diff := x ^ y
		stop := quoteOrBackslash(x) | quoteOrBackslash(y)
		if diff == 0 && stop == 0 {
			continue
		}
		if k := bits.TrailingZeros64(diff); diff != 0 && (stop == 0 || k < bits.TrailingZeros64(stop)&^7) {
			k >>= 3
			return int(utf16Byte(out[a+k])) - int(utf16Byte(out[b+k]))
		}
		break
	}
	for {
		ca, na := decodeCanonicalByte(out[a:])
		cb, nb := decodeCanonicalByte(out[b:])
		switch endA, endB := na == 0, nb == 0; {
		case endA || endB:
			return compareBool(endB, endA)
		case ca != cb:
			return int(utf16Byte(ca)) - int(utf16Byte(cb))
		}
		a, b = a+na, b+nb
	}
}

// quoteOrBackslash returns a mask with the high bit set in the lowest byte
// of x that is a quote or a backslash (and maybe above it); zero if none.
func quoteOrBackslash(x uint64) uint64 {
	q, b := x^eachQuote, x^eachSlash
	return ((q-eachByte)&^q | (b-eachByte)&^b) & eachHigh
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// decodeCanonicalByte returns the first decoded byte of the rest of a
// canonical JSON string and how many bytes it took; 0 bytes at the closing
// quote. Canonical strings hold no escapes but \" \\ \b \f \n \r \t and
// \u00xx, each of which stands for one byte.
func decodeCanonicalByte(s []byte) (byte, int) {
	switch s[0] {
	case '"':
		return 0, 0
	case '\\':
	default:
		return s[0], 1
	}
	switch s[1] {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		hi, _ := hexValue(s[4])
		lo, _ := hexValue(s[5])
		return hi<<4 | lo, 6
	default: // \" or \\
		return s[1], 2
	}
}
