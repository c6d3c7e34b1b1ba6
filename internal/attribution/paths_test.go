package attribution

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadPaths(t *testing.T) {
	in := "\xEF\xBB\xBFpath;total_conversions;total_conversion_value;total_null\r\n" +
		"C1 > C2 > C3;1;1000;0\r\n" +
		"\r\n" +
		"  Paid Search>Email  ;  0 ; 0 ;  2.5 \n" +
		"C1;0;0;1" // no final newline
	got, err := ReadPaths(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, []Path{
		{Channels: []string{"C1", "C2", "C3"}, Conversions: 1, Value: 1000},
		{Channels: []string{"Paid Search", "Email"}, Nulls: 2.5},
		{Channels: []string{"C1"}, Nulls: 1},
	}, got)
}

func TestReadPathsHeaderOnly(t *testing.T) {
	got, err := ReadPaths(strings.NewReader(PathHeader + "\n"))
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestReadPathsRenamedHeader(t *testing.T) {
	got, err := ReadPaths(strings.NewReader("journey;conv;revenue;lost\nA;1;2;3\n"))
	require.NoError(t, err)
	assert.Equal(t, []Path{{Channels: []string{"A"}, Conversions: 1, Value: 2, Nulls: 3}}, got)
}

func TestReadPathsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty input", "", "empty input"},
		{"no header", "A > B;1;10;0\n", "line 1: malformed path: want the header"},
		{"header with three fields", "path;conv;null\nA;1;1;1\n", "line 1: malformed path: want the header path;total_conversions;total_conversion_value;total_null, got 3 fields"},
		{"too few fields", PathHeader + "\nA > B;1;10;0\nA;1;0\n", "line 3: malformed path: want 4 fields"},
		{"too many fields", PathHeader + "\nA;1;0;0;0\n", "line 2: malformed path: want 4 fields"},
		{"empty path", PathHeader + "\n ;1;0;0\n", "line 2: malformed path: empty path"},
		{"empty channel", PathHeader + "\nA >  > B;1;0;0\n", `line 2: malformed path: empty channel at position 2 of "A >  > B"`},
		{"trailing separator", PathHeader + "\nA > ;1;0;0\n", "line 2: malformed path: empty channel at position 2"},
		{"negative conversions", PathHeader + "\nA;-1;0;0\n", `line 2: malformed path: total_conversions: "-1": not a finite, non-negative number`},
		{"text value", PathHeader + "\nA;1;ten;0\n", `line 2: malformed path: total_conversion_value: "ten"`},
		{"empty null", PathHeader + "\nA;1;0;\n", `line 2: malformed path: total_null: ""`},
		{"NaN", PathHeader + "\nA;NaN;0;0\n", `total_conversions: "NaN"`},
		{"infinity", PathHeader + "\nA;1;+Inf;0\n", `total_conversion_value: "+Inf"`},
		{"line number counts blank lines", PathHeader + "\n\n\nA;x;0;0\n", "line 4:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadPaths(strings.NewReader(tc.in))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformedPath)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestReadPathsLineTooLong(t *testing.T) {
	in := PathHeader + "\n" + strings.Repeat("A > ", maxPathLine/4+1) + "A;1;0;0\n"
	_, err := ReadPaths(strings.NewReader(in))
	require.ErrorIs(t, err, ErrMalformedPath)
	assert.Contains(t, err.Error(), "line 2:")
}

func TestReadPathsReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := ReadPaths(iotest.ErrReader(boom))
	assert.ErrorIs(t, err, boom)
}

func TestNewPathSetRefusesInvalidPaths(t *testing.T) {
	for _, p := range []Path{
		{},
		{Channels: []string{"A", ""}},
		{Channels: []string{"A"}, Conversions: -1},
		{Channels: []string{"A"}, Nulls: nan()},
	} {
		_, err := NewPathSet([]Path{{Channels: []string{"ok"}}, p})
		require.ErrorIs(t, err, ErrMalformedPath, "%+v", p)
		assert.Contains(t, err.Error(), "path 2")
	}
}
