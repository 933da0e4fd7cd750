package canon

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

// layout says how emitObject writes an object.
type layout uint8

const (
	// layoutFinal: the object's bytes are already canonical; copy them.
	layoutFinal layout = iota
	// layoutInner: the members are in order, some nested object is not.
	layoutInner
	// layoutReorder: the members must be written in sorted order.
	layoutReorder
)

// span is where a member of an out-of-order object lies in the output,
// name and value, without the comma (or several members that follow each
// other in both orders, commas included), and whether objects lie in it
// (from index firstObject on).
type span struct {
	start, end, firstObject int
	nested                  bool
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
