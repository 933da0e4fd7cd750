package canon

// JSON canonicalises JSON as AppendJSON, AppendLenJSON and AppendPointer
// do, for callers that must tell apart numbers RFC 8785 makes equal: it
// reports lossy numbers, and it can write the exact form.
//
// A number is lossy when its RFC 8785 form does not denote the same decimal
// value as its literal: the nearest double, printed with the shortest
// digits that convert back to it, is another number. Values are compared
// normalised (sign, significant digits without leading or trailing zeros,
// decimal exponent), so spellings of one value are never lossy: 1.0, 1e0,
// 10e-1, 1E2, 0.50, 5e-1, -0 and 0.0 (printed 1, 100, 0.5 and 0) are not,
// nor is 9007199254740992 (2^53) or 1e23 (printed 1e+23). These are:
// 9007199254740993 (printed 9007199254740992: integers beyond 2^53 that a
// double cannot hold), 0.10000000000000001 (printed 0.1: more significant
// digits than a double keeps), 1e-400 (printed 0: below the range of a
// double). Whether a number is lossy depends only on its value.
//
// In the exact form, the output is the RFC 8785 form except that each
// lossy number is written as its exact value: with d1…dk its significant
// digits (no leading or trailing zero) and n the exponent for which the
// magnitude is 0.d1…dk × 10^n, the number is "-" if negative, then
//
//   - d1…dk followed by n-k zeros, when k <= n <= 21;
//   - d1…dn "." dn+1…dk, when 0 < n <= 21 (and n < k);
//   - "0.", -n zeros, d1…dk, when -6 < n <= 0;
//   - otherwise d1, then "." d2…dk when k > 1, then "e", "+" if n-1 >= 0
//     or "-", and |n-1| in decimal without leading zeros.
//
// This is the layout ECMAScript's Number.prototype.toString gives the
// digits of a double, applied to the exact digits: 9007199254740993 and
// 9007199254740993.0 are written 9007199254740993, 0.10000000000000001 is
// written as it is, -1E-400 is written -1e-400, and
// 123456789012345678901234567890 is written
// 1.2345678901234567890123456789e+29. Every value has one exact spelling,
// and a number that is not lossy is written as in the RFC 8785 form. So
// the exact forms of two documents are equal exactly when their RFC 8785
// forms are equal and so is the decimal value of every number; when a
// document holds no lossy number, its exact form is its RFC 8785 form.
//
// Lossy numbers are detected on the way, at no cost to numbers that are
// canonical as written: they cannot be lossy. The zero JSON writes the
// RFC 8785 form. A JSON records into Lossy: it must not be used by
// concurrent goroutines.
type JSON struct {
	// Exact selects the exact form.
	Exact bool
	// Lossy is set by each call that canonicalises a document holding a
	// lossy number, and is never cleared by the methods: after a sequence
	// of calls it reports whether any of their documents held one. For
	// AppendPointer, a lossy number anywhere in the document counts,
	// selected or not. A call that fails leaves it unchanged.
	Lossy bool
}

// Append is AppendJSON, in the exact form if j.Exact.
func (j *JSON) Append(dst, src []byte) ([]byte, error) {
	out, lossy, err := appendJSON(dst, src, false, j.Exact)
	j.Lossy = j.Lossy || lossy
	return out, err
}

// AppendLen is AppendLenJSON, in the exact form if j.Exact.
func (j *JSON) AppendLen(dst, src []byte) ([]byte, error) {
	out, lossy, err := appendJSON(dst, src, true, j.Exact)
	j.Lossy = j.Lossy || lossy
	return out, err
}

// AppendPointer is AppendPointer, in the exact form if j.Exact.
func (j *JSON) AppendPointer(dst, src []byte, ptr string) (out []byte, found bool, err error) {
	out, found, lossy, err := appendPointer(dst, src, ptr, j.Exact)
	j.Lossy = j.Lossy || lossy
	return out, found, err
}
