package redis

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// TestEntryValueRoundTrip: the value the store keeps gives back the entry,
// with a nil header apart from an empty one. The encoding itself is tested
// in internal/entrycodec.
func TestEntryValueRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for name, want := range map[string]*cache.Entry{
		"binary":       testEntry(),
		"nil header":   {Status: 204, StoredAt: now},
		"empty header": {Status: 204, Header: http.Header{}, StoredAt: now},
	} {
		got, err := decodeEntry(encodeEntry(want, now))
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if got.Status != want.Status || !got.StoredAt.Equal(want.StoredAt) || !reflect.DeepEqual(got.Header, want.Header) {
			t.Errorf("%s: decoded %#v, want %#v", name, got, want)
		}
	}
}
