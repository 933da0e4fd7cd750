package canon

import (
	"fmt"
	"math/bits"
	"strconv"
)

// number writes the canonical form of the number at src[i] and returns
// the new cursor and the offset just past the number.
//
// A number already in its canonical form is copied as it is. That is
// decided from its spelling alone for the common shapes:
//   - an integer without leading zeros, other than -0, below 2^53 in
//     magnitude: a double holds it exactly and ECMAScript prints it so;
//   - a decimal fraction without exponent or trailing zero, with at most 15
//     significant digits, at least 1e-6 (at most five zeros after "0."):
//     every decimal of at most 15 significant digits converts to a distinct
//     double (DBL_DIG is 15), so no shorter decimal converts to the same
//     double and the shortest round-trip digits ECMAScript prints are these
//     ones, in the same plain notation.
//
// Any other number is converted to a double and printed as ECMAScript's
// Number.prototype.toString does (appendES6Number). Only these can be
// lossy (see JSON, isLossy): then s.lossy is set and, in the exact form,
// the literal's exact spelling (appendExactNumber) is written instead.
func (s *jsonState) number(w, i int) (int, int, error) {
	src := s.src
	// Fast path: a positive integer of at most 15 digits without a leading
	// zero, or a short decimal fraction after one, found and copied 8 bytes
	// at a time.
	if i+8 <= len(src) && src[i]-'1' <= 8 {
		x := load64(src, i)
		store64(s.out, w, x)
		k, read := leadingDigits(x), 8
		if k == 8 && i+16 <= len(src) {
			x = load64(src, i+8)
			store64(s.out, w+8, x)
			k, read = 8+leadingDigits(x), 16
		}
		if k < read {
			c := src[i+k]
			if c != '.' && c|0x20 != 'e' {
				return w + k, i + k, nil
			}
			// A decimal like 19.99: canonical as written when it has at
			// most 15 digits and no trailing zero (see above).
			if c == '.' && k < 8 && i+k+9 <= len(src) {
				x = load64(src, i+k+1)
				f := leadingDigits(x)
				if f > 0 && f < 8 && k+f <= maxExactDigits && src[i+k+f] != '0' && src[i+k+1+f]|0x20 != 'e' {
					store64(s.out, w+k+1, x)
					return w + k + 1 + f, i + k + 1 + f, nil
				}
			}
		}
	}
	start := i
	if src[i] == '-' {
		i++
	}
	intStart := i
	switch {
	case i >= len(src):
		return w, i, invalidAt(i, "invalid number")
	case src[i] == '0':
		i++
	case src[i]-'1' <= 8:
		i = skipDigits(src, i+1)
	default:
		return w, i, invalidAt(i, "invalid number")
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(src) && src[i] == '.' {
		fracStart = i + 1
		if i = skipDigits(src, fracStart); i == fracStart {
			return w, i, invalidAt(i, "invalid number: no digit after '.'")
		}
		fracEnd = i
	}
	exponent := i < len(src) && src[i]|0x20 == 'e'
	if exponent {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		digits := i
		if i = skipDigits(src, i); i == digits {
			return w, i, invalidAt(i, "invalid number: no digit in exponent")
		}
	}
	if !exponent && isCanonicalNumber(src[intStart:intEnd], src[fracStart:fracEnd], start != intStart) {
		return w + copy(s.out[w:], src[start:i]), i, nil
	}
	f, err := strconv.ParseFloat(string(src[start:i]), 64)
	if err != nil { // the syntax is valid: the number is beyond the double range
		return w, start, fmt.Errorf("%w at offset %d", errNumberRange, start)
	}
	var buf [maxNumberLen]byte
	b := appendES6Number(buf[:0], f)
	if isLossy(src[start:i], intEnd-intStart+fracEnd-fracStart, f, b) {
		s.lossy = true
		if s.exact {
			s.num = appendExactNumber(s.num[:0], src[start:i])
			b = s.num
		}
	}
	s.makeRoom(w, i, len(b))
	return w + copy(s.out[w:], b), i, nil
}

// leadingDigits returns how many of the bytes of x, in little-endian
// order, are decimal digits before the first that is not.
func leadingDigits(x uint64) int {
	below := (x - eachByte*'0') &^ x       // high bit set: byte < '0'
	above := (x + eachByte*(0x7F-'9')) | x // high bit set: byte > '9'
	return bits.TrailingZeros64((below|above)&eachHigh) >> 3
}

// skipDigits returns the offset of the first byte at or after i that is not
// a decimal digit.
func skipDigits(src []byte, i int) int {
	for i < len(src) && src[i]-'0' <= 9 {
		i++
	}
	return i
}

// maxNumberLen is the longest canonical number: "-" 17 digits "." "e-" 3
// digits, or "-" 21 digits.
const maxNumberLen = 32

// maxExactDigits is the most significant decimal digits that always
// survive a round trip through a double (DBL_DIG).
const maxExactDigits = 15

// isCanonicalNumber reports whether a number with the integer digits
// intPart, the fraction digits frac and no exponent is spelled exactly as
// RFC 8785 would print it (see appendNumber).
func isCanonicalNumber(intPart, frac []byte, negative bool) bool {
	if len(frac) == 0 {
		if intPart[0] == '0' {
			return !negative
		}
		return len(intPart) <= maxExactDigits ||
			len(intPart) == 16 && string(intPart) <= "9007199254740992"
	}
	if frac[len(frac)-1] == '0' {
		return false
	}
	if intPart[0] != '0' {
		return len(intPart)+len(frac) <= maxExactDigits
	}
	zeros := 0
	for frac[zeros] == '0' {
		zeros++
	}
	return zeros <= 5 && len(frac)-zeros <= maxExactDigits
}

// appendES6Number appends f as ECMAScript's Number.prototype.toString
// prints it (ECMA-262 Number::toString, the number format of RFC 8785):
// the shortest digits that convert back to f; plain notation from 1e-6 up
// to below 1e21; otherwise d[.ddd]e±n; zero (also -0) as "0". f must be
// finite.
func appendES6Number(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0')
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// Shortest round-trip digits in scientific form: d[.ddd]e±XX.
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	e := len(b) - 4
	for b[e] != 'e' {
		e--
	}
	exp := 0
	for _, c := range b[e+2:] {
		exp = exp*10 + int(c-'0')
	}
	if b[e+1] == '-' {
		exp = -exp
	}
	// The digits without the point, and the decimal exponent n of
	// ECMA-262: the value is 0.digits × 10^n.
	digits := b[:e]
	if len(digits) > 1 {
		copy(digits[1:], digits[2:])
		digits = digits[:len(digits)-1]
	}
	return appendES6Layout(dst, digits, int64(exp+1))
}

// appendES6Layout appends the positive number 0.digits × 10^n laid out as
// ECMA-262 Number::toString lays out the k digits and the exponent n of a
// double: the digits and n-k zeros when k <= n <= 21; the digits with a
// point after the first n when 0 < n <= 21; "0.", -n zeros and the digits
// when -6 < n <= 0; otherwise appendScientific. digits has no leading or
// trailing zero.
func appendES6Layout(dst, digits []byte, n int64) []byte {
	switch k := int64(len(digits)); {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		return appendZeros(dst, n-k)
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		return append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		dst = appendZeros(dst, -n)
		return append(dst, digits...)
	}
	dst = appendScientific(dst, digits)
	if n-1 >= 0 {
		dst = append(dst, '+')
	}
	return strconv.AppendInt(dst, n-1, 10)
}

// appendScientific appends the first digit, a point and the other digits
// if there are any, and "e": the scientific layout before the exponent's
// sign and digits.
func appendScientific(dst, digits []byte) []byte {
	dst = append(dst, digits[0])
	if len(digits) > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:]...)
	}
	return append(dst, 'e')
}

// appendZeros appends n zero digits.
func appendZeros(dst []byte, n int64) []byte {
	for ; n > 0; n-- {
		dst = append(dst, '0')
	}
	return dst
}
