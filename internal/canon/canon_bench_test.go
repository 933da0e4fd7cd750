package canon

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gowebpki/jcs"
)

// BenchmarkKeyDerivation measures the bar: canonicalising a JSON
// body and hashing it must cost at most 3x hashing the raw bytes. Each
// size runs raw SHA-256 (the baseline), AppendJSON, and the two reference
// canonicalisers, each followed by SHA-256 of the canonical bytes.
func BenchmarkKeyDerivation(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}} {
		payload := apiPayload(size.bytes)
		if _, err := AppendJSON(nil, payload); err != nil {
			b.Fatalf("payload does not canonicalise: %v", err)
		}
		b.Run(size.name+"/sha256", func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				sha256.Sum256(payload)
			}
		})
		b.Run(size.name+"/AppendJSON+sha256", func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf, _ = AppendJSON(buf[:0], payload)
				sha256.Sum256(buf)
			}
		})
		if size.bytes <= 2<<10 {
			// Bodies that change from call to call: new values in the same
			// shape (one API call made again and again), and the same
			// values with members in new orders each time, so that no
			// remembered member order applies (the worst case).
			values := make([][]byte, 256)
			for k := range values {
				values[k] = apiPayloadSeed(size.bytes, uint64(k))
			}
			benchmarkVariants(b, size.name+"/AppendJSON+sha256-new-values", values)
			benchmarkVariants(b, size.name+"/AppendJSON+sha256-new-orders", shuffledMembers(b, payload, 256))
		}
		benchmarkLenPrefixed(b, size.name, payload)
		b.Run(size.name+"/jsontext+sha256", func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			var v jsontext.Value
			for b.Loop() {
				v = append(v[:0], payload...)
				if err := v.Canonicalize(); err != nil {
					b.Fatal(err)
				}
				sha256.Sum256(v)
			}
		})
		b.Run(size.name+"/jcs+sha256", func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := jcs.Transform(payload)
				if err != nil {
					b.Fatal(err)
				}
				sha256.Sum256(out)
			}
		})
	}
}

// benchmarkLenPrefixed measures the canonical form hashed behind its
// length, as key derivation hashes it: with AppendLenJSON, and with
// AppendJSON after a varint-sized slot that the length then replaces,
// moving the canonical form down (what a caller does without
// AppendLenJSON).
func benchmarkLenPrefixed(b *testing.B, size string, payload []byte) {
	for _, v := range []struct {
		name      string
		appendLen func(dst, src []byte) []byte
	}{
		{"AppendLenJSON+sha256", func(dst, src []byte) []byte { out, _ := AppendLenJSON(dst, src); return out }},
		{"slot+AppendJSON+move+sha256", appendLenByMove},
	} {
		b.Run(size+"/"+v.name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = v.appendLen(buf[:0], payload)
				sha256.Sum256(buf)
			}
		})
	}
}

// appendLenByMove is AppendLenJSON done with AppendJSON: the canonical form
// is written after a slot of the largest varint size, then moved down
// behind the length.
func appendLenByMove(dst, src []byte) []byte {
	var lb [binary.MaxVarintLen64]byte
	start := len(dst)
	out, _ := AppendJSON(append(dst, lb[:]...), src)
	n := len(out) - start - len(lb)
	w := binary.PutUvarint(lb[:], uint64(n))
	copy(out[start:], lb[:w])
	copy(out[start+w:], out[start+len(lb):])
	return out[:start+w+n]
}

// benchmarkVariants measures AppendJSON and SHA-256 over bodies taken in
// turn from variants.
func benchmarkVariants(b *testing.B, name string, variants [][]byte) {
	b.Run(name, func(b *testing.B) {
		b.SetBytes(int64(len(variants[0])))
		b.ReportAllocs()
		var buf []byte
		k := 0
		for b.Loop() {
			buf, _ = AppendJSON(buf[:0], variants[k%len(variants)])
			sha256.Sum256(buf)
			k++
		}
	})
}

// apiPayload returns compact JSON of at least size bytes shaped like what
// API clients send: a charge with nested objects (for about 1 KiB), or a
// list of such charges, and an email in the style of SendGrid's mail/send
// among them. Members are in the order an SDK's structs write them, not
// sorted. The content is pseudo-random from a fixed seed: the same on
// every run.
func apiPayload(size int) []byte { return apiPayloadSeed(size, 42) }

// apiPayloadSeed is apiPayload with other content for each seed.
func apiPayloadSeed(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(8785, seed))
	if size <= 2<<10 {
		return appendCharge(nil, rng, 0, size)
	}
	out := []byte(`{"object":"list","url":"/v1/charges","has_more":true,"data":[`)
	for i := 0; len(out) < size; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		if i%4 == 3 {
			out = appendMail(out, rng, i)
		} else {
			out = appendCharge(out, rng, i, 0)
		}
	}
	return append(out, "]}"...)
}

var (
	benchNames  = []string{"Jenny Rosen", "Zoë Müller", "José Núñez", "山田 太郎", "Oleksandr Kovalenko", "Amélie Poulain"}
	benchCities = []string{"San Francisco", "Berlin", "Kraków", "東京", "São Paulo", "Montréal"}
)

