package canon

import (
	"fmt"
	"strings"
	"testing"
)

func expDocs() map[string][]byte {
	m := map[string][]byte{}
	m["A_bigstring"] = []byte(`"` + strings.Repeat("abcdefghij", 100) + `"`)
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < 100; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"abcdefgh"`)
	}
	b.WriteString("]")
	m["B_strings"] = []byte(b.String())
	b.Reset()
	b.WriteString("{")
	for i := 0; i < 50; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%03d":%d`, i, 1000+i)
	}
	b.WriteString("}")
	m["C_members"] = []byte(b.String())
	b.Reset()
	b.WriteString("{")
	for i := 49; i >= 0; i-- {
		if i < 49 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%03d":%d`, i, 1000+i)
	}
	b.WriteString("}")
	m["D_unsorted"] = []byte(b.String())
	b.Reset()
	b.WriteString("[")
	for i := 0; i < 100; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `%d`, 100000+i)
	}
	b.WriteString("]")
	m["E_ints"] = []byte(b.String())
	p, _ := AppendJSON(nil, apiPayload(1024))
	m["F_sorted"] = p
	m["G_unsorted"] = apiPayload(1024)
	return m
}
func BenchmarkExp(b *testing.B) {
	for name, doc := range expDocs() {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			var buf []byte
			for b.Loop() {
				buf, _ = AppendJSON(buf[:0], doc)
			}
		})
	}
}
