package redis

import (
	"fmt"
	"strconv"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// parseRecord reads the fields of a record hash (see scripts.go).
func parseRecord(key string, f map[string]string) (cache.Record, error) {
	r := cache.Record{Key: key, Fingerprint: f["p"]}
	expires, err := parseMillis(f, "x")
	if err != nil {
		return cache.Record{}, err
	}
	if expires.UnixMilli() != 0 {
		r.ExpiresAt = expires
	}
	if _, ok := f["i"]; ok {
		if r.Since, err = parseMillis(f, "i"); err != nil {
			return cache.Record{}, err
		}
	}
	switch f["s"] {
	case stateInFlight:
		r.State = cache.InFlight
		token, err := strconv.ParseUint(f["t"], 10, 64)
		if err != nil || token == 0 {
			return cache.Record{}, fmt.Errorf("corrupt record: token %q", f["t"])
		}
		r.Token = cache.Token(token)
		if r.LeaseUntil, err = parseMillis(f, "l"); err != nil {
			return cache.Record{}, err
		}
		r.ClaimInDoubt = f["q"] == claimFlagged
	case stateInDoubt:
		r.State = cache.InDoubt
	case stateCompleted:
		r.State = cache.Done
		e, ok := f["e"]
		if !ok {
			return cache.Record{}, fmt.Errorf("corrupt record: completed without entry")
		}
		if r.Entry, err = decodeEntry([]byte(e)); err != nil {
			return cache.Record{}, err
		}
	default:
		return cache.Record{}, fmt.Errorf("corrupt record: state %q", f["s"])
	}
	return r, nil
}

// parseMillis reads field name of f as Unix milliseconds.
func parseMillis(f map[string]string, name string) (time.Time, error) {
	return parseMillisField(name, f[name])
}

// parseMillisField reads the value of field name as Unix milliseconds.
func parseMillisField(name, value string) (time.Time, error) {
	ms, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("corrupt record: field %s = %q", name, value)
	}
	return time.UnixMilli(ms), nil
}