// appendCharge appends one charge-like object; with pad > 0 its metadata
// grows until the object is at least pad bytes.
func appendCharge(out []byte, rng *rand.Rand, i, pad int) []byte {
	start := len(out)
	name := benchNames[rng.IntN(len(benchNames))]
	amount := 100 + rng.IntN(100000)
	out = fmt.Appendf(out, `{"id":"ch_3N%016x","object":"charge","amount":%d,"amount_captured":%d,"amount_refunded":0,`, rng.Uint64(), amount, amount)
	out = fmt.Appendf(out, `"currency":"usd","customer":"cus_%014x","description":"Order #%d: %d x Widget \"Pro\"","livemode":false,`, rng.Uint64()>>8, 1000+i, 1+rng.IntN(9))
	out = fmt.Appendf(out, `"metadata":{"order_id":"%d","sku":"WID-%d","campaign":"spring-sale"},`, 6735+i, rng.IntN(100))
	out = fmt.Appendf(out, `"payment_method_details":{"type":"card","card":{"brand":"visa","last4":"%04d","exp_month":%d,"exp_year":%d,"funding":"credit","network":"visa","three_d_secure":null,"checks":{"cvc_check":"pass","address_line1_check":"pass","address_postal_code_check":"pass"}}},`, rng.IntN(10000), 1+rng.IntN(12), 2026+rng.IntN(6))
	out = fmt.Appendf(out, `"billing_details":{"name":%q,"email":"customer%d@example.com","phone":"+1415555%04d","address":{"line1":"%d Townsend St","line2":null,"city":%q,"state":"CA","postal_code":"%05d","country":"US"}},`, name, i, rng.IntN(10000), 1+rng.IntN(999), benchCities[rng.IntN(len(benchCities))], rng.IntN(100000))
	out = fmt.Appendf(out, `"outcome":{"network_status":"approved_by_network","risk_level":"normal","risk_score":%d,"seller_message":"Payment complete.","type":"authorized"},`, rng.IntN(100))
	out = fmt.Appendf(out, `"captured":true,"paid":true,"refunded":false,"disputed":false,"fraud_details":{},"application_fee_amount":null,`)
	out = fmt.Appendf(out, `"tax_rate":%s,"exchange_rate":%s,"created":%d,"tags":["priority","web",%q]}`,
		strconv.FormatFloat(float64(rng.IntN(2000))/100, 'f', -1, 64),
		strconv.FormatFloat(1+float64(rng.IntN(10000))/10000, 'f', -1, 64),
		1700000000+rng.IntN(10000000), strconv.Itoa(rng.IntN(50)))
	for k := 0; len(out)-start < pad; k++ {
		out = out[:len(out)-1]
		if k == 0 {
			out = append(out, `,"extra":{`...)
		} else {
			out = out[:len(out)-1]
			out = append(out, ',')
		}
		out = fmt.Appendf(out, `"note_%d":"value %d"}}`, k, rng.IntN(1000))
	}
	return out
}

// appendMail appends one email in the shape of SendGrid's mail/send body.
func appendMail(out []byte, rng *rand.Rand, i int) []byte {
	name := benchNames[rng.IntN(len(benchNames))]
	out = fmt.Appendf(out, `{"personalizations":[{"to":[{"email":"user%d@example.com","name":%q}],"subject":"Your receipt #%d","dynamic_template_data":{"total":%d.%02d,"items":%d}}],`, i, name, 1000+i, rng.IntN(500), rng.IntN(100), 1+rng.IntN(5))
	out = fmt.Appendf(out, `"from":{"email":"billing@example.com","name":"Example Billing"},"reply_to":{"email":"support@example.com"},`)
	out = fmt.Appendf(out, `"content":[{"type":"text/plain","value":"Hello %s,\n\nThanks for your order. Your total was $%d.%02d.\n\nThe Example team"}],`, name, rng.IntN(500), rng.IntN(100))
	out = fmt.Appendf(out, `"categories":["receipt","transactional"],"custom_args":{"order":"%d","attempt":"1"},"send_at":%d,"tracking_settings":{"click_tracking":{"enable":true,"enable_text":false},"open_tracking":{"enable":true}}}`, 6735+i, 1700000000+rng.IntN(1000000))
	return out
}

// shuffledMembers returns n copies of the JSON object doc, each with the
// members of each of its objects in a new random order.
func shuffledMembers(tb testing.TB, doc []byte, n int) [][]byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	variants := make([][]byte, n)
	for k := range variants {
		var err error
		if variants[k], err = shuffleValue(rng, doc); err != nil {
			tb.Fatal(err)
		}
	}
	return variants
}

// shuffleValue returns the JSON value v with the members of every object
// in it shuffled.
func shuffleValue(rng *rand.Rand, v []byte) ([]byte, error) {
	if kind := jsontext.Value(v).Kind(); kind != '{' && kind != '[' {
		return v, nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(v))
	open, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	var items [][]byte
	for dec.PeekKind() != ']' && dec.PeekKind() != '}' {
		var item []byte
		if open.Kind() == '{' {
			name, err := dec.ReadValue()
			if err != nil {
				return nil, err
			}
			item = append(append(item, name...), ':')
		}
		value, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		inner, err := shuffleValue(rng, bytes.Clone(value))
		if err != nil {
			return nil, err
		}
		items = append(items, append(item, inner...))
	}
	if open.Kind() == '{' {
		rng.Shuffle(len(items), func(a, b int) { items[a], items[b] = items[b], items[a] })
	}
	out := []byte{byte(open.Kind())}
	out = append(out, bytes.Join(items, []byte(","))...)
	return append(out, byte(open.Kind())+2), nil // '[' -> ']', '{' -> '}'
}
