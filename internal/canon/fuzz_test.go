package canon

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gowebpki/jcs"
)

// FuzzAppendJSON checks AppendJSON against gowebpki/jcs and jsontext, two
// independent implementations of RFC 8785, and checks that it never
// panics, that it is idempotent and that it appends. It checks the exact
// form of JSON against the RFC 8785 form (checkExactForm).
//
// jsontext is the judge of validity: it accepts exactly I-JSON, except
// numbers beyond the double range, which it rounds and AppendJSON refuses
// (errNumberRange). gowebpki/jcs must give the same bytes whenever both
// accept.
func FuzzAppendJSON(f *testing.F) {
	seeds := []string{
		// RFC 8785 examples.
		`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`,
		`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
		// Numbers.
		`[-0,0.0,1e21,1e20,1e-7,1e-6,5e-324,-5e-324,1.7976931348623157e308,9007199254740993,1e400,1e-400]`,
		`[123456789012345678901234567890,0.30000000000000004,1.0,10e-1,1E+2,4.50,-0.5]`,
		`{"id":9007199254740993,"rate":0.10000000000000001,"tiny":-1e-99999999999999999999999,"x":1234567890123456789e-30}`,
		`[01,1.,.1,+1,-,1e,0x1F,NaN]`,
		// Strings and names.
		`{"b":"\u0041","a":"\ud83d\ude00","\u0000":"\u001f\b\f\n\r\t\/\"\\"}`,
		"{\"\xff\":1}", `"\ud800"`, `"\udc00\ud800"`, "\"\xed\xa0\x80\"", `"abc`, "\"a\tb\"",
		`{"amount_refunded":0,"amount_captured":1,"amount":2,"a":3,"":4}`,
		`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"\ue000":1,"\ud800\udc00":2,"\uffff":3}`,
		// Structure.
		`{"a":{"d":[{"f":1,"e":2}],"c":3},"b":[]}`, ` [ 1 , { } , [ ] ] `, `{} x`, `[1,]`,
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		string(apiPayload(1 << 10)),
	}
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}
	for _, tt := range rfc8785Numbers {
		f.Add([]byte(strconv.FormatFloat(math.Float64frombits(tt.bits), 'e', 17, 64)))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		input := bytes.Clone(in)
		got, err := AppendJSON(nil, in)
		if !bytes.Equal(in, input) {
			t.Fatalf("AppendJSON changed its input")
		}
		v := jsontext.Value(bytes.Clone(in))
		verr := v.Canonicalize()
		switch {
		case err != nil && !errors.Is(err, ErrInvalid):
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		case err != nil && verr == nil && !errors.Is(err, errNumberRange):
			t.Fatalf("AppendJSON refused what jsontext accepts: %v", err)
		case err == nil && verr != nil:
			t.Fatalf("AppendJSON accepted what jsontext refuses (%v): %q", verr, got)
		case err == nil && !bytes.Equal(got, v):
			t.Fatalf("AppendJSON and jsontext differ:\n%q\n%q", got, v)
		}
		if err != nil {
			if withLen, lerr := AppendLenJSON([]byte("prefix"), in); lerr == nil || string(withLen) != "prefix" {
				t.Fatalf("AppendJSON fails with %v, AppendLenJSON gives %q, %v", err, withLen, lerr)
			}
			return
		}
		if want, jerr := jcs.Transform(in); jerr == nil && !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON and jcs differ:\n%q\n%q", got, want)
		}
		again, err := AppendJSON(nil, got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %q gives %q, %v", got, again, err)
		}
		appended, err := AppendJSON([]byte("prefix"), in)
		if err != nil || string(appended) != "prefix"+string(got) {
			t.Fatalf("appending gives %q, %v", appended, err)
		}
		withLen, err := AppendLenJSON([]byte("prefix"), in)
		if want := AppendLen([]byte("prefix"), got); err != nil || !bytes.Equal(withLen, want) {
			t.Fatalf("AppendLenJSON gives %q, %v; want %q", withLen, err, want)
		}
		checkExactForm(t, in, got)
	})
}

// checkExactForm checks JSON on in, whose RFC 8785 form is jcs: the same
// Lossy report in both forms; the exact form equal to jcs exactly when no
// number is lossy; valid JSON, idempotent, with jcs as its RFC 8785 form;
// AppendLen, AppendPointer and appending consistent with it.
func checkExactForm(t *testing.T, in, jcs []byte) {
	t.Helper()
	var plain JSON
	if got, err := plain.Append(nil, in); err != nil || !bytes.Equal(got, jcs) {
		t.Fatalf("JSON{}.Append gives %q, %v; want %q", got, err, jcs)
	}
	j := JSON{Exact: true}
	exact, err := j.Append([]byte("prefix"), in)
	if err != nil || !bytes.HasPrefix(exact, []byte("prefix")) {
		t.Fatalf("exact form: %q, %v", exact, err)
	}
	exact = exact[len("prefix"):]
	switch {
	case j.Lossy != plain.Lossy:
		t.Fatalf("Lossy %v in the exact form, %v in RFC 8785's", j.Lossy, plain.Lossy)
	case j.Lossy == bytes.Equal(exact, jcs):
		t.Fatalf("Lossy %v, exact form %q, RFC 8785 form %q", j.Lossy, exact, jcs)
	case !jsontext.Value(exact).IsValid():
		t.Fatalf("exact form %q is not valid JSON", exact)
	}
	if again, err := AppendJSON(nil, exact); err != nil || !bytes.Equal(again, jcs) {
		t.Fatalf("exact form %q has RFC 8785 form %q, %v; want %q", exact, again, err, jcs)
	}
	again := JSON{Exact: true}
	if twice, err := again.Append(nil, exact); err != nil || !bytes.Equal(twice, exact) || again.Lossy != j.Lossy {
		t.Fatalf("exact form not idempotent: %q gives %q, %v, Lossy %v", exact, twice, err, again.Lossy)
	}
	if withLen, err := j.AppendLen([]byte("p"), in); err != nil || !bytes.Equal(withLen, AppendLen([]byte("p"), exact)) {
		t.Fatalf("exact AppendLen gives %q, %v; want the exact form %q", withLen, err, exact)
	}
	if whole, found, err := j.AppendPointer(nil, in, ""); err != nil || !found || !bytes.Equal(whole, exact) {
		t.Fatalf("exact AppendPointer(\"\") gives %q, %v, %v; want %q", whole, found, err, exact)
	}
}

