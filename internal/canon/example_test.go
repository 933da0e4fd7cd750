package canon_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"mime/multipart"

	"github.com/idemhttp/idemhttp/internal/canon"
)

func ExampleAppendJSON() {
	a, _ := canon.AppendJSON(nil, []byte(`{"currency": "usd", "amount": 2000.0, "note": "caf\u00e9"}`))
	b, _ := canon.AppendJSON(nil, []byte(`{"amount":2e3,"note":"café","currency":"usd"}`))
	fmt.Println(string(a))
	fmt.Println(sha256.Sum256(a) == sha256.Sum256(b))
	// Output:
	// {"amount":2000,"currency":"usd","note":"café"}
	// true
}

func ExampleAppendJSON_reuse() {
	// A buffer reused across calls keeps key derivation allocation-free.
	var buf []byte
	for _, body := range []string{`{"b":1,"a":2}`, `[1e21, 1e-7, -0]`} {
		var err error
		if buf, err = canon.AppendJSON(buf[:0], []byte(body)); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(string(buf))
	}
	_, err := canon.AppendJSON(buf[:0], []byte(`{"a":1,"a":2}`))
	fmt.Println(err)
	// Output:
	// {"a":2,"b":1}
	// [1e+21,1e-7,0]
	// canon: input cannot be canonicalised: duplicate member name in the object at offset 0
}

func ExampleJSON() {
	// RFC 8785 writes numbers as doubles: these two customers look alike.
	for _, body := range []string{`{"customer_id":9007199254740993}`, `{"customer_id":9007199254740992}`, `{"customer_id":9007199254740993.0}`} {
		var rfc8785 canon.JSON
		exact := canon.JSON{Exact: true}
		a, _ := rfc8785.Append(nil, []byte(body))
		b, _ := exact.Append(nil, []byte(body))
		fmt.Println(string(a), string(b), exact.Lossy)
	}
	// Output:
	// {"customer_id":9007199254740992} {"customer_id":9007199254740993} true
	// {"customer_id":9007199254740992} {"customer_id":9007199254740992} false
	// {"customer_id":9007199254740992} {"customer_id":9007199254740993} true
}

func ExampleAppendPointer() {
	body := []byte(`{"personalizations":[{"to":[{"email":"a@example.com"}]}],"subject":"Welcome","text":"Hello!"}`)
	for _, ptr := range []string{"/personalizations/0/to", "/subject", "/missing"} {
		out, found, err := canon.AppendPointer(nil, body, ptr)
		fmt.Printf("%s %v %s %v\n", ptr, found, out, err)
	}
	// Output:
	// /personalizations/0/to true [{"email":"a@example.com"}] <nil>
	// /subject true "Welcome" <nil>
	// /missing false  <nil>
}

func ExampleAppendForm() {
	a, _ := canon.AppendForm(nil, []byte("amount=2000&currency=usd&expand[]=customer&expand[]=invoice"))
	b, _ := canon.AppendForm(nil, []byte("expand%5B%5D=customer&currency=usd&expand%5B%5D=invoice&amount=2000"))
	fmt.Println(bytes.Equal(a, b))
	fmt.Printf("%q\n", a)
	// Output:
	// true
	// "\x04\x06amount\x042000\bcurrency\x03usd\bexpand[]\bcustomer\bexpand[]\ainvoice"
}

func ExampleAppendFormField() {
	out, found, _ := canon.AppendFormField(nil, []byte("to=a%40example.com&subject=Hi&to=b%40example.com"), "to")
	fmt.Printf("%v %q\n", found, out)
	// Output:
	// true "\x02\ra@example.com\rb@example.com"
}

func ExampleAppendMultipart() {
	encode := func(boundary string) []byte {
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		_ = w.SetBoundary(boundary)
		_ = w.WriteField("subject", "Hi")
		_ = w.Close()
		out, err := canon.AppendMultipart(nil, w.FormDataContentType(), body.Bytes())
		if err != nil {
			panic(err)
		}
		return out
	}
	a, b := encode("random-1"), encode("random-2")
	fmt.Println(bytes.Equal(a, b))
	fmt.Printf("%q\n", a)
	// Output:
	// true
	// "\x01\asubject\x00\x00\x02Hi"
}

func ExampleAppendLen() {
	// Length prefixes keep "ab"+"c" and "a"+"bc" apart.
	x := canon.AppendLen(canon.AppendLen(nil, []byte("ab")), []byte("c"))
	y := canon.AppendLen(canon.AppendLen(nil, []byte("a")), []byte("bc"))
	fmt.Printf("%q %q\n", x, y)
	// Output:
	// "\x02ab\x01c" "\x01a\x02bc"
}
