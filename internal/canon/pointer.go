package canon

import "strings"

// AppendPointer appends the canonical JSON form (as AppendJSON) of the value
// that the RFC 6901 JSON Pointer ptr selects in the JSON document src.
// found is false, with dst unchanged, when the pointer selects nothing: a
// missing member, an index past the end or "-", a step into a number,
// string, boolean or null. The whole document must be valid I-JSON, as for
// AppendJSON, and ptr a valid pointer ("" selects the whole document);
// otherwise the error wraps ErrInvalid.
//
// Member names are matched against the decoded names, so "/a~1b" selects
// the member written "a\/b" or "a/b". Array indexes are decimal without
// leading zeros.
func AppendPointer(dst, src []byte, ptr string) (out []byte, found bool, err error) {
	out, found, _, err = appendPointer(dst, src, ptr, false)
	return out, found, err
}

// appendPointer is AppendPointer, writing the exact form (see JSON) with
// exact. lossy reports that the document, canonicalised without error,
// holds a lossy number, selected or not.
func appendPointer(dst, src []byte, ptr string, exact bool) (out []byte, found, lossy bool, err error) {
	if err := checkPointer(ptr); err != nil {
		return dst, false, false, err
	}
	base := len(dst)
	out, lossy, err = appendJSON(dst, src, false, exact)
	if err != nil {
		return out[:base], false, false, err
	}
	doc := out[base:]
	start, end, found := lookupPointer(doc, ptr)
	if !found {
		return out[:base], false, lossy, nil
	}
	n := copy(doc, doc[start:end])
	return out[:base+n], true, lossy, nil
}

// checkPointer reports a malformed JSON Pointer: one that does not start
// with '/' (other than ""), or holds a '~' not followed by '0' or '1'.
func checkPointer(ptr string) error {
	if ptr != "" && ptr[0] != '/' {
		return invalid("JSON pointer does not start with '/'")
	}
	for i := 0; i < len(ptr); i++ {
		if ptr[i] == '~' && (i+1 == len(ptr) || ptr[i+1] != '0' && ptr[i+1] != '1') {
			return invalid("JSON pointer has '~' not followed by '0' or '1'")
		}
	}
	return nil
}

// lookupPointer finds the value a checked pointer selects in a canonical
// document and returns where it lies.
func lookupPointer(doc []byte, ptr string) (start, end int, found bool) {
	i := 0
	for ptr != "" {
		token := ptr[1:]
		if k := strings.IndexByte(token, '/'); k >= 0 {
			token, ptr = token[:k], token[k:]
		} else {
			ptr = ""
		}
		var ok bool
		switch doc[i] {
		case '{':
			i, ok = lookupMember(doc, i, token)
		case '[':
			i, ok = lookupElement(doc, i, token)
		}
		if !ok {
			return 0, 0, false
		}
	}
	return i, skipCanonicalValue(doc, i), true
}

// lookupMember returns the offset of the value of the member named token
// (pointer-escaped) in the canonical object at doc[i] == '{'.
func lookupMember(doc []byte, i int, token string) (int, bool) {
	for i++; doc[i] == '"'; i++ {
		nameEnd := skipCanonicalString(doc, i)
		value := nameEnd + 1 // past ':'
		if nameEquals(doc[i+1:nameEnd-1], token) {
			return value, true
		}
		if i = skipCanonicalValue(doc, value); doc[i] == '}' {
			break
		}
	}
	return 0, false
}

// lookupElement returns the offset of the element at index token in the
// canonical array at doc[i] == '['.
func lookupElement(doc []byte, i int, token string) (int, bool) {
	index, ok := arrayIndex(token)
	if !ok || doc[i+1] == ']' {
		return 0, false
	}
	for i++; index > 0; index-- {
		if i = skipCanonicalValue(doc, i); doc[i] == ']' {
			return 0, false
		}
		i++ // past ','
	}
	return i, true
}

// arrayIndex parses an RFC 6901 array index: "0" or digits without a
// leading zero. Indexes too large for any array fail.
func arrayIndex(token string) (int, bool) {
	if token == "" || len(token) > 18 || token[0] == '0' && len(token) > 1 {
		return 0, false
	}
	n := 0
	for k := 0; k < len(token); k++ {
		if token[k]-'0' > 9 {
			return 0, false
		}
		n = n*10 + int(token[k]-'0')
	}
	return n, true
}

// nameEquals reports whether the body of a canonical JSON string decodes
// to the same bytes as the pointer-escaped token.
func nameEquals(name []byte, token string) bool {
	for len(name) > 0 && len(token) > 0 {
		c, n := decodeCanonicalByte(name)
		t, tn := token[0], 1
		if t == '~' {
			t, tn = "~/"[token[1]-'0'], 2
		}
		if c != t {
			return false
		}
		name, token = name[n:], token[tn:]
	}
	return len(name) == 0 && len(token) == 0
}

// skipCanonicalString returns the offset just past the canonical string at
// doc[i] == '"'.
func skipCanonicalString(doc []byte, i int) int {
	for i++; doc[i] != '"'; i++ {
		if doc[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipCanonicalValue returns the offset just past the canonical value at
// doc[i].
func skipCanonicalValue(doc []byte, i int) int {
	depth := 0
	for i < len(doc) {
		switch doc[i] {
		case '"':
			i = skipCanonicalString(doc, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}
