package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runFilter(t *testing.T, in string) []string {
	t.Helper()
	var out bytes.Buffer
	if err := Filter(context.Background(), strings.NewReader(in), &out, New(Options{})); err != nil {
		t.Fatalf("Filter: %v", err)
	}
	s := strings.TrimSuffix(out.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestFilter(t *testing.T) {
	in := strings.Join([]string{
		`{"url": "https://www.example.org/", "referrer": "https://www.google.com/"}`,
		`{"url": "https://www.example.org/", "referrer": null}`,
		`{"url": "https://www.example.org/"}`,
		`{"url": null, "referrer": ""}`,
		`{}`,
		`not json`,
		``,
		`   `,
		`[1,2]`,
		`"a string"`,
		`null`,
		`{"url": 42}`,
		`{"url": "https://www.example.org/", "referrer": {"a": 1}}`,
		`{"url": "https://www.example.org/?utm_source=chatgpt.com", "referrer": "", "extra": true}`,
		`{"url": "https://www.example.org/", "referrer": "https://t.co/"}` + "\r",
		`{"url": "https://www.example.org/", "referrer": "https://l.facebook.com/"`,
	}, "\n")
	want := []string{
		`{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`,
		`{"referrer":{"type":"direct"},"channel":"Direct"}`,
		`{"referrer":{"type":"direct"},"channel":"Direct"}`,
		`{"referrer":{"type":"direct"},"channel":"Direct"}`,
		`{"referrer":{"type":"direct"},"channel":"Direct"}`,
		`{"error":"line 6: invalid JSON"}`,
		`{"error":"line 7: empty line"}`,
		`{"error":"line 8: empty line"}`,
		`{"error":"line 9: not a JSON object"}`,
		`{"error":"line 10: not a JSON object"}`,
		`{"error":"line 11: not a JSON object"}`,
		`{"error":"line 12: url: not a string"}`,
		`{"error":"line 13: referrer: not a string"}`,
		`{"referrer":{"type":"ai","assistant":"chatgpt"},"campaign":{"source":"chatgpt.com"},"channel":"AI Assistants"}`,
		`{"referrer":{"type":"social","network":"twitter"},"channel":"Organic Social"}`,
		`{"error":"line 16: invalid JSON: unexpected end of JSON input"}`,
	}
	got := runFilter(t, in)
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
	}
}

func TestFilterEmptyInput(t *testing.T) {
	if got := runFilter(t, ""); len(got) != 0 {
		t.Errorf("got %q, want no output", got)
	}
	if got := runFilter(t, "\n"); len(got) != 1 {
		t.Errorf("one blank line: got %q, want one error line", got)
	}
}

func TestFilterLongLine(t *testing.T) {
	long := `{"url": "https://www.example.org/?q=` + strings.Repeat("x", MaxLineBytes) + `"}`
	fits := `{"url": "https://www.example.org/?q=` + strings.Repeat("x", MaxLineBytes-100) + `", "referrer": "https://www.bing.com/"}`
	in := long + "\n" + `{"referrer": "https://t.co/"}` + "\n" + fits + "\n" + long
	got := runFilter(t, in)
	if len(got) != 4 {
		t.Fatalf("got %d lines, want 4", len(got))
	}
	if !strings.Contains(got[0], `"error":"line 1: longer than`) || !strings.Contains(got[3], `"error":"line 4: longer than`) {
		t.Errorf("long lines: got %.100s / %.100s", got[0], got[3])
	}
	if got[1] != `{"referrer":{"type":"social","network":"twitter"},"channel":"Organic Social"}` {
		t.Errorf("line after a long line: got %s", got[1])
	}
	if !strings.Contains(got[2], `"engine":"bing"`) {
		t.Errorf("line just under the limit: got %.100s", got[2])
	}
}

func TestFilterMatchesDetect(t *testing.T) {
	data := readMix(t)
	var in bytes.Buffer
	for _, p := range data {
		b, _ := json.Marshal(map[string]string{"url": p.URL, "referrer": p.Referrer})
		in.Write(b)
		in.WriteByte('\n')
	}
	got := runFilter(t, in.String())
	if len(got) != len(data) {
		t.Fatalf("got %d lines, want %d", len(got), len(data))
	}
	d := New(Options{})
	for i, p := range data {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d.Detect(p.URL, p.Referrer)); err != nil {
			t.Fatal(err)
		}
		if got[i] != strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("line %d out of order or wrong:\n got %s\nwant %s", i+1, got[i], want.String())
		}
	}
}

func TestFilterStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Filter(ctx, strings.NewReader("{}\n"), io.Discard, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFilterReportsWriteErrors(t *testing.T) {
	in := strings.Repeat(`{"url": "https://www.example.org/"}`+"\n", 5000)
	if err := Filter(context.Background(), strings.NewReader(in), failingWriter{}, nil); err == nil {
		t.Error("write failure not reported")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestFilterReportsReadErrors(t *testing.T) {
	err := Filter(context.Background(), bufio.NewReader(failingReader{}), io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("got %v, want the read error", err)
	}
}

// filterBoth runs Filter and the encoding/json filter it replaced over the same input.
func filterBoth(t *testing.T, in []byte, wrap func(io.Reader) io.Reader) (got, want []byte) {
	t.Helper()
	var g, w bytes.Buffer
	if err := Filter(context.Background(), wrap(bytes.NewReader(in)), &g, nil); err != nil {
		t.Fatalf("Filter: %v", err)
	}
	if err := referenceFilter(context.Background(), bytes.NewReader(in), &w, nil); err != nil {
		t.Fatalf("referenceFilter: %v", err)
	}
	return g.Bytes(), w.Bytes()
}

func noWrap(r io.Reader) io.Reader { return r }

// TestFilterMatchesReference covers what the golden files cannot hold: lines around
// MaxLineBytes, line endings that meet batch and buffer edges, input arriving a byte or
// a few bytes at a time, and one to four cores.
func TestFilterMatchesReference(t *testing.T) {
	edge, err := os.ReadFile("testdata/filter/edge.jsonl")
	require.NoError(t, err)
	mix, err := os.ReadFile("testdata/detect/mix.jsonl")
	require.NoError(t, err)
	urlOf := func(n int) string {
		return `{"url":"https://x.example/?q=` + strings.Repeat("a", n) + `","referrer":"https://t.co/"}`
	}
	pad := len(urlOf(0))
	// Lines of exactly MaxLineBytes and one byte more, with each line ending.
	var long bytes.Buffer
	for _, n := range []int{MaxLineBytes - pad, MaxLineBytes - pad + 1} {
		for _, end := range []string{"\n", "\r\n", "\r\r\n"} {
			long.WriteString(urlOf(n) + end)
		}
	}
	long.WriteString("\n" + strings.Repeat(" ", MaxLineBytes+1) + "\r")
	got, want := filterBoth(t, long.Bytes(), noWrap)
	t.Run("long", func(t *testing.T) { assertSameLines(t, got, want) })

	many := bytes.Repeat(append(append([]byte(nil), mix...), edge...), 12) // more batches than are in flight
	inputs := map[string][]byte{
		"many":          many,
		"cr before lf":  []byte("{\"url\":\"a\"}\r\r\n\n\r\n{}\r\r\n" + urlOf(MaxLineBytes) + "\n\r\n"),
		"no final line": []byte("{}\n{}"),
	}
	for _, procs := range []int{1, 2, 4} {
		prev := runtime.GOMAXPROCS(procs)
		for name, in := range inputs {
			got, want := filterBoth(t, in, noWrap)
			t.Run(fmt.Sprintf("%s/%d cores", name, procs), func(t *testing.T) { assertSameLines(t, got, want) })
		}
		runtime.GOMAXPROCS(prev)
	}
	for name, wrap := range map[string]func(io.Reader) io.Reader{"one byte": iotest.OneByteReader, "half": iotest.HalfReader, "data with EOF": iotest.DataErrReader} {
		in := append(append([]byte(nil), edge...), mix[:4000]...)
		got, want := filterBoth(t, in, wrap)
		t.Run(name, func(t *testing.T) { assertSameLines(t, got, want) })
	}
}

// FuzzFilter feeds whole inputs of many lines to Filter and to the encoding/json
// filter it replaced: the bytes must be the same.
func FuzzFilter(f *testing.F) {
	edge, err := os.ReadFile("testdata/filter/edge.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for _, chunk := range bytes.SplitAfter(edge, []byte("\n")) {
		if len(chunk) < 1000 {
			f.Add(chunk)
		}
	}
	f.Add([]byte(strings.Join(fastLineSeeds, "\n")))
	f.Add([]byte("{\"url\":\"a\"}\r\r\n\n\r\n{}\r"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, want := filterBoth(t, in, noWrap)
		assertSameLines(t, got, want)
	})
}

// TestFilterAnswersEachLineBeforeTheNext is the interactive use: a person or a
// program writes a line and waits for its answer before writing the next.
func TestFilterAnswersEachLineBeforeTheNext(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Filter(context.Background(), inR, outW, nil)
		outW.Close()
	}()
	answers := make(chan string)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			answers <- sc.Text()
		}
		close(answers)
	}()
	next := func() string {
		t.Helper()
		select {
		case a := <-answers:
			return a
		case <-time.After(10 * time.Second):
			t.Fatal("no answer within 10 s: the filter holds answers back until more input comes")
			return ""
		}
	}
	write := func(s string) {
		t.Helper()
		_, err := io.WriteString(inW, s)
		require.NoError(t, err)
	}
	twitter := `{"referrer":{"type":"social","network":"twitter"},"channel":"Organic Social"}`
	google := `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`
	for i := range 3 {
		write(`{"referrer": "https://t.co/"}` + "\n")
		assert.Equal(t, twitter, next())
		write("not json\n")
		assert.Equal(t, fmt.Sprintf(`{"error":"line %d: invalid JSON"}`, 2*i+2), next())
	}
	// A whole line is answered even when half of the next came with it; the half
	// line is answered once it ends.
	write(`{"referrer": "https://t.co/"}` + "\n" + `{"referrer": "https://www.goo`)
	assert.Equal(t, twitter, next())
	select {
	case a := <-answers:
		t.Fatalf("answer %s before its line ended", a)
	case <-time.After(50 * time.Millisecond):
	}
	write("gle.com/\"}\n" + `{"referrer": "https://t.co/"}` + "\n")
	assert.Equal(t, google, next())
	assert.Equal(t, twitter, next())
	require.NoError(t, inW.Close())
	require.NoError(t, <-done)
	_, more := <-answers
	assert.False(t, more)
}
