package canon

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// lossyNumbers are numbers whose RFC 8785 form is another value, with
// their exact spelling.
var lossyNumbers = []struct{ in, exact string }{
	// Integers beyond 2^53.
	{"9007199254740993", "9007199254740993"},
	{"-9007199254740993", "-9007199254740993"},
	{"9007199254740993.0", "9007199254740993"},
	{"9007199254740993e0", "9007199254740993"},
	{"9.007199254740993e15", "9007199254740993"},
	{"90071992547409930e-1", "9007199254740993"},
	{"18446744073709551616", "18446744073709551616"},
	{"100000000000000001e3", "100000000000000001000"},
	{"123456789012345678901", "123456789012345678901"},
	{"123456789012345678901234567890", "1.2345678901234567890123456789e+29"},
	// More significant digits than a double keeps.
	{"0.10000000000000001", "0.10000000000000001"},
	{"-0.10000000000000001", "-0.10000000000000001"},
	{"1.00000000000000001e-1", "0.100000000000000001"},
	{"0.3000000000000000444", "0.3000000000000000444"},
	{"123456789012345678.9", "123456789012345678.9"},
	{"0.000001000000000000000000001", "0.000001000000000000000000001"},
	{"0.0000001000000000000000001", "1.000000000000000001e-7"},
	{"1234567890123456789e-30", "1.234567890123456789e-12"},
	{"1.79769313486231570001e308", "1.79769313486231570001e+308"},
	{"4.9406564584124654E-324", "4.9406564584124654e-324"},
	// Subnormal: fewer digits than DBL_DIG survive (printed 1.2347e-320).
	{"1.23456789e-320", "1.23456789e-320"},
	// Below the range of a double: printed 0.
	{"1e-400", "1e-400"},
	{"-1E-400", "-1e-400"},
	{"1e-99999999999999999999999", "1e-99999999999999999999999"},
	{"-12.5e-99999999999999999999999", "-1.25e-99999999999999999999998"},
}

// notLossyNumbers are spellings whose RFC 8785 form is the same value.
var notLossyNumbers = []string{
	"0", "-0", "0.0", "-0.0e5", "0e-400", "0.00e-5000000000000000000000001",
	"1", "1.0", "1e0", "10e-1", "1E2", "100", "1E+2", "0.5", "0.50", "5e-1", "-0.5", "-5E-1",
	"9007199254740992", "-9007199254740992", "9007199254740992.0", "9.007199254740992e15",
	"18446744073709552000", "1e21", "1e23", "1e-7", "0.000001", "1e-6",
	"0.1", "0.30000000000000004", "19.90", "1.5e300",
	"5e-324", "1e-320", "1.5e-323", "2.2250738585072014e-308", "1.7976931348623157e308", "-1.7976931348623157E+308",
	"123456789.1234567", "0.30000000000000004e0", "12345678901234567000",
}

