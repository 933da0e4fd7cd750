package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/idemhttp/idemhttp/cache"
)

func TestHeaderRoundTrip(t *testing.T) {
	for name, h := range map[string]http.Header{
		"nil":          nil,
		"empty":        {},
		"multi":        {"Set-Cookie": {"a=1", "b=2"}, "Vary": {"Accept", "Origin"}},
		"empty value":  {"X-Empty": {""}},
		"binary value": {"X-Bin": {"\x00\xff\xfe\x00"}, "\x00odd name": {"v"}},
		"long value":   {"X-Long": {string(bytes.Repeat([]byte("abc"), 100_000))}},
	} {
		got, err := decodeHeader(encodeHeader(h))
		if err != nil {
			t.Errorf("%s: decode: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, h) {
			t.Errorf("%s: round trip gave %q, want %q", name, got, h)
		}
	}
}

// TestHeaderEncodingIsDeterministic: the same header always encodes to the
// same bytes, whatever the map order.
func TestHeaderEncodingIsDeterministic(t *testing.T) {
	h := http.Header{}
	for _, k := range []string{"A", "B", "C", "D", "E", "F", "G", "H"} {
		h[k] = []string{k + "1", k + "2"}
	}
	first := encodeHeader(h)
	for range 20 {
		if !bytes.Equal(encodeHeader(h), first) {
			t.Fatal("encoding of one header varies")
		}
	}
}

func TestDecodeHeaderRejectsCorrupt(t *testing.T) {
	valid := encodeHeader(http.Header{"Content-Type": {"application/json"}})
	for name, b := range map[string][]byte{
		"empty":            {},
		"unknown format":   {2, 0},
		"truncated":        valid[:len(valid)-3],
		"trailing bytes":   append(bytes.Clone(valid), 0),
		"huge count":       {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad varint":       {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"name too long":    {1, 1, 50, 'a'},
		"values too many":  {1, 1, 1, 'a', 200},
		"value too long":   {1, 1, 1, 'a', 1, 9, 'x'},
		"count, no names":  {1, 3},
		"format byte only": {1},
	} {
		if _, err := decodeHeader(b); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: decodeHeader(% x) = %v, want errCorrupt", name, b, err)
		}
	}
}

// FuzzDecodeHeader: decoding arbitrary bytes never panics, and whatever
// decodes re-encodes to the same header.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(encodeHeader(http.Header{"A": {"1", "2"}, "B": {""}}))
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 1, 1, 'a', 1, 9, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		if err != nil {
			return
		}
		again, err := decodeHeader(encodeHeader(h))
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("re-encoding %q: %q, %v", h, again, err)
		}
	})
}

// TestCorruptRecordIsReportedAndKept: a damaged row makes Claim and Get
// fail with ErrUnavailable naming the key; nothing is deleted or
// overwritten, and other keys keep working.
func TestCorruptRecordIsReportedAndKept(t *testing.T) {
	ctx := context.Background()
	for name, damage := range map[string]string{
		"header":         `UPDATE records SET header = x'01ff' WHERE key = ?`,
		"header version": `UPDATE records SET header = x'09' WHERE key = ?`,
		"status":         `UPDATE records SET status = NULL WHERE key = ?`,
		"state":          `UPDATE records SET state = 9 WHERE key = ?`,
	} {
		t.Run(name, func(t *testing.T) {
			s := openTest(t)
			const key = "order-42-charge"
			c := mustClaim(t, s, key, "fp", longLease, cache.Acquired)
			mustComplete(t, s, key, c.Token, testEntry("x"), longTTL)
			db := rawDB(t, s.Path())
			if _, err := db.Exec(damage, key); err != nil {
				t.Fatal(err)
			}
			damaged := rowSnapshot(t, db, key)
			if damaged == nil {
				t.Fatal("no row to damage")
			}

			_, err := s.Claim(ctx, key, "fp", longLease)
			wantUnavailable(t, "Claim", err, key)
			_, err = s.Get(ctx, key)
			wantUnavailable(t, "Get", err, key)
			if got := rowSnapshot(t, db, key); !reflect.DeepEqual(got, damaged) {
				t.Errorf("damaged row changed: %v, was %v", got, damaged)
			}
			mustClaim(t, s, "other", "fp", longLease, cache.Acquired)
		})
	}
}

// rowSnapshot returns every column of the row under key, or nil.
func rowSnapshot(t *testing.T, db *sql.DB, key string) []any {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM records WHERE key = ?`, key)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		return nil
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	return vals
}
