package canon

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// AppendForm appends a canonical encoding of an
// application/x-www-form-urlencoded body (also usable for a URL query):
//
//	uvarint(number of fields) then, per field, AppendLen(name) AppendLen(value)
//
// with every name and value decoded ('+' is a space, %XX a byte) and the
// fields sorted by name in byte order; the values of a repeated name keep
// their order in the body, because a[]=1&a[]=2 and a[]=2&a[]=1 differ.
// Empty fields ("a=1&&b=2") are skipped; a field without '=' has the empty
// value, like "name=". ';' is an ordinary character. A '%' not followed by
// two hex digits is an error wrapping ErrInvalid. Names and values are
// bytes: they need not be UTF-8.
func AppendForm(dst, body []byte) ([]byte, error) {
	base := len(dst)
	var buf [32]decodedField
	fields := buf[:0]
	var err error
	for it := (formIterator{body: body}); ; {
		name, value, offset, ok := it.next()
		if !ok {
			break
		}
		f := decodedField{nameStart: len(dst)}
		if dst, err = appendUnescaped(dst, name, offset); err != nil {
			return dst[:base], err
		}
		f.nameEnd = len(dst)
		if dst, err = appendUnescaped(dst, value, offset+len(name)+1); err != nil {
			return dst[:base], err
		}
		f.end = len(dst)
		fields = append(fields, f)
	}
	decoded := dst
	slices.SortStableFunc(fields, func(a, b decodedField) int {
		return bytes.Compare(decoded[a.nameStart:a.nameEnd], decoded[b.nameStart:b.nameEnd])
	})
	encoded := len(dst)
	dst = binary.AppendUvarint(dst, uint64(len(fields)))
	for _, f := range fields {
		dst = AppendLen(dst, dst[f.nameStart:f.nameEnd])
		dst = AppendLen(dst, dst[f.nameEnd:f.end])
	}
	n := copy(dst[base:], dst[encoded:])
	return dst[:base+n], nil
}

// AppendFormField appends the canonical encoding of the values of the
// field name (compared with the decoded names) in an
// application/x-www-form-urlencoded body, for per-route key fields:
//
//	uvarint(number of values) then AppendLen(value) for each, in body order
//
// found is false, with dst unchanged, when no field has that name. The
// whole body is decoded and checked as for AppendForm.
func AppendFormField(dst, body []byte, name string) (out []byte, found bool, err error) {
	base := len(dst)
	var buf [8]decodedField
	values := buf[:0]
	for it := (formIterator{body: body}); ; {
		rawName, rawValue, offset, ok := it.next()
		if !ok {
			break
		}
		mark := len(dst)
		if dst, err = appendUnescaped(dst, rawName, offset); err != nil {
			return dst[:base], false, err
		}
		match := string(dst[mark:]) == name
		dst = dst[:mark]
		if dst, err = appendUnescaped(dst, rawValue, offset+len(rawName)+1); err != nil {
			return dst[:base], false, err
		}
		if match {
			values = append(values, decodedField{nameStart: mark, nameEnd: mark, end: len(dst)})
		} else {
			dst = dst[:mark]
		}
	}
	if len(values) == 0 {
		return dst[:base], false, nil
	}
	encoded := len(dst)
	dst = binary.AppendUvarint(dst, uint64(len(values)))
	for _, v := range values {
		dst = AppendLen(dst, dst[v.nameEnd:v.end])
	}
	n := copy(dst[base:], dst[encoded:])
	return dst[:base+n], true, nil
}

// decodedField is where a decoded field lies in a buffer: its name at
// [nameStart, nameEnd), its value at [nameEnd, end).
type decodedField struct {
	nameStart, nameEnd, end int
}

// formIterator walks the '&'-separated fields of a form body.
type formIterator struct {
	body []byte
	off  int
}

// next returns the raw name and value of the next non-empty field and the
// offset of the field in the body; ok is false at the end.
func (it *formIterator) next() (name, value []byte, offset int, ok bool) {
	for it.off < len(it.body) {
		offset = it.off
		field := it.body[offset:]
		if k := bytes.IndexByte(field, '&'); k >= 0 {
			field = field[:k]
		}
		it.off += len(field) + 1
		if len(field) > 0 {
			name, value, _ = bytes.Cut(field, []byte{'='})
			return name, value, offset, true
		}
	}
	return nil, nil, 0, false
}

// appendUnescaped appends s with '+' decoded as a space and %XX as the byte
// XX. offset is where s lies in the body, for errors.
func appendUnescaped(dst, s []byte, offset int) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(s) {
				return dst, invalidAt(offset+i, "incomplete percent escape in form")
			}
			hi, okHi := hexValue(s[i+1])
			lo, okLo := hexValue(s[i+2])
			if !okHi || !okLo {
				return dst, invalidAt(offset+i, "invalid percent escape in form")
			}
			dst = append(dst, hi<<4|lo)
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

// hexValue is the value of the hex digit c.
func hexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
