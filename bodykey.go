package idemhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Keys carried in a JSON body field (Square's idempotency_key) rather than a
// header. This is a rare path: plain encoding/json is enough.

// jsonStringField returns the string member name of a JSON object body.
func jsonStringField(body []byte, name string) (string, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return "", false
	}
	var s string
	if raw, ok := obj[name]; !ok || json.Unmarshal(raw, &s) != nil || s == "" {
		return "", false
	}
	return s, true
}

// setJSONStringField returns body with member name set to value. The body
// must be a JSON object.
func setJSONStringField(body []byte, name, value string) ([]byte, error) {
	obj := map[string]json.RawMessage{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, fmt.Errorf("idemhttp: cannot place the key in field %q: body is not a JSON object: %w", name, err)
		}
	}
	v, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	obj[name] = v
	return json.Marshal(obj)
}

// withoutJSONField returns body without the top-level member name, or body
// itself when it has no such member or is not a JSON object.
func withoutJSONField(body []byte, name string) []byte {
	if !bytes.Contains(body, []byte(name)) && !bytes.Contains(body, []byte(`\u`)) {
		return body // fast path: the name is not there, even escaped
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return body
	}
	if _, ok := obj[name]; !ok {
		return body
	}
	delete(obj, name)
	out, err := json.Marshal(obj)
	if err != nil {
		return body
	}
	return out
}
