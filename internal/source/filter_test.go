package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
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
