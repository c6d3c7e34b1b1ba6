package source

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodingJSON is how the filter encoded before appendDescription, the reference.
func encodingJSON(t testing.TB, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		"", "plain", `"quoted" \back\slash/`, "<b>&amp;</b>", "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f",
		"é日本語😀", "\u2028\u2029", "a\xffb", "\xc3\x28", "\xed\xa0\x80", "\xf0\x9f\x98", "\xe2\x80", "\xef\xbf\xbd",
	}
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "x"+string([]byte{byte(c)})+"y")
	}
	for _, s := range cases {
		assert.Equal(t, encodingJSON(t, s), string(appendString(nil, s)), "%q", s)
	}
}

// TestAppendDescriptionCoversEveryField fails when Description, Referrer or Campaign
// gains a field that appendDescription does not write, or writes differently.
func TestAppendDescriptionCoversEveryField(t *testing.T) {
	var fill func(v reflect.Value, prefix string)
	fill = func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			f := v.Field(i)
			name := prefix + v.Type().Field(i).Name
			switch f.Kind() {
			case reflect.String:
				f.SetString(name + " <&> \u2028")
			case reflect.Struct:
				fill(f, name+".")
			case reflect.Pointer:
				f.Set(reflect.New(f.Type().Elem()))
				fill(f.Elem(), name+".")
			default:
				t.Fatalf("%s: appendDescription writes only strings, structs and pointers to them, not %s", name, f.Kind())
			}
		}
	}
	var full Description
	fill(reflect.ValueOf(&full).Elem(), "")
	for _, d := range []Description{full, {}, {Campaign: &Campaign{}}, {Campaign: &Campaign{Term: "t"}}, {Referrer: Referrer{Type: TypeLink, Link: "l"}}} {
		assert.Equal(t, encodingJSON(t, d), string(appendDescription(nil, &d)))
	}
	assert.Equal(t, encodingJSON(t, refErrorLine{"line 3: invalid character '\\x01' \"<>&\""}),
		string(appendErrorLine(nil, "line 3: invalid character '\\x01' \"<>&\"")))
}

// FuzzAppendDescription checks the encoder against encoding/json on descriptions
// Detect makes and on arbitrary strings in every field.
func FuzzAppendDescription(f *testing.F) {
	f.Add("https://www.example.org/?utm_source=a%E2%80%A8&utm_term=%FF%00", "https://www.google.com/search?q=%22x%22", "\xff\u2029<>&\\")
	f.Add("", "", "")
	d := New(Options{})
	f.Fuzz(func(t *testing.T, pageURL, referrer, s string) {
		desc := d.Detect(pageURL, referrer)
		if got, want := string(appendDescription(nil, &desc)), encodingJSON(t, desc); got != want {
			t.Fatalf("Detect(%q, %q):\n got %s\nwant %s", pageURL, referrer, got, want)
		}
		odd := Description{
			Referrer: Referrer{Type: Type(s), Engine: s, Query: pageURL, Network: referrer, From: s, Link: s},
			Campaign: &Campaign{Medium: s, Content: referrer},
			Channel:  s,
		}
		if got, want := string(appendDescription(nil, &odd)), encodingJSON(t, odd); got != want {
			t.Fatalf("%+v:\n got %s\nwant %s", odd, got, want)
		}
	})
}

