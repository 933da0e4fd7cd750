package entrycodec_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/entrycodec"
)

func ExampleAppend() {
	stored := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &cache.Entry{
		Status:   http.StatusCreated,
		Header:   http.Header{"Content-Type": {"application/json"}},
		Body:     []byte(`{"id":"ch_1"}`),
		StoredAt: stored,
	}
	b := entrycodec.Append(nil, e, time.Now())
	got, err := entrycodec.Decode(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.Status, got.Header.Get("Content-Type"), string(got.Body), got.StoredAt)
	// Output: 201 application/json {"id":"ch_1"} 2026-01-02 03:04:05 +0000 UTC
}

func ExampleAppendHeader() {
	// A store keeping the header in a column of its own, behind a format
	// byte of its own.
	const format = 1
	b := entrycodec.AppendHeader([]byte{format}, http.Header{"Vary": {"Accept", "Origin"}})
	h, err := entrycodec.DecodeHeader(b[1:])
	fmt.Println(h["Vary"], err)
	// Output: [Accept Origin] <nil>
}

func ExampleDecode_corrupt() {
	_, err := entrycodec.Decode([]byte{1, 0, 0xff})
	fmt.Println(err)
	// Output: entrycodec: corrupt encoding: truncated or overlong varint
}
