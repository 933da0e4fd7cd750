package canon

import (
	"cmp"
	"encoding/binary"
	"slices"
	"sync"
)

// maxDepth is the deepest nesting of arrays and objects AppendJSON accepts,
// the limit of encoding/json, jsontext and gowebpki/jcs: 10000 levels are
// accepted, 10001 are rejected, and the recursion never goes deeper.
const maxDepth = 10000

// AppendJSON appends the RFC 8785 (JCS) canonical form of the single JSON
// value in src to dst and returns the extended buffer. Whitespace around
// the value is allowed; anything else after it is not.
//
// src must be I-JSON (RFC 7493): valid UTF-8, no lone surrogates in \u
// escapes, no duplicate names in an object, every number within the range
// of an IEEE 754 double, at most 10000 levels of nesting. Any other input
// yields an error wrapping ErrInvalid, and the returned slice has dst's
// length and content.
//
// dst and src must not overlap. The work is one pass over src plus one
// more copy of the output. AppendJSON does not allocate when dst has room
// for twice len(src) more bytes, as a buffer reused across calls soon has.
func AppendJSON(dst, src []byte) ([]byte, error) {
	out, _, err := appendJSON(dst, src, false, false)
	return out, err
}

// AppendLenJSON is AppendLen(dst, c) where c is AppendJSON(nil, src): the
// length of the canonical form as an unsigned varint, then the canonical
// form. It does the same work as AppendJSON: the length is known before
// the canonical form is written in its final place, so nothing is moved to
// make room for it. On error the returned slice has dst's length and
// content.
func AppendLenJSON(dst, src []byte) ([]byte, error) {
	out, _, err := appendJSON(dst, src, true, false)
	return out, err
}

// appendJSON is AppendJSON, or AppendLenJSON with withLen, writing the
// exact form (see JSON) with exact. lossy reports that src, canonicalised
// without error, holds a lossy number.
func appendJSON(dst, src []byte, withLen, exact bool) (out []byte, lossy bool, err error) {
	s := getJSONState()
	defer putJSONState(s)
	s.exact = exact
	out, err = s.canonicalize(dst, src, withLen)
	return out, s.lossy && err == nil, err
}

// jsonState is the scratch of one AppendJSON call, reused through a pool.
//
// The output is written through a cursor w into out, which is kept at full
// capacity with at least len(src)-i+slack bytes free after w, where i is the
// read offset in src. Every token's canonical form is at most as long as the
// token, except numbers written in a longer form, which make room first. So
// writes need no capacity checks, and plain string text is copied 8 bytes
// at a time as it is scanned.
type jsonState struct {
	src []byte
	out []byte
	// objects records every object in document order of its '{'.
	objects []object
	// open holds the members of the objects being parsed, innermost last.
	open []openMember
	// sorted holds the members of every out-of-order object, sorted; each
	// such object refers to its run.
	sorted []span
	// keys and order are scratch for sorting members.
	keys  []uint64
	order []uint32
	// orders remembers member orders found, to try them first.
	orders [1 << orderMemoBits]orderMemo
	// unordered counts the objects whose members had to be sorted.
	unordered int
	// depth is the number of arrays and objects being parsed.
	depth int
	// exact selects the exact form for lossy numbers; lossy reports one.
	exact, lossy bool
	// num is scratch for the exact spelling of a lossy number.
	num []byte
}

// slack is the room kept after the last byte the output can need, so that
// 8-byte stores and loads near the end stay in bounds.
const slack = 16

// jsonStatePool keeps scratch between calls so the steady state allocates
// nothing. Scratch grown by a huge document is dropped rather than kept.
var jsonStatePool = sync.Pool{New: func() any { return new(jsonState) }}

// maxPooledEntries bounds the scratch slices a pooled jsonState keeps.
const maxPooledEntries = 1 << 17

// getJSONState takes a scratch state from the pool.
func getJSONState() *jsonState { return jsonStatePool.Get().(*jsonState) }

// putJSONState clears s and returns it to the pool, unless it grew large.
func putJSONState(s *jsonState) {
	if cap(s.open) > maxPooledEntries || cap(s.sorted) > maxPooledEntries || cap(s.objects) > maxPooledEntries ||
		cap(s.keys) > maxPooledEntries || cap(s.order) > maxPooledEntries || cap(s.num) > maxPooledEntries {
		return
	}
	s.src, s.out = nil, nil
	s.open, s.sorted, s.objects = s.open[:0], s.sorted[:0], s.objects[:0]
	s.unordered, s.depth = 0, 0
	s.exact, s.lossy = false, false
	jsonStatePool.Put(s)
}

