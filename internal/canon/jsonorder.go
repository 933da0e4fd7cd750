package canon

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// openMember is where a member of an object being parsed starts in the
// output (its name's opening quote), the index in jsonState.objects of the
// first object that may lie inside its value, and its name's prefix.
type openMember struct {
	start, firstObject int
	prefix             uint64
}

// span is where a member of an out-of-order object lies in the output,
// name and value, without the comma.
type span struct {
	start, end, firstObject int
}

// object is where one object lies in the output and how to write it.
type object struct {
	start, end int
	// next is the index of the first object after this one and everything
	// nested inside it.
	next int
	// from and to delimit the sorted members in jsonState.sorted
	// (layoutReorder only).
	from, to int
	layout   layout
}

// layout says how reorder writes an object.
type layout uint8

const (
	// layoutFinal: the object's bytes are already canonical; copy them.
	layoutFinal layout = iota
	// layoutInner: the members are in order, some nested object is not.
	layoutInner
	// layoutReorder: the members must be written in sorted order.
	layoutReorder
)

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

// namePrefix returns the first 8 bytes of the decoded name written at
// out[start] == '"', big-endian, zero-padded, each mapped through
// utf16Byte: comparing prefixes compares names, and equal prefixes leave the
// decision to compareNames. out has at least 8 bytes after start+1 (the
// output slack).
func namePrefix(out []byte, start int) uint64 {
	x := binary.LittleEndian.Uint64(out[start+1:])
	stop := quoteOrBackslash(x)
	p := bits.ReverseBytes64(x)
	if stop != 0 {
		k := bits.TrailingZeros64(stop) >> 3
		if out[start+1+k] == '\\' {
			return escapedNamePrefix(out[start+1:])
		}
		p &^= ^uint64(0) >> (8 * k)
	}
	if p&eachHigh != 0 {
		p = utf16Prefix(p)
	}
	return p
}

// escapedNamePrefix is namePrefix for a name with an escape in its first
// 8 bytes; name starts after the opening quote.
func escapedNamePrefix(name []byte) uint64 {
	var p uint64
	for k := 0; k < 8; k++ {
		p <<= 8
		if name[0] != '"' {
			c, n := decodeCanonicalByte(name)
			p |= uint64(c)
			name = name[n:]
		}
	}
	return utf16Prefix(p)
}

// utf16Prefix maps each byte of p through utf16Byte.
func utf16Prefix(p uint64) uint64 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], p)
	for k, c := range b {
		b[k] = utf16Byte(c)
	}
	return binary.BigEndian.Uint64(b[:])
}

// compareNames orders the canonical names written at out[a] and out[b]
// (opening quotes) by the UTF-16 code units of the decoded names, as RFC
// 8785 requires. Zero means equal names.
func compareNames(out []byte, a, b int) int {
	// Compare 8 bytes at a time while neither name has ended or holds an
	// escape; out has room to read past the closing quotes.
	for a, b = a+1, b+1; ; a, b = a+8, b+8 {
		x := binary.LittleEndian.Uint64(out[a:])
		y := binary.LittleEndian.Uint64(out[b:])
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

// sortMembers appends the members of one object, which ends at end, to
// s.sorted in the order of their names. It reports false when two names
// are equal.
//
// Members are sorted by a key packing the name prefix above the member's
// index (slices.Sort on integers, the fastest sort at hand); members whose
// packed prefixes tie are then sorted by a full comparison.
func (s *jsonState) sortMembers(members []openMember, end int) bool {
	from := len(s.sorted)
	byName := func(a, b span) int { return compareNames(s.out, a.start, b.start) }
	if len(members) > 1<<16 {
		for k, m := range members {
			s.sorted = append(s.sorted, memberSpan(members, k, end))
		}
		spans := s.sorted[from:]
		slices.SortFunc(spans, byName)
		for k := 1; k < len(spans); k++ {
			if byName(spans[k-1], spans[k]) == 0 {
				return false
			}
		}
		return true
	}
	shift := 8 // 7 prefix bytes, up to 256 members
	if len(members) > 1<<8 {
		shift = 16 // 6 prefix bytes
	}
	keys := s.keys[:0]
	for k := range members {
		keys = append(keys, members[k].prefix>>shift<<shift|uint64(k))
	}
	slices.Sort(keys)
	index := uint64(1)<<shift - 1
	for _, key := range keys {
		s.sorted = append(s.sorted, memberSpan(members, int(key&index), end))
	}
	spans := s.sorted[from:]
	s.keys = keys
	for a := 0; a < len(keys); {
		b := a + 1
		for b < len(keys) && keys[b]>>shift == keys[a]>>shift {
			b++
		}
		if b-a > 1 {
			run := spans[a:b]
			slices.SortFunc(run, byName)
			for k := 1; k < len(run); k++ {
				if byName(run[k-1], run[k]) == 0 {
					return false
				}
			}
		}
		a = b
	}
	return true
}

// memberSpan returns the span of members[k] in an object that ends at end.
func memberSpan(members []openMember, k, end int) span {
	e := end - 1 // before '}'
	if k+1 < len(members) {
		e = members[k+1].start - 1 // before ','
	}
	return span{start: members[k].start, end: e, firstObject: members[k].firstObject}
}

// reorder rewrites out[base:], the document with every object's members in
// document order, so that each out-of-order object has its members in
// sorted order. It writes the result once after the end of out, then moves
// it down.
func (s *jsonState) reorder(out []byte, base int) []byte {
	end := len(out)
	buf := atCapacity(slices.Grow(out, end-base))
	w, _ := s.emitRange(buf, end, base, end, 0)
	copy(buf[base:], buf[end:w])
	return buf[:end]
}

// emitRange copies buf[start:end] to buf[w:], rewriting the objects
// recorded from index r on that begin inside it. It returns the new cursor
// and the index of the first object after the range.
func (s *jsonState) emitRange(buf []byte, w, start, end, r int) (int, int) {
	for r < len(s.objects) && s.objects[r].start < end {
		o := &s.objects[r]
		w += copy(buf[w:], buf[start:o.start])
		w = s.emitObject(buf, w, r)
		start, r = o.end, o.next
	}
	return w + copy(buf[w:], buf[start:end]), r
}

// emitObject writes the object recorded at index r to buf[w:].
func (s *jsonState) emitObject(buf []byte, w, r int) int {
	o := &s.objects[r]
	switch o.layout {
	case layoutFinal:
		return w + copy(buf[w:], buf[o.start:o.end])
	case layoutInner:
		w, _ = s.emitRange(buf, w, o.start, o.end, r+1)
		return w
	}
	buf[w] = '{'
	w++
	for k, m := range s.sorted[o.from:o.to] {
		if k > 0 {
			buf[w] = ','
			w++
		}
		if m.firstObject < len(s.objects) && s.objects[m.firstObject].start < m.end {
			w, _ = s.emitRange(buf, w, m.start, m.end, m.firstObject)
		} else {
			w += copy(buf[w:], buf[m.start:m.end])
		}
	}
	buf[w] = '}'
	return w + 1
}