// TestJSONLossyNumbers checks the detection of lossy numbers, their exact
// spelling, and that neither changes the RFC 8785 form.
func TestJSONLossyNumbers(t *testing.T) {
	check := func(in, exact string, lossy bool) {
		t.Helper()
		want, err := AppendJSON(nil, []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var jcsForm, exactForm JSON
		exactForm.Exact = true
		got, err := jcsForm.Append(nil, []byte(in))
		if err != nil || !bytes.Equal(got, want) || jcsForm.Lossy != lossy {
			t.Errorf("%s: JSON{} gives %s, %v, Lossy %v; want %s, Lossy %v", in, got, err, jcsForm.Lossy, want, lossy)
		}
		got, err = exactForm.Append(nil, []byte(in))
		if err != nil || string(got) != exact || exactForm.Lossy != lossy {
			t.Errorf("%s: exact form %s, %v, Lossy %v; want %s, Lossy %v", in, got, err, exactForm.Lossy, exact, lossy)
		}
	}
	for _, tt := range lossyNumbers {
		check(tt.in, tt.exact, true)
	}
	for _, in := range notLossyNumbers {
		want, _ := AppendJSON(nil, []byte(in))
		check(in, string(want), false)
	}
}

// TestJSONExactForm checks whole documents: the exact form is the RFC 8785
// form with lossy numbers spelled exactly, and tells documents apart exactly
// when their values differ.
func TestJSONExactForm(t *testing.T) {
	tests := []struct{ in, jcs, exact string }{
		{`{"b":[1.0,9007199254740993],"a":0.10000000000000001}`,
			`{"a":0.1,"b":[1,9007199254740992]}`,
			`{"a":0.10000000000000001,"b":[1,9007199254740993]}`},
		{`{"customer_id":9007199254740992,"sku":"R-1"}`,
			`{"customer_id":9007199254740992,"sku":"R-1"}`,
			`{"customer_id":9007199254740992,"sku":"R-1"}`},
		{` [ -1e-400 , {"z":1e2,"y":12345678901234567890123} ] `,
			`[0,{"y":1.2345678901234568e+22,"z":100}]`,
			`[-1e-400,{"y":1.2345678901234567890123e+22,"z":100}]`},
	}
	for _, tt := range tests {
		j := JSON{Exact: true}
		got, err := j.Append([]byte("prefix"), []byte(tt.in))
		if err != nil || string(got) != "prefix"+tt.exact {
			t.Errorf("%s: exact form %s, %v; want %s", tt.in, got, err, tt.exact)
		}
		if lossy := tt.jcs != tt.exact; j.Lossy != lossy {
			t.Errorf("%s: Lossy %v, want %v", tt.in, j.Lossy, lossy)
		}
		withLen, err := j.AppendLen(nil, []byte(tt.in))
		if want := AppendLen(nil, []byte(tt.exact)); err != nil || !bytes.Equal(withLen, want) {
			t.Errorf("%s: AppendLen gives %q, %v; want %q", tt.in, withLen, err, want)
		}
		if jcs, _ := AppendJSON(nil, []byte(tt.in)); string(jcs) != tt.jcs {
			t.Errorf("%s: RFC 8785 form %s, want %s", tt.in, jcs, tt.jcs)
		}
	}

	// Pairs equal in RFC 8785: their exact forms are equal when their
	// values are.
	pairs := []struct {
		a, b  string
		equal bool
	}{
		{`{"id":9007199254740993}`, `{"id":9007199254740992}`, false},
		{`{"id":9007199254740993}`, `{"id":9007199254740993.0}`, true},
		{`{"id":9007199254740993}`, `{"id":9.007199254740993E+15}`, true},
		{`[0.10000000000000001]`, `[0.1]`, false},
		{`[0.10000000000000001]`, `[1.0000000000000001e-1]`, true},
		{`[1e-400]`, `[0]`, false},
		{`[1e-400]`, `[-1e-400]`, false},
		{`[-0, 1.0, 1e2, 0.50]`, `[0, 1, 100, 5e-1]`, true},
	}
	for _, tt := range pairs {
		j := JSON{Exact: true}
		a, errA := j.Append(nil, []byte(tt.a))
		b, errB := j.Append(nil, []byte(tt.b))
		if errA != nil || errB != nil || bytes.Equal(a, b) != tt.equal {
			t.Errorf("%s and %s: exact forms %s and %s (%v, %v), want equal %v", tt.a, tt.b, a, b, errA, errB, tt.equal)
		}
	}
}

// TestJSONLossyPointerAndErrors checks that Lossy counts a lossy number
// anywhere in a pointer's document, accumulates over calls, and is left
// alone by a call that fails.
func TestJSONLossyPointerAndErrors(t *testing.T) {
	var j JSON
	if _, err := j.Append(nil, []byte(`[9007199254740993,`)); err == nil || j.Lossy {
		t.Fatalf("invalid document: err %v, Lossy %v", err, j.Lossy)
	}
	if _, err := j.Append(nil, []byte(`[1e400, 9007199254740993]`)); err == nil || j.Lossy {
		t.Fatalf("number out of range: err %v, Lossy %v", err, j.Lossy)
	}
	doc := []byte(`{"a":1,"b":{"c":9007199254740993}}`)
	got, found, err := j.AppendPointer(nil, doc, "/a")
	if err != nil || !found || string(got) != "1" || !j.Lossy {
		t.Fatalf("/a: %s, %v, %v, Lossy %v; want 1, Lossy (from /b/c)", got, found, err, j.Lossy)
	}
	if _, err := j.Append(nil, []byte(`[1]`)); err != nil || !j.Lossy {
		t.Fatalf("Lossy cleared by a later call: %v, %v", err, j.Lossy)
	}
	exact := JSON{Exact: true}
	got, found, err = exact.AppendPointer([]byte("p"), doc, "/b/c")
	if err != nil || !found || string(got) != "p9007199254740993" || !exact.Lossy {
		t.Errorf("exact /b/c: %s, %v, %v, Lossy %v", got, found, err, exact.Lossy)
	}
	if got, found, _ = exact.AppendPointer([]byte("p"), doc, "/x"); found || string(got) != "p" {
		t.Errorf("exact /x: %s, %v", got, found)
	}
}

// TestJSONExactValues checks, on random literals, against math/big: the
// exact spelling has the literal's value, and a number is lossy exactly
// when its RFC 8785 form has another value.
func TestJSONExactValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 8785))
	for range 20000 {
		in := randomLiteral(rng)
		checkExactValue(t, in)
	}
	// At most 15 digits near the ends of the range, where isLossy skips
	// the comparison for normal doubles (DBL_DIG) and not for subnormal ones.
	for range 20000 {
		mantissa := strconv.FormatUint(1+rng.Uint64N(999999999999999), 10)
		exp := -340 + rng.IntN(50)
		if rng.IntN(2) == 0 {
			exp = 280 + rng.IntN(30)
		}
		checkExactValue(t, mantissa[:1]+"."+mantissa[1:]+"0e"+strconv.Itoa(exp))
		checkExactValue(t, mantissa+"e"+strconv.Itoa(exp-len(mantissa)))
	}
}