// canonicalize is appendJSON on a state.
//
// The document is first written lifted above its final place, at
// base+lift, so that when objects must be reordered the final form can be
// written straight to base, below the first one; when none must, the
// first one moves down. Most bodies have some object out of order.
func (s *jsonState) canonicalize(dst, src []byte, withLen bool) ([]byte, error) {
	base := len(dst)
	lift := len(src) + slack
	s.src = src
	s.out = atCapacity(slices.Grow(dst, lift+len(src)+slack))
	w, i, err := s.value(base+lift, skipSpace(src, 0))
	if err == nil {
		if i = skipSpace(src, i); i != len(src) {
			err = invalidAt(i, "data after the JSON value")
		}
	}
	if err != nil {
		return s.out[:base], err
	}
	start, n := base+lift, w-base-lift
	if withLen { // at most 10 bytes, below the first form (lift > 10)
		base = len(binary.AppendUvarint(s.out[:base], uint64(n)))
	}
	if s.unordered == 0 {
		copy(s.out[base:], s.out[start:w])
		return s.out[:base+n], nil
	}
	to := base
	if base+n > start { // numbers grew: write after the first form instead
		to = w
		s.out = atCapacity(slices.Grow(s.out[:w], n))
	}
	s.emitRange(s.out, to, start, w, 0)
	if to != base {
		copy(s.out[base:], s.out[to:to+n])
	}
	return s.out[:base+n], nil
}

// atCapacity returns b extended to its capacity.
func atCapacity(b []byte) []byte { return b[:cap(b)] }

// makeRoom keeps the invariant of jsonState.out before writing up to extra
// bytes more than the input they come from.
func (s *jsonState) makeRoom(w, i, extra int) {
	if need := len(s.src) - i + slack + extra; len(s.out)-w < need {
		s.out = atCapacity(slices.Grow(s.out[:w], need))
	}
}

// spaceMask has bit c set for each JSON whitespace byte c.
const spaceMask = 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'\r'

// skipSpace returns the offset of the first non-whitespace byte at or after i.
func skipSpace(src []byte, i int) int {
	for i < len(src) && src[i] <= ' ' && spaceMask>>src[i]&1 != 0 {
		i++
	}
	return i
}

// value writes the canonical form of the value at src[i] (no leading
// whitespace) from out[w:] and returns the new cursor and the offset just
// past the value.
func (s *jsonState) value(w, i int) (int, int, error) {
	src := s.src
	if i >= len(src) {
		return w, i, invalidAt(i, "unexpected end of JSON input")
	}
	switch c := src[i]; {
	case c == '"':
		w, i, _, err := writeString(src, s.out, w, i)
		return w, i, err
	case c == '{':
		return s.object(w, i)
	case c == '[':
		return s.array(w, i)
	case c == '-' || c-'0' <= 9:
		return s.number(w, i)
	case c == 't' || c == 'n':
		if len(src)-i >= 4 {
			if word := binary.LittleEndian.Uint32(src[i:]); word == trueWord || word == nullWord {
				binary.LittleEndian.PutUint32(s.out[w:], word)
				return w + 4, i + 4, nil
			}
		}
	case c == 'f':
		if len(src)-i >= 5 && binary.LittleEndian.Uint32(src[i:]) == falsWord && src[i+4] == 'e' {
			binary.LittleEndian.PutUint32(s.out[w:], falsWord)
			s.out[w+4] = 'e'
			return w + 5, i + 5, nil
		}
	default:
		return w, i, invalidAt(i, "invalid character looking for a JSON value")
	}
	return w, i, invalidAt(i, "invalid literal")
}

// Little-endian words of the literals, to check and copy them at once.
const (
	trueWord = 't' | 'r'<<8 | 'u'<<16 | 'e'<<24
	nullWord = 'n' | 'u'<<8 | 'l'<<16 | 'l'<<24
	falsWord = 'f' | 'a'<<8 | 'l'<<16 | 's'<<24
)

