package source

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/filter/*.golden.jsonl from referenceFilter (the encoding/json filter), never from Filter")

// TestFilterGolden pins the filter's bytes: the realistic mix, and edge cases (errors,
// nulls, escapes, unicode, U+2028, HTML characters, invalid UTF-8, CRLF, blank lines,
// duplicate and case-folded keys, extra and nested fields, a long line). The golden
// files are what the encoding/json filter wrote; after a rules change, rewrite them
// with -update, which runs referenceFilter, so they keep meaning "as before".
func TestFilterGolden(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"edge", "testdata/filter/edge.jsonl"},
		{"mix", "testdata/detect/mix.jsonl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.ReadFile(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "filter", tc.name+".golden.jsonl")
			var ref bytes.Buffer
			if err := referenceFilter(context.Background(), bytes.NewReader(in), &ref, New(Options{})); err != nil {
				t.Fatalf("referenceFilter: %v", err)
			}
			if *update {
				if err := os.WriteFile(golden, ref.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ref.Bytes(), want) {
				t.Fatalf("referenceFilter no longer writes %s (rules changed? run go test -run TestFilterGolden -update)", golden)
			}
			var got bytes.Buffer
			if err := Filter(context.Background(), bytes.NewReader(in), &got, New(Options{})); err != nil {
				t.Fatalf("Filter: %v", err)
			}
			assertSameLines(t, got.Bytes(), want)
		})
	}
}

// assertSameLines reports the first line where got and want differ.
func assertSameLines(t *testing.T, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	g, w := bytes.SplitAfter(got, []byte("\n")), bytes.SplitAfter(want, []byte("\n"))
	for i := 0; i < len(g) && i < len(w); i++ {
		if !bytes.Equal(g[i], w[i]) {
			t.Fatalf("line %d differs:\n got %.300q\nwant %.300q", i+1, g[i], w[i])
		}
	}
	t.Fatalf("got %d lines, want %d", len(g), len(w))
}
