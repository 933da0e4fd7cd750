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
	"github.com/idemhttp/idemhttp/internal/entrycodec"
)

// TestHeaderColumnRoundTrip: the header column keeps nil apart from empty
// and starts with the format byte.
func TestHeaderColumnRoundTrip(t *testing.T) {
	for name, h := range map[string]http.Header{
		"nil":   nil,
		"empty": {},
		"multi": {"Set-Cookie": {"a=1", "b=2"}, "Vary": {"Accept", "Origin"}},
	} {
		b := encodeHeader(h)
		if (b == nil) != (h == nil) || (b != nil && b[0] != headerFormatV1) {
			t.Errorf("%s: encoded as % x", name, b)
		}
		got, err := decodeHeader(b)
		if err != nil {
			t.Errorf("%s: decode: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, h) {
			t.Errorf("%s: round trip gave %#v, want %#v", name, got, h)
		}
	}
}

// TestDecodeHeaderRejectsCorrupt: a damaged column is an error wrapping
// entrycodec.ErrCorrupt, whether the format byte or what follows is wrong.
func TestDecodeHeaderRejectsCorrupt(t *testing.T) {
	valid := encodeHeader(http.Header{"Content-Type": {"application/json"}})
	for name, b := range map[string][]byte{
		"empty":            {},
		"unknown format":   {2, 0},
		"format byte only": {headerFormatV1},
		"truncated":        valid[:len(valid)-3],
		"trailing bytes":   append(bytes.Clone(valid), 0),
	} {
		if _, err := decodeHeader(b); !errors.Is(err, entrycodec.ErrCorrupt) {
			t.Errorf("%s: decodeHeader(% x) = %v, want entrycodec.ErrCorrupt", name, b, err)
		}
	}
}

// TestCorruptRecordIsReportedAndKept: a damaged row makes Claim and Get
// fail with ErrUnavailable naming the key; nothing is deleted or
// overwritten, and other keys keep working.
func TestCorruptRecordIsReportedAndKept(t *testing.T) {
	ctx := context.Background()
	for name, damage := range map[string]string{
		"header":         `UPDATE records SET header = x'01ff' WHERE key = ?`,
		"header version": `UPDATE records SET header = x'09' WHERE key = ?`,
		"header order":   `UPDATE records SET header = x'0102016200016100' WHERE key = ?`,
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