// array writes the canonical form of the array at src[i] == '['.
func (s *jsonState) array(w, i int) (int, int, error) {
	if s.depth++; s.depth > maxDepth {
		return w, i, invalidAt(i, "JSON nested too deeply")
	}
	src := s.src
	s.out[w] = '['
	w++
	if i = skipSpace(src, i+1); i < len(src) && src[i] == ']' {
		s.out[w] = ']'
		s.depth--
		return w + 1, i + 1, nil
	}
	for {
		var err error
		if w, i, err = s.value(w, i); err != nil {
			return w, i, err
		}
		if i = skipSpace(src, i); i >= len(src) {
			return w, i, invalidAt(i, "unexpected end of JSON input")
		}
		switch src[i] {
		case ',':
			s.out[w] = ','
			w++
			i = skipSpace(src, i+1)
		case ']':
			s.out[w] = ']'
			s.depth--
			return w + 1, i + 1, nil
		default:
			return w, i, invalidAt(i, "expected ',' or ']' after array element")
		}
	}
}

// object writes the members of the object at src[i] == '{' in document
// order, each name and value already canonical, and records where each
// member starts. When the names turn out of order, sortMembers orders them,
// and emitRange writes them in that order once the whole document has been
// read, so that every byte is moved once more whatever the nesting.
func (s *jsonState) object(w, i int) (int, int, error) {
	if s.depth++; s.depth > maxDepth {
		return w, i, invalidAt(i, "JSON nested too deeply")
	}
	src, at := s.src, i
	index := len(s.objects)
	s.objects = append(s.objects, object{start: w})
	first, unorderedBefore, inOrder := len(s.open), s.unordered, true
	s.out[w] = '{'
	w++
	if i = skipSpace(src, i+1); i < len(src) && src[i] == '}' {
		i++
	} else {
		var previous uint64 // name prefix of the previous member
		for {
			if i >= len(src) || src[i] != '"' {
				return w, i, invalidAt(i, "expected a string for an object member name")
			}
			start := w
			var prefix uint64
			var err error
			if w, i, prefix, err = writeString(src, s.out, w, i); err != nil {
				return w, i, err
			}
			if prefix == unknownPrefix {
				prefix = namePrefix(s.out, start, w)
			}
			if inOrder && len(s.open) > first {
				c := cmp.Compare(previous, prefix)
				if c == 0 {
					c = compareNames(s.out, s.open[len(s.open)-1].start, start)
				}
				if c == 0 {
					return w, i, invalidAt(at, "duplicate member name in the object")
				}
				inOrder = c < 0
			}
			previous = prefix
			s.open = append(s.open, openMember{start: start, firstObject: len(s.objects), prefix: prefix})
			if i = skipSpace(src, i); i >= len(src) || src[i] != ':' {
				return w, i, invalidAt(i, "expected ':' after object member name")
			}
			s.out[w] = ':'
			w++
			// Strings and numbers, most values, skip the dispatch.
			if i = skipSpace(src, i+1); i < len(src) && src[i] == '"' {
				w, i, _, err = writeString(src, s.out, w, i)
			} else if i < len(src) && src[i]-'0' <= 9 {
				w, i, err = s.number(w, i)
			} else {
				w, i, err = s.value(w, i)
			}
			if err != nil {
				return w, i, err
			}
			if i = skipSpace(src, i); i >= len(src) {
				return w, i, invalidAt(i, "unexpected end of JSON input")
			}
			if src[i] == '}' {
				i++
				break
			}
			if src[i] != ',' {
				return w, i, invalidAt(i, "expected ',' or '}' after object member")
			}
			s.out[w] = ','
			w++
			i = skipSpace(src, i+1)
		}
	}
	s.out[w] = '}'
	w++
	o := &s.objects[index]
	o.end, o.next = w, len(s.objects)
	switch {
	case !inOrder:
		o.from = len(s.sorted)
		if !s.sortMembers(s.open[first:], w) {
			return w, i, invalidAt(at, "duplicate member name in the object")
		}
		o.to = len(s.sorted)
		o.layout = layoutReorder
		s.unordered++
	case s.unordered == unorderedBefore:
		o.layout = layoutFinal
	default:
		o.layout = layoutInner
	}
	s.open = s.open[:first]
	s.depth--
	return w, i, nil
}
