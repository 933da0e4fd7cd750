package canon

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gowebpki/jcs"
)

// canonical returns AppendJSON(nil, in) or fails the test.
func canonical(t *testing.T, in string) string {
	t.Helper()
	out, err := AppendJSON(nil, []byte(in))
	if err != nil {
		t.Fatalf("AppendJSON(%q): %v", in, err)
	}
	return string(out)
}

// TestAppendJSONRFC8785 checks the examples of RFC 8785 itself.
func TestAppendJSONRFC8785(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{
			name: "section 3.2.2 example",
			in: `{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			want: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{
			name: "section 3.2.3 sorting by UTF-16 code units",
			in: `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
			want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\"," +
				"\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := canonical(t, tt.in); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// rfc8785Numbers are the number examples of RFC 8785 appendix B: IEEE 754
// bit patterns and their canonical text.
var rfc8785Numbers = []struct {
	bits uint64
	want string
}{
	{0x0000000000000000, "0"},
	{0x8000000000000000, "0"},
	{0x0000000000000001, "5e-324"},
	{0x8000000000000001, "-5e-324"},
	{0x7fefffffffffffff, "1.7976931348623157e+308"},
	{0xffefffffffffffff, "-1.7976931348623157e+308"},
	{0x4340000000000000, "9007199254740992"},
	{0xc340000000000000, "-9007199254740992"},
	{0x4430000000000000, "295147905179352830000"},
	{0x44b52d02c7e14af5, "9.999999999999997e+22"},
	{0x44b52d02c7e14af6, "1e+23"},
	{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
	{0x444b1ae4d6e2ef4e, "999999999999999700000"},
	{0x444b1ae4d6e2ef4f, "999999999999999900000"},
	{0x444b1ae4d6e2ef50, "1e+21"},
	{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
	{0x3eb0c6f7a0b5ed8d, "0.000001"},
	{0x41b3de4355555553, "333333333.3333332"},
	{0x41b3de4355555554, "333333333.33333325"},
	{0x41b3de4355555555, "333333333.3333333"},
	{0x41b3de4355555556, "333333333.3333334"},
	{0x41b3de4355555557, "333333333.33333343"},
	{0xbecbf647612f3696, "-0.0000033333333333333333"},
	{0x43143ff3c1cb0959, "1424953923781206.2"},
}

// TestAppendJSONNumbers checks the RFC 8785 number examples, each written
// in several spellings that denote the same double.
func TestAppendJSONNumbers(t *testing.T) {
	for _, tt := range rfc8785Numbers {
		f := math.Float64frombits(tt.bits)
		for _, spelling := range numberSpellings(f) {
			if got := canonical(t, spelling); got != tt.want {
				t.Errorf("%#016x spelled %s: got %s, want %s", tt.bits, spelling, got, tt.want)
			}
		}
	}
}

// numberSpellings returns JSON spellings of f: shortest and 17-digit
// scientific, plain, and with exponent shifted.
func numberSpellings(f float64) []string {
	spellings := []string{
		strconv.FormatFloat(f, 'e', -1, 64),
		strconv.FormatFloat(f, 'e', 17, 64),
		strconv.FormatFloat(f, 'E', 20, 64),
		strconv.FormatFloat(f, 'f', -1, 64),
	}
	if f == 0 && math.Signbit(f) {
		spellings = append(spellings, "-0", "-0.0", "-0e5")
	}
	return spellings
}

// TestAppendJSONNumberFormats pins the layout rules of ECMAScript's
// Number.prototype.toString at their boundaries, and spellings that name
// the same number.
func TestAppendJSONNumberFormats(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1e21", "1e+21"},
		{"1e20", "100000000000000000000"},
		{"123456789012345678901", "123456789012345680000"},
		{"1e-7", "1e-7"},
		{"1e-6", "0.000001"},
		{"0.0000012345", "0.0000012345"},
		{"0.00000012345", "1.2345e-7"},
		{"5e-324", "5e-324"},
		{"1e-400", "0"},
		{"-1e-400", "0"},
		{"-0", "0"},
		{"0.0", "0"},
		{"1.0", "1"},
		{"1e0", "1"},
		{"10e-1", "1"},
		{"1E+2", "100"},
		{"100.000", "100"},
		{"0.1", "0.1"},
		{"-0.5", "-0.5"},
		{"12.50", "12.5"},
		{"1.5e300", "1.5e+300"},
		{"9007199254740992", "9007199254740992"},
		{"9007199254740993", "9007199254740992"},
		{"18446744073709551616", "18446744073709552000"},
		{"123456789012345", "123456789012345"},
		{"1234567890123456789", "1234567890123456800"},
		{"0.30000000000000004", "0.30000000000000004"},
		{"0.3000000000000000444", "0.30000000000000004"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"},
		{"-1.7976931348623157e308", "-1.7976931348623157e+308"},
	}
	for _, tt := range tests {
		if got := canonical(t, tt.in); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestAppendJSONNumbersMatchJCS compares random doubles, in several
// spellings, with the number formatter of gowebpki/jcs.
func TestAppendJSONNumbersMatchJCS(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 8785))
	for range 20000 {
		var f float64
		switch rng.IntN(3) {
		case 0: // any finite double
			f = math.Float64frombits(rng.Uint64())
			if math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
		case 1: // short decimals: the spelling-only fast path
			f, _ = strconv.ParseFloat(randomDecimal(rng), 64)
		default: // integers around 2^53
			f = float64(int64(1)<<53 + rng.Int64N(1000) - 500)
		}
		want, err := jcs.NumberToJSON(f)
		if err != nil {
			t.Fatalf("jcs.NumberToJSON(%v): %v", f, err)
		}
		for _, spelling := range numberSpellings(f) {
			if got := canonical(t, spelling); got != want {
				t.Fatalf("%s: got %s, jcs %s", spelling, got, want)
			}
		}
	}
	// Decimals as written by people and SDKs, not by a float formatter.
	for range 20000 {
		in := randomDecimal(rng)
		f, _ := strconv.ParseFloat(in, 64)
		want, _ := jcs.NumberToJSON(f)
		if got := canonical(t, in); got != want {
			t.Fatalf("%s: got %s, jcs %s", in, got, want)
		}
	}
}

// randomDecimal returns a decimal number of up to 17 significant digits,
// with or without fraction, zeros and sign.
func randomDecimal(rng *rand.Rand) string {
	var b strings.Builder
	if rng.IntN(4) == 0 {
		b.WriteByte('-')
	}
	if rng.IntN(3) == 0 {
		b.WriteByte('0')
	} else {
		b.WriteByte(byte('1' + rng.IntN(9)))
		for range rng.IntN(12) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
	}
	if rng.IntN(4) > 0 {
		b.WriteByte('.')
		for range 1 + rng.IntN(10) {
			if rng.IntN(3) == 0 {
				b.WriteByte('0')
			} else {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
	}
	return b.String()
}

// TestAppendJSONStrings checks the string escapes of RFC 8785.
func TestAppendJSONStrings(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"\u0041\u00e9\u20ac\ud83d\ude00"`, `"Aé€😀"`},
		{`"\/"`, `"/"`},
		{`"\b\f\n\r\t"`, `"\b\f\n\r\t"`},
		{`"\u0008\u000c\u000a\u000d\u0009"`, `"\b\f\n\r\t"`},
		{`"\u0000\u001F\u001f"`, `"\u0000\u001f\u001f"`},
		{`"\"\\"`, `"\"\\"`},
		{`"\u0022\u005C"`, `"\"\\"`},
		{`"\u007f\u2028\u2029"`, "\"\u007f\u2028\u2029\""},
		{`"\uFFFF"`, "\"\uffff\""},
		{"\"\u00e9t\u00e9 \U0001F600\"", "\"\u00e9t\u00e9 \U0001F600\""},
		{`"a very long plain string crossing several 8-byte words, still plain"`, `"a very long plain string crossing several 8-byte words, still plain"`},
		{`""`, `""`},
	}
	for _, tt := range tests {
		if got := canonical(t, tt.in); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestAppendJSONInvariance checks that spellings of the same document give
// the same canonical bytes.
func TestAppendJSONInvariance(t *testing.T) {
	groups := [][]string{
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`, " {\n\t\"b\" : 2 ,\r\n \"a\" : 1 } ", `{"\u0062":2,"\u0061":1.0}`},
		{`[1,1,1,1]`, `[1.0,1e0,10e-1,0.1e1]`, `[ 1 , 1.000 , 100E-2 , 1E+0 ]`},
		{`"A"`, `"\u0041"`, `"\u0041"`},
		{`{"x":{"b":[true,false,null],"a":"é"}}`, `{"x":{"a":"\u00e9","b":[true,false,null]}}`, `{ "x" : { "a" : "\u00E9" , "b" : [ true , false , null ] } }`},
		{`{"ab":1,"a":2,"b":3,"":4,"aa":5}`, `{"":4,"a":2,"aa":5,"ab":1,"b":3}`, `{"b":3,"aa":5,"ab":1,"a":2,"":4}`},
		{`{"name_0123456789":1,"name_012345678":2,"name_0123456788":3}`, `{"name_0123456788":3,"name_012345678":2,"name_0123456789":1}`},
		{"{\"\\n\":1,\"\\u000b\":2,\"\\\"\":3,\"\\\\\":4,\"a\":5}", "{\"a\":5,\"\\\\\":4,\"\\\"\":3,\"\\u000B\":2,\"\\u000a\":1}"},
	}
	for _, group := range groups {
		want := canonical(t, group[0])
		for _, in := range group[1:] {
			if got := canonical(t, in); got != want {
				t.Errorf("%s gives %s, but %s gives %s", in, got, group[0], want)
			}
		}
	}
}

// TestAppendJSONSensitivity checks that documents that differ in any value
// give different canonical bytes.
func TestAppendJSONSensitivity(t *testing.T) {
	docs := []string{
		`{"a":1}`, `{"a":2}`, `{"a":"1"}`, `{"a":1.5}`, `{"a":-1}`, `{"a":[1]}`, `{"a":{}}`, `{"a":null}`,
		`{"a":true}`, `{"a":false}`, `{"b":1}`, `{"A":1}`, `{"a ":1}`, `{"a":1,"b":1}`, `{}`, `[]`, `[1,2]`,
		`[2,1]`, `[[1],2]`, `[1,[2]]`, `"ab"`, `"ba"`, `"a\u0000"`, `"a"`, `""`, `0`, `1e-7`, `1e21`,
		`{"a":{"b":1}}`, `{"a":{"c":1}}`, `{"a":{"b":"1"}}`, `{"\u00e9":1}`, `{"e\u0301":1}`,
	}
	seen := map[string]string{}
	for _, in := range docs {
		got := canonical(t, in)
		if other, ok := seen[got]; ok {
			t.Errorf("%s and %s both give %s", in, other, got)
		}
		seen[got] = in
	}
}

// TestAppendJSONErrors checks that input that is not I-JSON is refused
// with ErrInvalid and leaves dst as it was.
func TestAppendJSONErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"only space", "  \n"},
		{"trailing data", `{"a":1} x`},
		{"two values", `1 2`},
		{"trailing comma in array", `[1,]`},
		{"trailing comma in object", `{"a":1,}`},
		{"missing colon", `{"a" 1}`},
		{"missing value", `{"a":}`},
		{"unquoted name", `{a:1}`},
		{"single quotes", `'a'`},
		{"unterminated string", `"abc`},
		{"unterminated string at end of word", `"abcdefgh`},
		{"unterminated array", `[1,2`},
		{"unterminated object", `{"a":1`},
		{"bad literal", `tru`},
		{"bad literal prefix", `nul`},
		{"literal case", `True`},
		{"leading zero", `01`},
		{"leading plus", `+1`},
		{"bare minus", `-`},
		{"dot without digits", `1.`},
		{"leading dot", `.5`},
		{"exponent without digits", `1e`},
		{"exponent sign without digits", `1e+`},
		{"hex number", `0x10`},
		{"NaN", `NaN`},
		{"Infinity", `Infinity`},
		{"number too large", `1e309`},
		{"negative number too large", `-1e400`},
		{"long integer too large", "1" + strings.Repeat("0", 400)},
		{"duplicate name", `{"a":1,"a":2}`},
		{"duplicate name out of order", `{"b":1,"a":2,"b":3}`},
		{"duplicate name escaped", `{"a":1,"\u0061":2}`},
		{"duplicate long name", `{"a_long_member_name":1,"b":0,"a_long_member_name":2}`},
		{"duplicate empty name", `{"":1,"":2}`},
		{"duplicate nested", `{"x":{"k":1,"k":1}}`},
		{"invalid UTF-8", "\"\xff\""},
		{"invalid UTF-8 after ASCII", "\"abcdefghijk\xc3\""},
		{"overlong UTF-8", "\"\xc0\xaf\""},
		{"UTF-8 surrogate", "\"\xed\xa0\x80\""},
		{"invalid UTF-8 in name", "{\"\xfe\":1}"},
		{"lone high surrogate", `"\ud800"`},
		{"lone high surrogate then text", `"\ud800abcdef"`},
		{"lone low surrogate", `"\udc00"`},
		{"reversed surrogates", `"\ude00\ud83d"`},
		{"high surrogate then non-surrogate", `"\ud83d\u0041"`},
		{"bad escape", `"\x41"`},
		{"short unicode escape", `"\u41"`},
		{"bad hex in escape", `"\u00g1"`},
		{"raw control character", "\"a\tb\""},
		{"raw newline", "\"a\nb\""},
		{"byte order mark", "\ufeff{}"},
		{"comment", `{} // comment`},
		{"nested too deeply", strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)},
		{"objects nested too deeply", strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, err := AppendJSON(dst, []byte(tt.in))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("AppendJSON(%.40q) = %q, %v; want ErrInvalid", tt.in, out, err)
			}
			if string(out) != "prefix" {
				t.Errorf("dst changed to %q", out)
			}
		})
	}
}

