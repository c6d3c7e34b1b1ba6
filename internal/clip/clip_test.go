package clip

import (
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		s     string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc…"},
		{"ééé", 3, "é…"}, // 'é' is 2 bytes: byte 3 is inside the second one
		{"ééé", 4, "éé…"},
		{"abc", 0, "…"},
		{"abc", -1, "…"},
	} {
		got := String(tc.s, tc.limit)
		if got != tc.want {
			t.Errorf("String(%q, %d) = %q, want %q", tc.s, tc.limit, got, tc.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("String(%q, %d) = %q is not valid UTF-8", tc.s, tc.limit, got)
		}
	}
}
