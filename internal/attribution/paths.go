package attribution

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Path is one journey, or many identical ones: the channels touched in order, and how
// many people who took it converted (with the value they brought) and how many did not.
// Counts are float64 because the ChannelAttribution format allows weighted counts.
type Path struct {
	Channels    []string `json:"path"`
	Conversions float64  `json:"conversions"`
	Value       float64  `json:"value"`
	Nulls       float64  `json:"nulls"`
}

// ErrMalformedPath is returned (wrapped, with the line number and the reason) for a line
// of a path file that cannot be read, and for a Path that no model can use.
var ErrMalformedPath = errors.New("malformed path")

// PathHeader is the header line of the ChannelAttribution path format.
const PathHeader = "path;total_conversions;total_conversion_value;total_null"

const (
	pathFieldSeparator   = ";"
	pathChannelSeparator = ">"
	// pathJoiner is how channels are joined when a path is written out.
	pathJoiner = " > "
	// maxPathLine bounds one line, so a file that is not a path file (or has no
	// newlines) fails with a line number instead of filling memory.
	maxPathLine = 4 << 20
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ReadPaths reads the ChannelAttribution path format: a header line, then one
// `path;total_conversions;total_conversion_value;total_null` per line with the channels
// joined by " > ". Spaces around channels and counts are ignored, as are CRLF line
// endings, a UTF-8 byte order mark and blank lines. A line that cannot be read is an
// error naming its line number: a missing or extra field, an empty path or an empty
// channel in it, a count that is not a finite, non-negative number. The first line
// must be a header: a file that starts with data would otherwise lose its first path.
func ReadPaths(r io.Reader) ([]Path, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxPathLine)
	var (
		paths  []Path
		line   int
		header bool
	)
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if line == 1 {
			text = bytes.TrimPrefix(text, utf8BOM)
		}
		s := strings.TrimSpace(string(text))
		if s == "" {
			continue
		}
		if !header {
			if err := checkPathHeader(s); err != nil {
				return nil, fmt.Errorf("read paths: line %d: %w", line, err)
			}
			header = true
			continue
		}
		p, err := parsePathLine(s)
		if err != nil {
			return nil, fmt.Errorf("read paths: line %d: %w", line, err)
		}
		paths = append(paths, p)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("read paths: line %d: %w: longer than %d bytes", line+1, ErrMalformedPath, maxPathLine)
		}
		return nil, fmt.Errorf("read paths: line %d: %w", line+1, err)
	}
	if !header {
		return nil, fmt.Errorf("read paths: %w: empty input, want the header %s", ErrMalformedPath, PathHeader)
	}
	return paths, nil
}

// checkPathHeader accepts any header of four fields (ChannelAttribution users rename
// columns) but refuses a first line that reads as a path with counts.
func checkPathHeader(s string) error {
	fields := strings.Split(s, pathFieldSeparator)
	if len(fields) != 4 {
		return fmt.Errorf("%w: want the header %s, got %d fields", ErrMalformedPath, PathHeader, len(fields))
	}
	if _, err := parsePathLine(s); err == nil {
		return fmt.Errorf("%w: want the header %s first, got a path", ErrMalformedPath, PathHeader)
	}
	return nil
}

func parsePathLine(s string) (Path, error) {
	// Counting first and splitting into an array keeps 100,000 lines from allocating
	// 100,000 field slices.
	if n := strings.Count(s, pathFieldSeparator) + 1; n != 4 {
		return Path{}, fmt.Errorf("%w: want 4 fields separated by %q (path;conversions;value;nulls), got %d", ErrMalformedPath, pathFieldSeparator, n)
	}
	var fields [4]string
	rest := s
	for i := range 3 {
		fields[i], rest, _ = strings.Cut(rest, pathFieldSeparator)
	}
	fields[3] = rest
	channels, err := parseChannels(fields[0])
	if err != nil {
		return Path{}, err
	}
	p := Path{Channels: channels}
	for i, dst := range []*float64{&p.Conversions, &p.Value, &p.Nulls} {
		name := [...]string{"total_conversions", "total_conversion_value", "total_null"}[i]
		v, err := parseCount(strings.TrimSpace(fields[i+1]))
		if err != nil {
			return Path{}, fmt.Errorf("%w: %s: %w", ErrMalformedPath, name, err)
		}
		*dst = v
	}
	return p, nil
}

func parseChannels(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty path", ErrMalformedPath)
	}
	parts := strings.Split(s, pathChannelSeparator)
	for i, c := range parts {
		c = strings.TrimSpace(c)
		if c == "" {
			return nil, fmt.Errorf("%w: empty channel at position %d of %q", ErrMalformedPath, i+1, s)
		}
		parts[i] = c
	}
	return parts, nil
}

var errCount = errors.New("not a finite, non-negative number")

func parseCount(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%q: %w", s, errCount)
	}
	return v, nil
}

// validate holds a Path built in code to what ReadPaths would accept.
func (p *Path) validate() error {
	if len(p.Channels) == 0 {
		return fmt.Errorf("%w: empty path", ErrMalformedPath)
	}
	for i, c := range p.Channels {
		if c == "" {
			return fmt.Errorf("%w: empty channel at position %d", ErrMalformedPath, i+1)
		}
	}
	for _, v := range []float64{p.Conversions, p.Value, p.Nulls} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("%w: count %v: %w", ErrMalformedPath, v, errCount)
		}
	}
	return nil
}

// String writes the path's channels as the path format joins them.
func (p *Path) String() string {
	return strings.Join(p.Channels, pathJoiner)
}
