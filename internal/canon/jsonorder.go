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
// name and value, without the comma, and whether objects lie in its value
// (from index firstObject on).
type span struct {
	start, end, firstObject int
	nested                  bool
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

// sortMembers appends the spans of the members of one object, which ends
// at end, to s.sorted in the order of their names. It reports false when two names
// are equal.
func (s *jsonState) sortMembers(members []openMember, end int) bool {
	order, ok := s.memberOrder(members)
	if !ok {
		return false
	}
	// Members that follow each other in both orders are one span, comma
	// included, copied at once.
	from := len(s.sorted)
	s.sorted = slices.Grow(s.sorted, len(order))[:from+len(order)]
	spans, n, next := s.sorted[from:], 0, len(s.objects)
	for k, m := range order {
		sp := memberSpan(members, int(m), end, next)
		if k > 0 && m == order[k-1]+1 {
			spans[n-1].end = sp.end
			spans[n-1].nested = spans[n-1].nested || sp.nested
			continue
		}
		spans[n] = sp
		n++
	}
	s.sorted = s.sorted[:from+n]
	return true
}

// memberOrder returns the indexes of members in the order of their names;
// ok is false when two names are equal.
//
// API bodies repeat the same member order again and again (one struct, one
// order), so the order found for a sequence of names is remembered, keyed
// by a hash of their prefixes, and tried first: checking that it sorts the
// names costs one comparison per member, and a wrong guess (a new order,
// or a hash collision) only costs that check before the sort.
func (s *jsonState) memberOrder(members []openMember) (order []uint32, ok bool) {
	h := uint64(len(members))
	for k := range members {
		h = bits.RotateLeft64(h, 11) ^ members[k].prefix
	}
	h *= 0x9E3779B97F4A7C15
	entry := &s.orders[h>>(64-orderMemoBits)]
	if entry.hash == h && len(entry.order) == len(members) {
		switch s.checkOrder(members, entry.order) {
		case 0:
			return nil, false
		case 1:
			return entry.order, true
		}
	}
	if order, ok = s.sortOrder(members); ok && len(members) <= maxMemoMembers {
		entry.hash = h
		entry.order = append(entry.order[:0], order...)
	}
	return order, ok
}

// orderMemo is a remembered member order.
type orderMemo struct {
	hash  uint64
	order []uint32
}

const (
	// orderMemoBits sets the number of remembered member orders.
	orderMemoBits = 6
	// maxMemoMembers bounds the size of a remembered order.
	maxMemoMembers = 256
)

// checkOrder returns 1 when order sorts the members' names, 0 when it
// finds two equal names, and -1 otherwise.
func (s *jsonState) checkOrder(members []openMember, order []uint32) int {
	for k := 1; k < len(order); k++ {
		a, b := &members[order[k-1]], &members[order[k]]
		if a.prefix < b.prefix {
			continue
		}
		if a.prefix > b.prefix {
			return -1
		}
		switch c := compareNames(s.out, a.start, b.start); {
		case c == 0:
			return 0
		case c > 0:
			return -1
		}
	}
	return 1
}

// sortOrder sorts the members' indexes by name; ok is false when two names
// are equal. The indexes are sorted packed under the name prefixes, as
// integers (the fastest sort at hand); members whose packed prefixes tie
// are then ordered by a full comparison.
func (s *jsonState) sortOrder(members []openMember) (order []uint32, ok bool) {
	order = slices.Grow(s.order[:0], len(members))[:len(members)]
	s.order = order
	if len(members) > 1<<16 {
		for k := range order {
			order[k] = uint32(k)
		}
		byName := func(a, b uint32) int { return compareNames(s.out, members[a].start, members[b].start) }
		slices.SortFunc(order, byName)
		for k := 1; k < len(order); k++ {
			if byName(order[k-1], order[k]) == 0 {
				return nil, false
			}
		}
		return order, true
	}
	shift := 8 // 7 prefix bytes, up to 256 members
	if len(members) > 1<<8 {
		shift = 16 // 6 prefix bytes
	}
	keys := slices.Grow(s.keys[:0], len(members))[:len(members)]
	s.keys = keys
	for k := range members {
		keys[k] = members[k].prefix>>shift<<shift | uint64(k)
	}
	sortKeys(keys)
	index := uint64(1)<<shift - 1
	for k, key := range keys {
		order[k] = uint32(key & index)
	}
	for a := 0; a < len(keys); {
		b := a + 1
		for b < len(keys) && keys[b]>>shift == keys[a]>>shift {
			b++
		}
		if b-a > 1 && !s.sortByName(members, order[a:b]) {
			return nil, false
		}
		a = b
	}
	return order, true
}

// sortByName sorts the few members whose names share a prefix by
// insertion, with full comparisons. Insertion compares every pair that
// ends up adjacent, so it also finds equal names: it reports false then.
func (s *jsonState) sortByName(members []openMember, order []uint32) bool {
	for k := 1; k < len(order); k++ {
		for j := k; j > 0; j-- {
			c := compareNames(s.out, members[order[j-1]].start, members[order[j]].start)
			if c == 0 {
				return false
			}
			if c < 0 {
				break
			}
			order[j-1], order[j] = order[j], order[j-1]
		}
	}
	return true
}

// sortKeys sorts keys: by insertion when they are few, as objects'
// members mostly are, else with slices.Sort.
func sortKeys(keys []uint64) {
	if len(keys) > 32 {
		slices.Sort(keys)
		return
	}
	for k := 1; k < len(keys); k++ {
		key, j := keys[k], k
		for ; j > 0 && keys[j-1] > key; j-- {
			keys[j] = keys[j-1]
		}
		keys[j] = key
	}
}

// memberSpan returns the span of members[k] in an object that ends at end,
// after which the next object recorded will have index nextObject.
func memberSpan(members []openMember, k, end, nextObject int) span {
	m := span{start: members[k].start, end: end - 1, firstObject: members[k].firstObject} // before '}'
	if k+1 < len(members) {
		m.end = members[k+1].start - 1 // before ','
		nextObject = members[k+1].firstObject
	}
	m.nested = m.firstObject < nextObject
	return m
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
		if m.nested {
			w, _ = s.emitRange(buf, w, m.start, m.end, m.firstObject)
		} else {
			w += copy(buf[w:], buf[m.start:m.end])
		}
	}
	buf[w] = '}'
	return w + 1
}