// TestAppendJSONRangeError checks that a number beyond the double range is
// told apart from other errors.
func TestAppendJSONRangeError(t *testing.T) {
	_, err := AppendJSON(nil, []byte(`[1,1e999]`))
	if !errors.Is(err, errNumberRange) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want errNumberRange wrapping ErrInvalid", err)
	}
}

// TestAppendJSONDepth checks the nesting limit at its edge and far above
// it: the limit holds without exhausting the stack.
func TestAppendJSONDepth(t *testing.T) {
	deepest := strings.Repeat(`{"a":[`, maxDepth/2) + strings.Repeat("]}", maxDepth/2)
	if got := canonical(t, deepest); got != deepest {
		t.Errorf("nesting of %d levels not kept as it is", maxDepth)
	}
	huge := strings.Repeat("[", 1_000_000)
	if _, err := AppendJSON(nil, []byte(huge)); !errors.Is(err, ErrInvalid) {
		t.Errorf("1e6 open arrays: %v, want ErrInvalid", err)
	}
}

// TestAppendJSONAppends checks that the output goes after what dst holds,
// in a buffer reused across calls, whatever its capacity.
func TestAppendJSONAppends(t *testing.T) {
	in := []byte(`{"b":[1e20,1e20,1e20,1e20,1e20,1e20,1e20,1e20],"a":{"d":1,"c":2}}`)
	want := `{"a":{"c":2,"d":1},"b":[100000000000000000000,100000000000000000000,100000000000000000000,100000000000000000000,100000000000000000000,100000000000000000000,100000000000000000000,100000000000000000000]}`
	for _, capacity := range []int{0, 3, 10, len(in), 2 * len(want), 4 * len(want)} {
		dst := append(make([]byte, 0, capacity), "key:"...)
		out, err := AppendJSON(dst, in)
		if err != nil || string(out) != "key:"+want {
			t.Errorf("capacity %d: got %q, %v", capacity, out, err)
		}
	}
	var buf []byte
	for k := range 3 {
		var err error
		if buf, err = AppendJSON(buf[:0], in); err != nil || string(buf) != want {
			t.Errorf("reuse %d: got %q, %v", k, buf, err)
		}
	}
}

