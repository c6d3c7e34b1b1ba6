package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"testing"
)

type pair struct {
	URL      string `json:"url"`
	Referrer string `json:"referrer"`
}

// readMix loads the benchmark's realistic mix of landing URLs and referrers.
func readMix(tb testing.TB) []pair {
	tb.Helper()
	f, err := os.Open("testdata/detect/mix.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []pair
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p pair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			tb.Fatalf("mix.jsonl: %v", err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkDetect measures one detection (ns/op is per URL+referrer pair) over the mix.
func BenchmarkDetect(b *testing.B) {
	benchDetections(b, New(Options{InternalDomains: []string{"acme-crm.com"}}))
}

// benchDetections runs d over the mix, one pair per iteration, round and round.
func benchDetections(b *testing.B, d *Detector) {
	mix := readMix(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := mix[i]
		d.Detect(p.URL, p.Referrer)
		if i++; i == len(mix) {
			i = 0
		}
	}
}

// BenchmarkFilter measures the whole `attribution detect` path, JSON in and out, per
// line, over the mix repeated 50 times (about 22,000 lines, 2 MB), so that the
// buffers a run sets up once weigh as little as in a real run. -cpu 1,2 shows what
// the second core adds.
func BenchmarkFilter(b *testing.B) {
	mix, err := os.ReadFile("testdata/detect/mix.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat(mix, 50)
	lines := bytes.Count(data, []byte("\n"))
	d := New(Options{})
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := Filter(context.Background(), bytes.NewReader(data), io.Discard, d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}
