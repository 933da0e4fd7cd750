package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/entrycodec"
)

// headerFormatV1 is the first byte of an encoded header: a version, so the
// encoding can change without misreading old rows. The rest is
// entrycodec's header encoding.
const headerFormatV1 = 1

// encodeHeader encodes h for the header column: the format byte, then
// entrycodec.AppendHeader's encoding. A nil header encodes as nil (stored as
// NULL), so nil and empty headers stay apart.
func encodeHeader(h http.Header) []byte {
	if h == nil {
		return nil
	}
	return entrycodec.AppendHeader([]byte{headerFormatV1}, h)
}

// decodeHeader decodes what encodeHeader produced. Failures wrap
// entrycodec.ErrCorrupt; it never panics.
func decodeHeader(b []byte) (http.Header, error) {
	if b == nil {
		return nil, nil
	}
	if len(b) == 0 || b[0] != headerFormatV1 {
		return nil, fmt.Errorf("%w: unknown header format", entrycodec.ErrCorrupt)
	}
	return entrycodec.DecodeHeader(b[1:])
}

// entryColumns is an Entry as stored in the status, header, body,
// body_omitted and stored_at columns.
type entryColumns struct {
	status      sql.NullInt64
	header      []byte
	body        []byte
	bodyOmitted bool
	storedAt    sql.NullInt64
}

// encodeEntry returns the columns for e. A zero StoredAt becomes now.
func encodeEntry(e *cache.Entry, now time.Time) (entryColumns, error) {
	storedAt := e.StoredAt
	if storedAt.IsZero() {
		storedAt = now
	}
	ns := storedAt.UnixNano()
	if !time.Unix(0, ns).Equal(storedAt) {
		return entryColumns{}, fmt.Errorf("sqlite: Entry.StoredAt %v is outside the years 1678 to 2262", storedAt)
	}
	return entryColumns{
		status:      sql.NullInt64{Int64: int64(e.Status), Valid: true},
		header:      encodeHeader(e.Header),
		body:        e.Body,
		bodyOmitted: e.BodyOmitted,
		storedAt:    sql.NullInt64{Int64: ns, Valid: true},
	}, nil
}

// decode returns the entry held by the columns of a Done row.
func (c entryColumns) decode() (*cache.Entry, error) {
	if !c.status.Valid || !c.storedAt.Valid {
		return nil, errors.New("completed record without a response")
	}
	h, err := decodeHeader(c.header)
	if err != nil {
		return nil, err
	}
	return &cache.Entry{
		Status:      int(c.status.Int64),
		Header:      h,
		Body:        c.body,
		BodyOmitted: c.bodyOmitted,
		StoredAt:    time.Unix(0, c.storedAt.Int64),
	}, nil
}
