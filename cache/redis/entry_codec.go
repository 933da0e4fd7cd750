package redis

import (
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/entrycodec"
)

// encodeEntry returns the value kept in a completed record's "e" field: the
// versioned entrycodec encoding of e. A zero StoredAt is recorded as now.
func encodeEntry(e *cache.Entry, now time.Time) []byte {
	return entrycodec.Append(nil, e, now)
}

// decodeEntry parses a value made by encodeEntry. It never panics: any
// malformed input is an error wrapping entrycodec.ErrCorrupt.
func decodeEntry(data []byte) (*cache.Entry, error) {
	return entrycodec.Decode(data)
}
