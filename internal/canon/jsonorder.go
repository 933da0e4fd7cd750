package canon

import (
	"encoding/binary"
	"slices"
)

// member is where one object member lies in the output: its name (with the
// quotes) at [start, nameEnd), its value up to end.
type member struct {
	start, nameEnd, end int
	// firstObject is the index in jsonState.objects of the first object
	// that may lie inside the value.
	firstObject int
	// prefix is the first 8 bytes of the name, in an order-preserving
	// mapping (see namePrefix), for fast comparisons.
	prefix uint64
	// escaped reports that the canonical name holds a backslash escape, so
	// its bytes do not sort like the name it encodes.
	escaped bool
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

// namePrefix returns the first 8 bytes of the decoded name of the member
// whose canonical name lies at out[start:end] with its quotes, big-endian,
// zero-padded, through utf16Byte: comparing prefixes compares names, and
// equal prefixes leave the decision to a full comparison. out has at least
// 8 readable bytes after start+1 (the output slack).
func namePrefix(out []byte, start, end int, escaped bool) uint64 {
	var p uint64
	if escaped {
		name := out[start+1 : end-1]
		for k := 0; k < 8; k++ {
			p <<= 8
			if len(name) > 0 {
				c, n := decodeCanonicalByte(name)
				p |= uint64(c)
				name = name[n:]
			}
		}
	} else {
		p = binary.BigEndian.Uint64(out[start+1:])
		if n := end - start - 2; n < 8 {
			p &^= ^uint64(0) >> (8 * n)
		}
	}
	if p&eachHigh != 0 {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], p)
		for k, c := range b {
			b[k] = utf16Byte(c)
		}
		p = binary.BigEndian.Uint64(b[:])
	}
	return p
}

// compareMembers orders two members of out by the UTF-16 code units of
// their decoded names, as RFC 8785 requires. Zero means equal names.
func compareMembers(out []byte, a, b *member) int {
	if a.prefix != b.prefix {
		if a.prefix < b.prefix {
			return -1
		}
		return 1
	}
	return compareNames(out, a, b)
}

// compareNames is compareMembers without the prefix shortcut.
func compareNames(out []byte, a, b *member) int {
	an := out[a.start+1 : a.nameEnd-1]
	bn := out[b.start+1 : b.nameEnd-1]
	if a.escaped || b.escaped {
		return compareEscaped(an, bn)
	}
	return compareUTF16(an, bn)
}

// sortMembers appends the members of one object to s.sorted in the order
// of their names. It reports false when two names are equal.
//
// Members are sorted by a key packing the name prefix above the member's
// index (slices.Sort on integers, the fastest sort at hand); members whose
// packed prefixes tie are then sorted by a full comparison.
func (s *jsonState) sortMembers(members []member) bool {
	from := len(s.sorted)
	shift := 8 // 7 prefix bytes, up to 256 members
	if len(members) > 1<<8 {
		shift = 16 // 6 prefix bytes
	}
	cmp := func(a, b member) int { return compareMembers(s.out, &a, &b) }
	if len(members) > 1<<16 {
		s.sorted = append(s.sorted, members...)
		slices.SortFunc(s.sorted[from:], cmp)
	} else {
		keys := s.keys[:0]
		for k := range members {
			keys = append(keys, members[k].prefix>>shift<<shift|uint64(k))
		}
		slices.Sort(keys)
		for _, key := range keys {
			s.sorted = append(s.sorted, members[key&(1<<shift-1)])
		}
		for a := 0; a < len(keys); {
			b := a + 1
			for b < len(keys) && keys[b]>>shift == keys[a]>>shift {
				b++
			}
			if b-a > 1 {
				slices.SortFunc(s.sorted[from+a:from+b], cmp)
			}
			a = b
		}
		s.keys = keys
	}
	sorted := s.sorted[from:]
	for k := 1; k < len(sorted); k++ {
		if compareMembers(s.out, &sorted[k-1], &sorted[k]) == 0 {
			return false
		}
	}
	return true
}

// compareUTF16 orders two valid UTF-8 strings by their UTF-16 code units.
func compareUTF16(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n && binary.LittleEndian.Uint64(a[i:]) == binary.LittleEndian.Uint64(b[i:]) {
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	if i < n {
		return int(utf16Byte(a[i])) - int(utf16Byte(b[i]))
	}
	return len(a) - len(b)
}

// compareEscaped is compareUTF16 for the bodies of canonical JSON strings,
// which may hold the escapes \" \\ \b \f \n \r \t and \u00XX. Each escape
// stands for one ASCII byte, so the strings are compared byte by byte as
// decoded.
func compareEscaped(a, b []byte) int {
	for len(a) > 0 && len(b) > 0 {
		ca, na := decodeCanonicalByte(a)
		cb, nb := decodeCanonicalByte(b)
		if ca != cb {
			return int(utf16Byte(ca)) - int(utf16Byte(cb))
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// decodeCanonicalByte returns the first decoded byte of the body of a
// canonical JSON string and how many encoded bytes it took.
func decodeCanonicalByte(s []byte) (byte, int) {
	if s[0] != '\\' {
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
	case 'u': // \u00XX
		hi, _ := hexValue(s[4])
		lo, _ := hexValue(s[5])
		return hi<<4 | lo, 6
	default: // \" or \\
		return s[1], 2
	}
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
		w, _ = s.emitRange(buf, w, m.start, m.end, m.firstObject)
	}
	buf[w] = '}'
	return w + 1
}
