package canon

import (
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
// The work is one pass over src plus, when some object's names are out of
// order, one more copy of the output. AppendJSON does not allocate when dst
// has room for about twice the output (a buffer reused across calls does).
func AppendJSON(dst, src []byte) ([]byte, error) {
	s := getJSONState()
	defer putJSONState(s)
	return s.canonicalize(dst, src)
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
	// open holds the members of the objects being parsed, innermost last.
	open []member
	// sorted holds the members of every out-of-order object, sorted;
	// each such object refers to its run.
	sorted []member
	// objects records every object in document order of its '{'.
	objects []object
	// keys is scratch for sorting members.
	keys []uint64
	// unordered counts the objects whose members had to be sorted.
	unordered int
}

// slack is the room kept after the last byte the output can need, so that
// 8-byte stores and loads near the end stay in bounds.
const slack = 16

// jsonStatePool keeps scratch between calls so the steady state allocates
// nothing. Scratch grown by a huge document is dropped rather than kept.
var jsonStatePool = sync.Pool{New: func() any { return new(jsonState) }}

// maxPooledEntries bounds the scratch slices a pooled jsonState keeps.
const maxPooledEntries = 1 << 16

func getJSONState() *jsonState { return jsonStatePool.Get().(*jsonState) }

func putJSONState(s *jsonState) {
	if cap(s.open) > maxPooledEntries || cap(s.sorted) > maxPooledEntries ||
		cap(s.objects) > maxPooledEntries || cap(s.keys) > maxPooledEntries {
		return
	}
	*s = jsonState{open: s.open[:0], sorted: s.sorted[:0], objects: s.objects[:0], keys: s.keys[:0]}
	jsonStatePool.Put(s)
}

// canonicalize is AppendJSON on a state.
func (s *jsonState) canonicalize(dst, src []byte) ([]byte, error) {
	base := len(dst)
	s.src = src
	s.out = atCapacity(slices.Grow(dst, len(src)+slack))
	w, i, err := s.value(base, skipSpace(src, 0), 0)
	if err == nil {
		if i = skipSpace(src, i); i != len(src) {
			err = invalidAt(i, "data after the JSON value")
		}
	}
	if err != nil {
		return s.out[:base], err
	}
	out := s.out[:w]
	if s.unordered > 0 {
		out = s.reorder(out, base)
	}
	return out, nil
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
// whitespace) at out[w:] and returns the new cursor and the offset just past
// the value. depth is the nesting of the enclosing containers.
func (s *jsonState) value(w, i, depth int) (int, int, error) {
	src := s.src
	if i >= len(src) {
		return w, i, invalidAt(i, "unexpected end of JSON input")
	}
	switch c := src[i]; c {
	case '"':
		w, i, _, err := s.string(w, i)
		return w, i, err
	case '{':
		return s.object(w, i, depth+1)
	case '[':
		return s.array(w, i, depth+1)
	case 't':
		return s.literal(w, i, "true")
	case 'f':
		return s.literal(w, i, "false")
	case 'n':
		return s.literal(w, i, "null")
	default:
		if c == '-' || c-'0' <= 9 {
			return s.number(w, i)
		}
		return w, i, invalidAt(i, "invalid character looking for a JSON value")
	}
}

// literal writes lit if src[i:] starts with it.
func (s *jsonState) literal(w, i int, lit string) (int, int, error) {
	if len(s.src)-i < len(lit) || string(s.src[i:i+len(lit)]) != lit {
		return w, i, invalidAt(i, "invalid literal")
	}
	return w + copy(s.out[w:], lit), i + len(lit), nil
}

// array writes the canonical form of the array at src[i] == '['.
func (s *jsonState) array(w, i, depth int) (int, int, error) {
	if depth > maxDepth {
		return w, i, invalidAt(i, "JSON nested too deeply")
	}
	src := s.src
	s.out[w] = '['
	w++
	if i = skipSpace(src, i+1); i < len(src) && src[i] == ']' {
		s.out[w] = ']'
		return w + 1, i + 1, nil
	}
	for {
		var err error
		if w, i, err = s.value(w, i, depth); err != nil {
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
			return w + 1, i + 1, nil
		default:
			return w, i, invalidAt(i, "expected ',' or ']' after array element")
		}
	}
}

// object writes the members of the object at src[i] == '{' in document
// order, each name and value already canonical, and records where each
// member lies. When the names are out of order the members are sorted here
// and moved into place by reorder once the whole document has been read,
// so that every byte is moved at most once whatever the nesting.
func (s *jsonState) object(w, i, depth int) (int, int, error) {
	if depth > maxDepth {
		return w, i, invalidAt(i, "JSON nested too deeply")
	}
	src := s.src
	at := i
	index := len(s.objects)
	s.objects = append(s.objects, object{start: w})
	unorderedBefore := s.unordered
	first := len(s.open)
	inOrder := true
	s.out[w] = '{'
	w++
	if i = skipSpace(src, i+1); i < len(src) && src[i] == '}' {
		i++
	} else {
		for {
			if i >= len(src) || src[i] != '"' {
				return w, i, invalidAt(i, "expected a string for an object member name")
			}
			m := member{start: w}
			var err error
			if w, i, m.escaped, err = s.string(w, i); err != nil {
				return w, i, err
			}
			m.nameEnd = w
			m.prefix = namePrefix(s.out, m.start, w, m.escaped)
			if i = skipSpace(src, i); i >= len(src) || src[i] != ':' {
				return w, i, invalidAt(i, "expected ':' after object member name")
			}
			s.out[w] = ':'
			w++
			m.firstObject = len(s.objects)
			if w, i, err = s.value(w, skipSpace(src, i+1), depth); err != nil {
				return w, i, err
			}
			m.end = w
			if inOrder && len(s.open) > first {
				switch c := compareMembers(s.out, &s.open[len(s.open)-1], &m); {
				case c == 0:
					return w, i, invalidAt(at, "duplicate member name in the object")
				case c > 0:
					inOrder = false
				}
			}
			s.open = append(s.open, m)
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
	o.end = w
	o.next = len(s.objects)
	switch {
	case !inOrder:
		o.from = len(s.sorted)
		if !s.sortMembers(s.open[first:]) {
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
	return w, i, nil
}
