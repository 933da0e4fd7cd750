package canon
import ("testing";"github.com/gowebpki/jcs";"bytes")
func TestQuick(t *testing.T) {
	for name, doc := range expDocs() {
		got, err := AppendJSON(nil, doc)
		want, jerr := jcs.Transform(doc)
		if err != nil || jerr != nil || !bytes.Equal(got, want) { t.Errorf("%s: %v %v\n%s\n%s", name, err, jerr, got, want) }
	}
	p := apiPayload(1<<20)
	got, err := AppendJSON(nil, p)
	want, jerr := jcs.Transform(p)
	if err != nil || jerr != nil || !bytes.Equal(got, want) { t.Errorf("1MiB: %v %v", err, jerr) }
}
