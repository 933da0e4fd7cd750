package webhook

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
)

// bufferedBody is a request body already read into memory. Stacked
// middlewares of this package (a verifier, then Dedup) recognise it and read
// the body only once.
type bufferedBody struct {
	*bytes.Reader
	data []byte
}

// Close implements io.Closer; there is nothing to release.
func (b *bufferedBody) Close() error { return nil }

// readBody reads the request body, at most limit bytes, and replaces r.Body
// with an in-memory copy that the next handler can read again.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if bb, ok := r.Body.(*bufferedBody); ok {
		if int64(len(bb.data)) > limit {
			return nil, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, limit)
		}
		bb.Reset(bb.data) // whole again, whatever a handler in between read
		return bb.data, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d is over %d bytes", ErrBodyTooLarge, r.ContentLength, limit)
	}
	var data []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		data, err = io.ReadAll(io.LimitReader(r.Body, min(limit, math.MaxInt64-1)+1))
		if err != nil {
			return nil, fmt.Errorf("webhook: reading request body: %w", err)
		}
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, limit)
		}
	}
	setBody(r, data)
	return data, nil
}

// setBody makes data the request body, with a matching Content-Length.
func setBody(r *http.Request, data []byte) {
	r.Body = &bufferedBody{Reader: bytes.NewReader(data), data: data}
	r.ContentLength = int64(len(data))
	if r.Header.Get("Content-Length") != "" {
		r.Header.Set("Content-Length", fmt.Sprint(len(data)))
	}
}
