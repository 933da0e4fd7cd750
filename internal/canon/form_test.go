package canon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/url"
	"testing"
)

// decodeForm splits an AppendForm encoding into its name/value pairs,
// failing on any byte that does not belong to the encoding.
func decodeForm(t *testing.T, enc []byte) [][2][]byte {
	t.Helper()
	n, k := binary.Uvarint(enc)
	if k <= 0 {
		t.Fatalf("no field count in %q", enc)
	}
	enc = enc[k:]
	var fields [][2][]byte
	for range n {
		var kv [2][]byte
		for j := range kv {
			size, k := binary.Uvarint(enc)
			if k <= 0 || uint64(len(enc)-k) < size {
				t.Fatalf("truncated field in %q", enc)
			}
			kv[j], enc = enc[k:k+int(size)], enc[k+int(size):]
		}
		fields = append(fields, kv)
	}
	if len(enc) != 0 {
		t.Fatalf("%d bytes after the last field", len(enc))
	}
	return fields
}

// encodeValues is the AppendFormField encoding of values, built
// independently of it.
func encodeValues(values [][]byte) []byte {
	enc := binary.AppendUvarint(nil, uint64(len(values)))
	for _, v := range values {
		enc = binary.AppendUvarint(enc, uint64(len(v)))
		enc = append(enc, v...)
	}
	return enc
}

// formFields returns AppendForm's output decoded as "name=value" strings.
func formFields(t *testing.T, body string) []string {
	t.Helper()
	enc, err := AppendForm(nil, []byte(body))
	if err != nil {
		t.Fatalf("AppendForm(%q): %v", body, err)
	}
	var out []string
	for _, kv := range decodeForm(t, enc) {
		out = append(out, string(kv[0])+"="+string(kv[1]))
	}
	return out
}

func TestAppendFormSortsAndDecodes(t *testing.T) {
	got := formFields(t, "b=2&a%5B%5D=x+y&c&a[]=%7E&=empty&b=1")
	want := []string{"=empty", "a[]=x y", "a[]=~", "b=2", "b=1", "c="}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestAppendFormInvariance(t *testing.T) {
	groups := [][]string{
		{"a=1&b=2", "b=2&a=1", "b=2&&a=1&", "&b=%32&a=%31"},
		{"q=a+b", "q=a%20b", "q=%61%20%62"},
		{"a[]=1&a[]=2&x=y", "x=y&a[]=1&a[]=2", "a%5B%5D=1&x=y&a%5b%5d=2"},
		{"flag", "flag="},
		{"", "&", "&&"},
	}
	for _, group := range groups {
		want, err := AppendForm(nil, []byte(group[0]))
		if err != nil {
			t.Fatalf("AppendForm(%q): %v", group[0], err)
		}
		for _, body := range group[1:] {
			if got, err := AppendForm(nil, []byte(body)); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%q gives %q (%v), %q gives %q", body, got, err, group[0], want)
			}
		}
	}
}

func TestAppendFormSensitivity(t *testing.T) {
	bodies := []string{
		"a=1", "a=2", "b=1", "a=1&a=2", "a=2&a=1", "a[]=1&a[]=2", "a[]=2&a[]=1", "a=1&b=", "a=1&b=2",
		"a=", "a=%00", "ab=", "a=b", "a%3Db=", "a=b%26c=", "a=b&c=", "a;b=1", "a=1;b=2", "",
	}
	seen := map[string]string{}
	for _, body := range bodies {
		got, err := AppendForm(nil, []byte(body))
		if err != nil {
			t.Fatalf("AppendForm(%q): %v", body, err)
		}
		if other, ok := seen[string(got)]; ok {
			t.Errorf("%q and %q both give %q", body, other, got)
		}
		seen[string(got)] = body
	}
}

// TestAppendFormMatchesURL checks the decoding against net/url.
func TestAppendFormMatchesURL(t *testing.T) {
	body := "z=%E2%82%AC&name=J%C3%B6rg+M%C3%BCller&tags=a&tags=b%2Bc&empty=&e%3Dq=v"
	values, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := AppendForm(nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	fields := decodeForm(t, enc)
	for _, kv := range fields {
		name, value := string(kv[0]), string(kv[1])
		if vs := values[name]; len(vs) == 0 || vs[0] != value {
			t.Errorf("field %q=%q: net/url has %q", name, value, vs)
		} else {
			values[name] = vs[1:]
		}
	}
	if len(fields) != 6 {
		t.Errorf("%d fields, want 6", len(fields))
	}
}

func TestAppendFormErrors(t *testing.T) {
	for _, body := range []string{"a=%", "a=%4", "a=%zz", "%g0=1", "a=1&b=%1"} {
		out, err := AppendForm([]byte("p"), []byte(body))
		if !errors.Is(err, ErrInvalid) || string(out) != "p" {
			t.Errorf("AppendForm(%q) = %q, %v; want ErrInvalid", body, out, err)
		}
		out, found, err := AppendFormField([]byte("p"), []byte(body), "a")
		if !errors.Is(err, ErrInvalid) || string(out) != "p" || found {
			t.Errorf("AppendFormField(%q) = %q, %v, %v; want ErrInvalid", body, out, found, err)
		}
	}
}

func TestAppendFormField(t *testing.T) {
	body := []byte("to=a%40example.com&subject=Hi+there&to=b%40example.com&tok=1&t=")
	tests := []struct {
		name   string
		values []string
	}{
		{"to", []string{"a@example.com", "b@example.com"}},
		{"subject", []string{"Hi there"}},
		{"t", []string{""}},
		{"missing", nil},
		{"to ", nil},
	}
	for _, tt := range tests {
		got, found, err := AppendFormField([]byte("p"), body, tt.name)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if found != (tt.values != nil) {
			t.Errorf("%s: found %v", tt.name, found)
		}
		want := []byte("p")
		if tt.values != nil {
			var values [][]byte
			for _, v := range tt.values {
				values = append(values, []byte(v))
			}
			want = append(want, encodeValues(values)...)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, want)
		}
	}
}

func TestAppendLen(t *testing.T) {
	// Two different splits of the same bytes encode differently.
	a := AppendLen(AppendLen(nil, []byte("ab")), []byte("c"))
	b := AppendLen(AppendLen(nil, []byte("a")), []byte("bc"))
	if bytes.Equal(a, b) {
		t.Fatalf("%q and %q encode the same", "ab|c", "a|bc")
	}
	long := bytes.Repeat([]byte("x"), 300)
	enc := AppendLen([]byte("p"), long)
	n, k := binary.Uvarint(enc[1:])
	if n != 300 || !bytes.Equal(enc[1+k:], long) {
		t.Errorf("AppendLen of 300 bytes gives length %d and %d bytes", n, len(enc[1+k:]))
	}
}
