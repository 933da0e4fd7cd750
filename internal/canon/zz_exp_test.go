package canon
import ("testing")
func BenchmarkExpSorted(b *testing.B) {
	p, _ := AppendJSON(nil, apiPayload(1024))
	b.SetBytes(int64(len(p)))
	var buf []byte
	for b.Loop() { buf, _ = AppendJSON(buf[:0], p) }
}
func BenchmarkExpUnsorted(b *testing.B) {
	p := apiPayload(1024)
	b.SetBytes(int64(len(p)))
	var buf []byte
	for b.Loop() { buf, _ = AppendJSON(buf[:0], p) }
}
