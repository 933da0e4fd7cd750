package sqlite

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// headerFormatV1 is the first byte of an encoded header: a version, so the
// encoding can change without misreading old rows.
const headerFormatV1 = 1

// errCorrupt is wrapped by every decoding failure.
var errCorrupt = errors.New("corrupt header encoding")

// encodeHeader encodes h as: the format byte, the number of names, then for
// each name (sorted) its length and bytes, the number of values, and each
// value's length and bytes; numbers are uvarints. A nil header encodes as nil
// (stored as NULL).
func encodeHeader(h http.Header) []byte {
	if h == nil {
		return nil
	}
	names := make([]string, 0, len(h))
	size := 1 + binary.MaxVarintLen64
	for name, values := range h {
		names = append(names, name)
		size += len(name) + 2*binary.MaxVarintLen64
		for _, v := range values {
			size += len(v) + binary.MaxVarintLen64
		}
	}
	slices.Sort(names)
	b := make([]byte, 0, size)
	b = append(b, headerFormatV1)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = appendString(b, name)
		b = binary.AppendUvarint(b, uint64(len(h[name])))
		for _, v := range h[name] {
			b = appendString(b, v)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeHeader decodes what encodeHeader produced. It never panics and
// never allocates more than the input justifies.
func decodeHeader(b []byte) (http.Header, error) {
	if b == nil {
		return nil, nil
	}
	if len(b) == 0 || b[0] != headerFormatV1 {
		return nil, fmt.Errorf("%w: unknown format", errCorrupt)
	}
	d := decoder{b: b[1:]}
	// Every name takes at least two bytes, every value at least one: counts
	// beyond that are corrupt, and the checks bound the allocations.
	n := d.count(2)
	h := make(http.Header, n)
	for range n {
		name := d.string()
		nv := d.count(1)
		if d.err != nil {
			break
		}
		values := make([]string, nv)
		for i := range values {
			values[i] = d.string()
		}
		h[name] = values
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// decoder reads uvarint-prefixed data, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad length", errCorrupt)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items each taking at least minBytes.
func (d *decoder) count(minBytes int) int {
	v := d.uvarint()
	if d.err == nil && v > uint64(len(d.b)/minBytes) {
		d.err = fmt.Errorf("%w: count %d exceeds the data", errCorrupt, v)
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: length %d exceeds the data", errCorrupt, n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
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