// checkExactValue checks the exact spelling and the lossy report of the
// JSON number literal in against math/big values. The exponent must be
// small enough for big.Rat.
func checkExactValue(t *testing.T, in string) {
	t.Helper()
	value := func(s string) *big.Rat {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat cannot read %q (from %s)", s, in)
		}
		return r
	}
	jcs, err := AppendJSON(nil, []byte(in))
	if err != nil {
		return // out of the range of a double
	}
	j := JSON{Exact: true}
	exact, err := j.Append(nil, []byte(in))
	if err != nil {
		t.Fatalf("%s: %v", in, err)
	}
	v := value(in)
	if value(string(exact)).Cmp(v) != 0 {
		t.Fatalf("%s: exact spelling %s has another value", in, exact)
	}
	if lossy := value(string(jcs)).Cmp(v) != 0; lossy != j.Lossy {
		t.Fatalf("%s: RFC 8785 form %s, Lossy %v, want %v", in, jcs, j.Lossy, lossy)
	}
	if again, _ := AppendJSON(nil, exact); !bytes.Equal(again, jcs) {
		t.Fatalf("%s: the exact spelling %s has RFC 8785 form %s, want %s", in, exact, again, jcs)
	}
	if !j.Lossy && !bytes.Equal(exact, jcs) {
		t.Fatalf("%s: not lossy, yet exact %s differs from %s", in, exact, jcs)
	}
}

// randomLiteral returns a JSON number of up to 30 significant digits,
// often near the precision of a double, with or without fraction and
// exponent, in the range big.Rat computes quickly.
func randomLiteral(rng *rand.Rand) string {
	var b strings.Builder
	if rng.IntN(3) == 0 {
		b.WriteByte('-')
	}
	digits := func(n int) {
		for range n {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
	}
	if rng.IntN(4) == 0 {
		b.WriteByte('0')
	} else {
		b.WriteByte(byte('1' + rng.IntN(9)))
		digits(rng.IntN(22))
	}
	if rng.IntN(2) == 0 {
		b.WriteByte('.')
		if rng.IntN(3) == 0 {
			b.WriteString(strings.Repeat("0", rng.IntN(20)))
		}
		digits(1 + rng.IntN(20))
	}
	if rng.IntN(2) == 0 {
		b.WriteString([]string{"e", "E", "e+", "e-", "E-"}[rng.IntN(5)])
		b.WriteString(strconv.Itoa(rng.IntN(360)))
	}
	return b.String()
}

// TestJSONExactNoAllocs checks that neither the lossy check nor the exact
// form allocates in the steady state: for documents without lossy numbers,
// and for the exact spellings of lossy ones.
func TestJSONExactNoAllocs(t *testing.T) {
	payload := apiPayload(1 << 10)
	lossy := []byte(`{"ids":[9007199254740993,-18446744073709551616],"rate":0.10000000000000001,"fee":1.0000000000000000001e-400,"n":1.50}`)
	for _, doc := range [][]byte{payload, lossy} {
		for _, exact := range []bool{false, true} {
			j := JSON{Exact: exact}
			buf, _ := j.AppendLen(nil, doc)
			allocs := testing.AllocsPerRun(200, func() {
				buf, _ = j.AppendLen(buf[:0], doc)
			})
			if raceEnabled {
				t.Logf("race detector on: %v allocations per run, not checked", allocs)
				return
			}
			if allocs > 0 {
				t.Errorf("exact %v, %.20s: %v allocations per run, want 0", exact, doc, allocs)
			}
		}
	}
}