// FuzzJSONExactNumber checks lossy numbers and their exact spelling
// against math/big (checkExactValue) on JSON number literals.
func FuzzJSONExactNumber(f *testing.F) {
	for _, tt := range lossyNumbers {
		f.Add(tt.in)
	}
	for _, in := range notLossyNumbers {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !isNumberLiteral(in) {
			return
		}
		if e := strings.IndexAny(in, "eE"); e >= 0 && len(strings.TrimLeft(strings.TrimLeft(in[e+1:], "+-"), "0")) > 4 {
			return // too large an exponent for big.Rat; TestJSONLossyNumbers has some
		}
		checkExactValue(t, in)
	})
}

// isNumberLiteral reports whether s is one JSON number, nothing around it.
func isNumberLiteral(s string) bool {
	if s == "" || s[0] != '-' && (s[0] < '0' || s[0] > '9') || s[len(s)-1] < '0' || s[len(s)-1] > '9' {
		return false
	}
	return jsontext.Value(s).IsValid()
}

// FuzzAppendPointer checks that AppendPointer never panics and that what
// it finds is the canonical form of a value of the document.
func FuzzAppendPointer(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,{"c~/d":"x"}]},"":2}`), "/a/b/1/c~0~1d")
	f.Add([]byte(`{"a":[1,2]}`), "/a/-")
	f.Add([]byte(`[0,1,2,3,4,5,6,7,8,9,10]`), "/10")
	f.Add([]byte(`{"x":1}`), "x")
	f.Add([]byte(`{"\u00e9":1}`), "/é")
	f.Fuzz(func(t *testing.T, doc []byte, ptr string) {
		got, found, err := AppendPointer([]byte("p"), doc, ptr)
		switch {
		case err != nil:
			if !errors.Is(err, ErrInvalid) || string(got) != "p" || found {
				t.Fatalf("error %v with %q, found %v", err, got, found)
			}
		case !found:
			if string(got) != "p" {
				t.Fatalf("not found but dst is %q", got)
			}
		default:
			value := got[1:]
			again, err := AppendJSON(nil, value)
			if err != nil || !bytes.Equal(again, value) {
				t.Fatalf("found %q, not canonical JSON (%v)", value, err)
			}
			whole, _ := AppendJSON(nil, doc)
			if !bytes.Contains(whole, value) {
				t.Fatalf("found %q, not in the document %q", value, whole)
			}
		}
	})
}

// FuzzAppendForm checks that AppendForm and AppendFormField never panic,
// refuse only with ErrInvalid, and agree with each other.
func FuzzAppendForm(f *testing.F) {
	f.Add([]byte("b=2&a=1&a=3&c"), "a")
	f.Add([]byte("x=%41%2&y"), "y")
	f.Add([]byte("&&=&+=%20"), " ")
	f.Fuzz(func(t *testing.T, body []byte, name string) {
		form, err := AppendForm(nil, body)
		field, found, ferr := AppendFormField(nil, body, name)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("AppendForm error %v, AppendFormField error %v", err, ferr)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) || !errors.Is(ferr, ErrInvalid) {
				t.Fatalf("errors %v, %v do not wrap ErrInvalid", err, ferr)
			}
			return
		}
		fields := decodeForm(t, form)
		var values [][]byte
		for _, kv := range fields {
			if string(kv[0]) == name {
				values = append(values, kv[1])
			}
		}
		if found != (len(values) > 0) {
			t.Fatalf("found %v, but the form has %d values of %q", found, len(values), name)
		}
		if found && !bytes.Equal(field, encodeValues(values)) {
			t.Fatalf("field %q encodes as %q, want %q", name, field, encodeValues(values))
		}
	})
}

// FuzzAppendMultipart checks that AppendMultipart never panics and refuses
// only with ErrInvalid.
func FuzzAppendMultipart(f *testing.F) {
	body, contentType := multipartBody(f, "XyZ", []testPart{{name: "a", content: "1"}, {name: "f", filename: "x.txt", contentType: "text/plain", content: "hello"}})
	f.Add(body, contentType)
	f.Add([]byte("--b\r\n\r\n--b--"), "multipart/form-data; boundary=b")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		out, err := AppendMultipart([]byte("p"), contentType, body)
		if err != nil && (!errors.Is(err, ErrInvalid) || string(out) != "p") {
			t.Fatalf("error %v with %q", err, out)
		}
	})
}