// fastLineSeeds are lines the fast path takes or must refuse; FuzzFastLine starts from them.
var fastLineSeeds = []string{
	`{"url":"https://www.example.org/","referrer":"https://www.google.com/"}`,
	` { "url" : "https://a.example/" , "referrer" : null } `,
	`{"URL":"a","url":"b","Referrer":"c","REFERRER":null}`,
	`{"referrer":"","extra":"x","url":"日本"}`,
	`{}`, `{ }`, `{"":""}`, `{"url":"a\u2028"}`, `{"url":"a\/b"}`, `{"url":"` + "\xff" + `"}`,
	`{"url":"` + "\u2028" + `"}`, `{"url":"a","url":1}`, `{"url":"a",}`, `{"url":"a"}x`, `{"url":nul}`,
	`{"url":nullx}`, `{"ur\u006c":"x"}`, "{\"\u212aey\":\"x\"}", "{\"url\":\"a\tb\"}", `{"a":{"url":"x"}}`,
	`{"url":"x"` + "\r", "\t{\"url\":\"x\"}\r", `[{"url":"x"}]`, `"url"`, `{"url":"x","referrer":"y"}{}`,
	`{"url":"a\u0026b\/c","referrer":"\ud83d\ude00\u00E9"}`, `{"url":"\ud800\udc00\udc00"}`, `{"url":"\`,
	`{"url":"\"\\\b\f\n\r\t\u0000","referrer":"\uDBFF\uDFFF"}`, `{"url":"\u12"}`, `{"url":"\u12G4"}`,
	`{"ts":-1.5e+3,"ok":true,"n":null,"o":{"a":[1,{"b":"c\u0041\ud800"}],"url":"x"},"url":"u","e":[[],{}],"f":0.25E-2}`,
	`{"x":01}`, `{"x":1.}`, `{"x":1e+}`, `{"x":-0}`, `{"x":[1,]}`, `{"x":{"a"}}`, `{"x":{1:2}}`, `{"x":"\q"}`, `{"x":[[[[[]]]]]}`,
}

// FuzzFastLine checks that whenever the fast path answers, encoding/json answers the
// same. (TestFilterGolden and FuzzFilter check the lines it leaves to the full decoder.)
func FuzzFastLine(f *testing.F) {
	for _, s := range fastLineSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var scratch []byte
		pageURL, referrer, ok := fastLine(line, &scratch)
		if !ok {
			return
		}
		var in lineInput
		if err := json.Unmarshal(bytes.TrimSpace(line), &in); err != nil {
			t.Fatalf("fast path took %q, encoding/json refuses it: %v", line, err)
		}
		u, err := optionalString(in.URL)
		if err != nil {
			t.Fatalf("fast path took %q, url: %v", line, err)
		}
		ref, err := optionalString(in.Referrer)
		if err != nil {
			t.Fatalf("fast path took %q, referrer: %v", line, err)
		}
		if u != string(pageURL) || ref != string(referrer) {
			t.Fatalf("%q: fast path read (%q, %q), encoding/json (%q, %q)", line, pageURL, referrer, u, ref)
		}
	})
}

// TestFastLineTakesTheCommonLines checks that the fast path is taken where it should
// be: every line of the mix as json.Marshal writes it, and escapes.
func TestFastLineTakesTheCommonLines(t *testing.T) {
	for _, p := range readMix(t) {
		line, err := json.Marshal(map[string]string{"url": p.URL, "referrer": p.Referrer})
		require.NoError(t, err)
		if !utf8.ValidString(p.URL + p.Referrer) {
			continue // json.Marshal changes these
		}
		var scratch []byte
		u, ref, ok := fastLine(line, &scratch)
		if assert.True(t, ok, "%s", line) {
			assert.Equal(t, p.URL, string(u))
			assert.Equal(t, p.Referrer, string(ref))
		}
	}
	for line, want := range map[string][2]string{
		`{"url":"a\u0026b\/c\"d\\e\u00e9\ud83d\ude00\b\f\n\r\t","referrer":"\u2028"}`: {"a&b/c\"d\\e\u00e9\U0001F600\b\f\n\r\t", "\u2028"},
		`{"url":"\u00","url":"x"}`: {}, // not an escape: the full decoder's error
		`{"url":"a","x":[]}`:       {"a", ""},
		`{"ts":-1.5e+3,"ok":true,"no":false,"n":null,"o":{"a":[1,{"b":"c\u0041\ud800"}],"url":"x"},"url":"u","e":[[],{}],"z":0,"f":0.25E-2}`: {"u", ""},
	} {
		var scratch []byte
		u, ref, ok := fastLine([]byte(line), &scratch)
		assert.Equal(t, want != [2]string{}, ok, "%s", line)
		assert.Equal(t, want, [2]string{string(u), string(ref)}, "%s", line)
	}
	deep := `{"url":"x","d":` + strings.Repeat("[", maxSkipDepth) + strings.Repeat("]", maxSkipDepth) + `}`
	for _, line := range []string{`{"url":1}`, `{"ur\u006c":"x"}`, "{\"u\u0280l\":\"x\"}", deep,
		`{"x":01}`, `{"x":1.}`, `{"x":.5}`, `{"x":1e}`, `{"x":1e+}`, `{"x":-}`, `{"x":tru}`, `{"x":[1,]}`, `{"x":{"a"}}`,
		`{"x":{1:2}}`, `{"x":"\q"}`, `{"x":"\u12"}`, `{"x":[}`, `{"x":{"a":1,}}`, `{"x":+1}`, `{"x":NaN}`,
		`{"url":"\ud800"}`, `{"url":"\udc00\ud800"}`, `{"url":"\ud800\u0041"}`, `{"url":"\'"}`, `{"url":"\x41"}`} {
		var scratch []byte
		_, _, ok := fastLine([]byte(line), &scratch)
		assert.False(t, ok, "%s is for the full decoder", line)
	}
}

// TestSpecial8NeverMisses puts every byte scanString must stop at in every place of a
// word of plain bytes (each plain byte as the filler): special8 must see it.
func TestSpecial8NeverMisses(t *testing.T) {
	for fill := range 256 {
		if !plainByte[fill] {
			continue
		}
		var w [8]byte
		for i := range w {
			w[i] = byte(fill)
		}
		for c := range 256 {
			if plainByte[c] {
				continue
			}
			for pos := range w {
				w[pos] = byte(c)
				if !special8(binary.LittleEndian.Uint64(w[:])) {
					t.Fatalf("special8 missed %#x at %d among %q", c, pos, rune(fill))
				}
				w[pos] = byte(fill)
			}
		}
		if special8(binary.LittleEndian.Uint64(w[:])) {
			t.Errorf("eight %q: special8 sends plain bytes to the slow loop", rune(fill))
		}
	}
}
