package canon

import (
	"bytes"
	"math"
	"math/big"
)

// decimal is the value of a JSON number literal, normalised: zero, or
// ±0.d1…dk × 10^n with d1 and dk not zero, where n is point plus the
// literal's exponent part. It refers to the literal's bytes.
type decimal struct {
	// digits runs from d1 to dk in the literal; it holds the literal's
	// '.' when that falls between them. Empty for zero, however spelled.
	digits []byte
	// k is the number of significant digits, d1 to dk; 0 for zero.
	k int
	// point is n for the literal without its exponent part: 2 for "12.5",
	// -1 for "0.012".
	point int64
	// exp is the digits of the exponent part without leading zeros (empty
	// for none or zero), expNeg its sign.
	exp    []byte
	expNeg bool
	// neg is the sign; false for zero, so that -0 and 0 are equal.
	neg bool
}

// maxExponentDigits is the longest exponent part (without leading zeros)
// for which n is computed as an int64: point is at most the length of the
// input, so point plus an exponent below 10^18 cannot overflow.
const maxExponentDigits = 18

// parseDecimal returns the value of num, a valid JSON number.
func parseDecimal(num []byte) decimal {
	var d decimal
	i := 0
	if num[0] == '-' {
		d.neg, i = true, 1
	}
	first, last, point := -1, -1, -1
	for ; i < len(num) && num[i]|0x20 != 'e'; i++ {
		switch c := num[i]; {
		case c == '.':
			point = i
		case c != '0':
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return decimal{}
	}
	end := i
	if point < 0 {
		point = end
	}
	d.digits, d.k = num[first:last+1], last+1-first
	if first < point && point < last {
		d.k--
	}
	if first < point {
		d.point = int64(point - first)
	} else {
		d.point = int64(point + 1 - first)
	}
	if i = end + 1; i < len(num) {
		if num[i] == '+' || num[i] == '-' {
			d.expNeg = num[i] == '-'
			i++
		}
		for i < len(num) && num[i] == '0' {
			i++
		}
		d.exp = num[i:]
	}
	return d
}

// exponent returns n. ok is false when the exponent part has more than
// maxExponentDigits digits: |n| is then above 10^17.
func (d *decimal) exponent() (n int64, ok bool) {
	if len(d.exp) > maxExponentDigits {
		return 0, false
	}
	var e int64
	for _, c := range d.exp {
		e = e*10 + int64(c-'0')
	}
	if d.expNeg {
		e = -e
	}
	return d.point + e, true
}

// isLossy reports whether the number literal num, with the given count of
// digits (integer and fraction, zeros included), is lossy: whether es6, the
// RFC 8785 form of f, the double it converts to, denotes another value.
//
// A number of at most 15 digits whose double is normal is never lossy: a
// decimal of at most 15 significant digits converts to a double whose
// shortest round-trip digits are its own (DBL_DIG), as no other such
// decimal converts to the same double. That test is inlined; other
// numbers, rare, go to valueDiffers. Subnormal doubles hold fewer digits.
func isLossy(num []byte, digits int, f float64, es6 []byte) bool {
	return (digits > maxExactDigits || math.Float64bits(f)&^signBit < minNormalBits) && valueDiffers(num, f, es6)
}

// signBit is the sign of a double; minNormalBits are the bits of the
// smallest normal double, 2^-1022: the magnitudes below it are zero and
// the subnormal doubles.
const signBit, minNormalBits = 1 << 63, 1 << 52

// valueDiffers is isLossy without the shortcut. Two cases need no parsing
// of decimals: zero, whose literal is lossy when it has a nonzero digit (a
// number below the range of a double), and a literal spelled as its
// RFC 8785 form, as most long numbers are (written by a shortest-digits
// formatter), which only comes here because isCanonicalNumber does not
// decide numbers of more than 15 digits.
func valueDiffers(num []byte, f float64, es6 []byte) bool {
	switch {
	case f == 0:
		return hasNonzeroDigit(num)
	case bytes.Equal(num, es6):
		return false
	}
	return !sameValue(num, es6)
}

// hasNonzeroDigit reports whether the number literal num has a digit
// other than 0 before its exponent part.
func hasNonzeroDigit(num []byte) bool {
	for _, c := range num {
		if c|0x20 == 'e' {
			return false
		}
		if c-'1' < 9 {
			return true
		}
	}
	return false
}

// sameValue reports whether the number literal num denotes the same
// decimal value as es6, the same number as appendES6Number writes it
// (whose exponent, if any, has at most three digits). It reads the two
// without allocating.
func sameValue(num, es6 []byte) bool {
	x, y := parseDecimal(num), parseDecimal(es6)
	if x.k != y.k || x.neg != y.neg {
		return false
	}
	if x.k == 0 {
		return true
	}
	nx, ok := x.exponent()
	ny, _ := y.exponent()
	return ok && nx == ny && sameDigits(x.digits, y.digits)
}

// sameDigits reports whether the digits of a and b are the same, a '.'
// in either ignored. Neither starts or ends with '.'.
func sameDigits(a, b []byte) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] == '.' {
			i++
		}
		if b[j] == '.' {
			j++
		}
		if a[i] != b[j] {
			return false
		}
		i, j = i+1, j+1
	}
	return i == len(a) && j == len(b)
}

// appendExactNumber appends the exact spelling of the value of num, a
// valid JSON number: "0" for zero; otherwise "-" if negative, then the
// significant digits d1…dk laid out with n as appendES6Layout lays out a
// double's digits. An exponent too large for an int64 is necessarily
// outside the plain range, so the number is then written d1[.d2…dk]e±(n-1)
// with n-1 computed in arbitrary precision.
func appendExactNumber(dst, num []byte) []byte {
	d := parseDecimal(num)
	if d.k == 0 {
		return append(dst, '0')
	}
	if d.neg {
		dst = append(dst, '-')
	}
	digits := d.digits
	if len(digits) != d.k { // drop the point between the digits
		var buf [64]byte
		p := bytes.IndexByte(digits, '.')
		digits = append(append(buf[:0], digits[:p]...), digits[p+1:]...)
	}
	if n, ok := d.exponent(); ok {
		return appendES6Layout(dst, digits, n)
	}
	dst = appendScientific(dst, digits)
	e, _ := new(big.Int).SetString(string(d.exp), 10)
	if d.expNeg {
		e.Neg(e)
	}
	if e.Add(e, big.NewInt(d.point-1)); e.Sign() >= 0 {
		dst = append(dst, '+')
	}
	return e.Append(dst, 10)
}
