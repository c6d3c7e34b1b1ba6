package event

import (
	"bytes"
	"fmt"
	"testing"
)

func BenchmarkParseBody(b *testing.B) {
	page := readTestdata(b, "page.json")
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if _, err := ParseBody(page); err != nil {
				b.Fatal(err)
			}
		}
	})
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i := range MaxBatch {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(bytes.Replace(page, []byte(`"messageId": "ajs-next-`), fmt.Appendf(nil, `"messageId": "%d-`, i), 1))
	}
	buf.WriteByte(']')
	batch := buf.Bytes()
	b.Run("batch4000", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(batch)))
		for b.Loop() {
			if _, err := ParseBody(batch); err != nil {
				b.Fatal(err)
			}
		}
	})
}