// TestAppendLenJSON checks that AppendLenJSON is AppendLen of what
// AppendJSON gives, when numbers grow, when nothing is reordered, with
// lengths of one and several varint bytes, and that errors leave dst as
// it was.
func TestAppendLenJSON(t *testing.T) {
	docs := []string{
		`{"b":[1e20,1e20,1e20,1e20,1e20,1e20,1e20,1e20],"a":{"d":1,"c":2}}`,
		`[1e20,1e20,1e20,1e20,1e20,1e20,1e20,1e20,1e20,1e20,1e20,1e20,1e20]`,
		`{"a":1,"b":[true,false,null]}`,
		` "x" `,
		`0`,
		`{}`,
		string(apiPayload(1 << 10)),
		string(apiPayload(1 << 20)),
	}
	rng := rand.New(rand.NewPCG(3, 8785))
	for range 300 {
		docs = append(docs, string(randomJSON(rng, 0)))
	}
	var buf []byte
	for _, doc := range docs {
		c, err := AppendJSON(nil, []byte(doc))
		if err != nil {
			t.Fatalf("AppendJSON(%.80q): %v", doc, err)
		}
		want := AppendLen([]byte("key:"), c)
		for _, capacity := range []int{0, 10, 4 * len(doc)} {
			dst := append(make([]byte, 0, capacity), "key:"...)
			got, err := AppendLenJSON(dst, []byte(doc))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("AppendLenJSON(%.80q), capacity %d: got %.80q, %v; want %.80q", doc, capacity, got, err, want)
			}
		}
		if buf, err = AppendLenJSON(append(buf[:0], "key:"...), []byte(doc)); err != nil || !bytes.Equal(buf, want) {
			t.Fatalf("AppendLenJSON(%.80q) reusing a buffer: got %.80q, %v", doc, buf, err)
		}
	}
	for _, doc := range []string{`{"a":1,"a":2}`, `[1,]`, `[1,1e999]`, ""} {
		got, err := AppendLenJSON([]byte("key:"), []byte(doc))
		if !errors.Is(err, ErrInvalid) || string(got) != "key:" {
			t.Errorf("AppendLenJSON(%q) = %q, %v; want dst unchanged and ErrInvalid", doc, got, err)
		}
	}
}

