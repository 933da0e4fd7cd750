package canon

import (
	"errors"
	"testing"
)

func TestAppendPointer(t *testing.T) {
	doc := []byte(` {
		"personalizations": [{"to": [{"email": "a@example.com", "name": "A"}], "subject": "Hi"}],
		"content": {"value": "Hello", "type": "text/plain"},
		"a/b": 1, "m~n": 2, "": 3, "\u00e9": 4, "q\"": 5, "list": [10, 20, 30],
		"n": null
	} `)
	tests := []struct {
		ptr, want string
		found     bool
	}{
		{"", `{"":3,"a/b":1,"content":{"type":"text/plain","value":"Hello"},"list":[10,20,30],"m~n":2,"n":null,` +
			`"personalizations":[{"subject":"Hi","to":[{"email":"a@example.com","name":"A"}]}],"q\"":5,"é":4}`, true},
		{"/personalizations/0/subject", `"Hi"`, true},
		{"/personalizations/0/to/0", `{"email":"a@example.com","name":"A"}`, true},
		{"/personalizations/0/to/0/email", `"a@example.com"`, true},
		{"/content", `{"type":"text/plain","value":"Hello"}`, true},
		{"/a~1b", `1`, true},
		{"/m~0n", `2`, true},
		{"/", `3`, true},
		{"/é", `4`, true},
		{"/q\"", `5`, true},
		{"/list/2", `30`, true},
		{"/n", `null`, true},
		{"/list/3", "", false},
		{"/list/-", "", false},
		{"/list/01", "", false},
		{"/list/x", "", false},
		{"/list/99999999999999999999", "", false},
		{"/missing", "", false},
		{"/a/b", "", false},
		{"/content/value/x", "", false},
		{"/n/x", "", false},
		{"/personalizations/subject", "", false},
	}
	for _, tt := range tests {
		got, found, err := AppendPointer([]byte("p:"), doc, tt.ptr)
		if err != nil {
			t.Fatalf("%q: %v", tt.ptr, err)
		}
		want := "p:" + tt.want
		if found != tt.found || string(got) != want {
			t.Errorf("%q: got %q, %v; want %q, %v", tt.ptr, got, found, want, tt.found)
		}
	}
}

func TestAppendPointerErrors(t *testing.T) {
	tests := []struct{ doc, ptr string }{
		{`{"a":1}`, "a"},
		{`{"a":1}`, "/a~"},
		{`{"a":1}`, "/a~2"},
		{`{"a":1,"a":2}`, "/a"},
		{`{"a":1`, "/a"},
		{`{"a":1} {}`, "/a"},
	}
	for _, tt := range tests {
		got, found, err := AppendPointer([]byte("p"), []byte(tt.doc), tt.ptr)
		if !errors.Is(err, ErrInvalid) || found || string(got) != "p" {
			t.Errorf("%s %q: got %q, %v, %v; want ErrInvalid", tt.doc, tt.ptr, got, found, err)
		}
	}
}

// TestAppendPointerInvariance checks that a selected field keys the same
// however the rest of the document changes, and differently when it
// changes itself.
func TestAppendPointerInvariance(t *testing.T) {
	docs := []string{
		`{"to":"a@example.com","subject":"Hi","text":"first wording"}`,
		`{"text":"a reworded body","subject":"\u0048i","to":"a@example.com"}`,
	}
	var first string
	for k, doc := range docs {
		got, found, err := AppendPointer(nil, []byte(doc), "/subject")
		if err != nil || !found {
			t.Fatalf("%s: %v, found %v", doc, err, found)
		}
		if k == 0 {
			first = string(got)
		} else if string(got) != first {
			t.Errorf("%s gives %q, want %q", doc, got, first)
		}
	}
	other, _, _ := AppendPointer(nil, []byte(`{"subject":"Hi!"}`), "/subject")
	if string(other) == first {
		t.Errorf("a different subject gives the same %q", other)
	}
}
