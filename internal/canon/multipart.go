package canon

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"slices"
	"strings"
)

// AppendMultipart appends a canonical encoding of a multipart body (RFC
// 2046; multipart/form-data, RFC 7578) whose boundary is the "boundary"
// parameter of contentType:
//
//	uvarint(number of parts) then, per part in body order:
//	AppendLen(form name) AppendLen(filename) AppendLen(content type) AppendLen(content)
//
// The form name and filename are the "name" and "filename" parameters of
// the part's Content-Disposition ("" when absent; RFC 2231 encoded values
// decoded); the content type is the part's Content-Type with its media type
// and parameter names lower-cased and parameters sorted
// (mime.FormatMediaType), or as sent when it does not parse; the content is
// the part's body, quoted-printable decoded when the part says so. The
// boundary, the preamble and epilogue, other part headers and header order
// never influence the result, so two encodings of the same parts with
// different random boundaries are equal. A content type without a boundary,
// a body that is not a complete multipart body, or an unparsable
// Content-Disposition is an error wrapping ErrInvalid.
func AppendMultipart(dst []byte, contentType string, body []byte) ([]byte, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") || params["boundary"] == "" {
		return dst, invalid("content type is not multipart with a boundary")
	}
	base := len(dst)
	reader := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	parts := uint64(0)
	for {
		part, err := reader.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return dst[:base], invalid("malformed multipart body")
		}
		if dst, err = appendPart(dst, part); err != nil {
			return dst[:base], err
		}
		parts++
	}
	if parts == 0 && !bytes.Contains(body, []byte("--"+params["boundary"])) {
		// The reader takes a body without any delimiter for a preamble.
		return dst[:base], invalid("multipart body without a boundary delimiter")
	}
	return insertUvarint(dst, base, parts), nil
}

// appendPart appends the encoding of one part.
func appendPart(dst []byte, part *multipart.Part) ([]byte, error) {
	var name, filename string
	if disposition := part.Header.Get("Content-Disposition"); disposition != "" {
		_, params, err := mime.ParseMediaType(disposition)
		if err != nil {
			return dst, invalid("malformed Content-Disposition in multipart part")
		}
		name, filename = params["name"], params["filename"]
	}
	dst = appendLenString(dst, name)
	dst = appendLenString(dst, filename)
	dst = appendLenString(dst, canonicalMediaType(part.Header.Get("Content-Type")))
	start := len(dst)
	for {
		dst = slices.Grow(dst, 512)
		n, err := part.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return dst, invalid("malformed multipart body")
		}
	}
	return insertUvarint(dst, start, uint64(len(dst)-start)), nil
}

// canonicalMediaType returns a Content-Type with its media type and
// parameter names lower-cased and parameters sorted, or the value with
// surrounding space removed when it does not parse.
func canonicalMediaType(value string) string {
	if value == "" {
		return ""
	}
	if mediaType, params, err := mime.ParseMediaType(value); err == nil {
		if formatted := mime.FormatMediaType(mediaType, params); formatted != "" {
			return formatted
		}
	}
	return strings.TrimSpace(value)
}