// TestAppendJSONMatchesReferences compares AppendJSON with gowebpki/jcs and
// jsontext on the benchmark payloads and on random documents.
func TestAppendJSONMatchesReferences(t *testing.T) {
	docs := [][]byte{apiPayload(1 << 10), apiPayload(1 << 20)}
	rng := rand.New(rand.NewPCG(7, 8785))
	for range 3000 {
		docs = append(docs, randomJSON(rng, 0))
	}
	for _, doc := range docs {
		got, err := AppendJSON(nil, doc)
		if err != nil {
			t.Fatalf("AppendJSON(%.80q): %v", doc, err)
		}
		want, err := jcs.Transform(doc)
		if err != nil {
			t.Fatalf("jcs.Transform(%.80q): %v", doc, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("for %.200q\n got %.200q\njcs %.200q", doc, got, want)
		}
		v := jsontext.Value(bytes.Clone(doc))
		if err := v.Canonicalize(); err != nil || !bytes.Equal(got, v) {
			t.Fatalf("for %.200q\n     got %.200q\njsontext %.200q (%v)", doc, got, v, err)
		}
	}
}

// randomJSON returns a random JSON document with insignificant whitespace,
// unsorted names (some sharing long prefixes, some escaped or outside the
// BMP), strings with escapes and non-ASCII text, and numbers in all
// spellings.
func randomJSON(rng *rand.Rand, depth int) []byte {
	var b []byte
	space := func() {
		if rng.IntN(4) == 0 {
			b = append(b, " \t\n\r"[rng.IntN(4)])
		}
	}
	space()
	switch k := rng.IntN(10); {
	case k < 2 && depth < 6:
		b = append(b, '{')
		used := map[string]bool{}
		for range rng.IntN(12) {
			name := randomText(rng)
			if used[name] {
				continue
			}
			if len(used) > 0 {
				b = append(b, ',')
			}
			used[name] = true
			space()
			b = appendJSONString(b, rng, name)
			space()
			b = append(b, ':')
			b = append(b, randomJSON(rng, depth+1)...)
		}
		b = append(b, '}')
	case k < 4 && depth < 6:
		b = append(b, '[')
		for m := range rng.IntN(6) {
			if m > 0 {
				b = append(b, ',')
			}
			b = append(b, randomJSON(rng, depth+1)...)
		}
		b = append(b, ']')
	case k < 7:
		b = appendJSONString(b, rng, randomText(rng))
	case k < 9:
		b = append(b, randomNumber(rng)...)
	default:
		b = append(b, []string{"true", "false", "null"}[rng.IntN(3)]...)
	}
	space()
	return b
}

// randomText returns short text from an alphabet that makes names collide
// in their first bytes and covers every class of character.
func randomText(rng *rand.Rand) string {
	pieces := []string{"a", "b", "amount", "amount_", "_captured", "é", "€", "\ufb33", "😀", "\U0010FFFF",
		"\u0080", "\ue000", "\uffff", "\"", "\\", "/", "\n", "\x00", "\x1f", "\x7f", " ", "Z", "0"}
	var b strings.Builder
	for range rng.IntN(5) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// appendJSONString appends s as a JSON string, escaping at random.
func appendJSONString(b []byte, rng *rand.Rand, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < ' ' || rng.IntN(6) == 0:
			if r > 0xFFFF {
				hi, lo := (r-0x10000)>>10+0xD800, (r-0x10000)&0x3FF+0xDC00
				b = fmt.Appendf(b, `\u%04x\u%04X`, hi, lo)
			} else {
				b = fmt.Appendf(b, `\u%04x`, r)
			}
		case r == '/' && rng.IntN(2) == 0:
			b = append(b, '\\', '/')
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}

// randomNumber returns a JSON number in one of many spellings.
func randomNumber(rng *rand.Rand) string {
	switch rng.IntN(5) {
	case 0:
		return strconv.Itoa(rng.IntN(1 << 20))
	case 1:
		return randomDecimal(rng)
	case 2:
		return strconv.FormatInt(rng.Int64()-rng.Int64(), 10)
	case 3:
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = 0
		}
		return strconv.FormatFloat(f, "eEg"[rng.IntN(3)], rng.IntN(20)-1, 64)
	default:
		return fmt.Sprintf("%de%d", rng.IntN(1000), rng.IntN(40)-20)
	}
}

// TestAppendJSONNoAllocs checks the steady state: a reused buffer and the
// pooled scratch make AppendJSON allocation-free.
func TestAppendJSONNoAllocs(t *testing.T) {
	payload := apiPayload(1 << 10)
	buf, _ := AppendJSON(nil, payload)
	allocs := testing.AllocsPerRun(200, func() {
		buf, _ = AppendJSON(buf[:0], payload)
	})
	if raceEnabled {
		// The race detector makes sync.Pool drop entries at random.
		t.Logf("race detector on: %v allocations per run, not checked", allocs)
		return
	}
	if allocs > 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}

// TestAppendJSONRemembersOrders runs documents whose objects share name
// prefixes but not orders one after the other, so that remembered member
// orders are tried and must be refused when wrong.
func TestAppendJSONRemembersOrders(t *testing.T) {
	docs := []string{
		`{"prefix__b":1,"prefix__a":2,"c":3}`,
		`{"prefix__a":1,"prefix__b":2,"c":3}`,
		`{"prefix__b":1,"prefix__a":2,"c":3}`,
		`{"prefix__a":1,"prefix__a":2,"c":3}`,
		`{"prefix__b":1,"prefix__a":2,"prefix__b":3}`,
		`{"prefix__c":1,"prefix__a":2,"c":3}`,
		`[{"b":1,"a":2},{"b":3,"a":4},{"a":5,"b":6},{"b":7,"a":8,"c":9},{"b":1,"b":2}]`,
	}
	for round := range 3 {
		for _, doc := range docs {
			got, err := AppendJSON(nil, []byte(doc))
			want, jerr := jcs.Transform([]byte(doc))
			if (err == nil) != (jerr == nil) || !bytes.Equal(got, want) {
				t.Errorf("round %d, %s: got %s, %v; jcs %s, %v", round, doc, got, err, want, jerr)
			}
		}
	}
}
