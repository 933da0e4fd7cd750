package canon

import (
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

// sortMembers appends the spans of the members of one object, which ends
// at end, to s.sorted in the order of their names. It reports false when
// two names are equal.
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
