package importer

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// MaxLine is the longest line read: the webhook's body limit, so any body POST /events
// accepts fits on one line. Longer lines are rejected without being held in memory.
const MaxLine = 8 << 20

// Source is one archive to import.
type Source struct {
	Name string // in rejects and logs; "-" is stdin
	Size int64  // bytes on disk (compressed for gzip), or -1 when unknown
	Open func() (io.ReadCloser, error)
}

// File is the source for path; "-" is stdin. It checks the file can be opened now, so a
// typo fails the import before anything is written.
func File(path string) (Source, error) {
	if path == "-" {
		size := int64(-1)
		if fi, err := os.Stdin.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		return Source{Name: "-", Size: size, Open: func() (io.ReadCloser, error) { return io.NopCloser(os.Stdin), nil }}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Source{}, fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Source{}, fmt.Errorf("stat archive %s: %w", path, err)
	}
	if fi.IsDir() {
		return Source{}, fmt.Errorf("archive %s is a directory", path)
	}
	size := int64(-1)
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return Source{Name: path, Size: size, Open: func() (io.ReadCloser, error) { return os.Open(path) }}, nil
}

// lines reads a source line by line, gunzipping when the content starts with gzip's
// magic bytes (archives are often named .json but gzipped, or the reverse).
type lines struct {
	br  *bufio.Reader
	gz  *gzip.Reader
	raw io.Closer
}

func openLines(src Source, counter *atomic.Int64) (*lines, error) {
	rc, err := src.Open()
	if err != nil {
		return nil, fmt.Errorf("open archive %s: %w", src.Name, err)
	}
	// Count bytes as they come off the file, before decompression, so progress compares
	// like with like against the files' sizes.
	br := bufio.NewReaderSize(&countingReader{r: rc, n: counter}, 256<<10)
	l := &lines{br: br, raw: rc}
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		rc.Close()
		return nil, fmt.Errorf("read archive %s: %w", src.Name, err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		// gzip.Reader reads concatenated members too, as `cat a.gz b.gz` produces.
		if l.gz, err = gzip.NewReader(br); err != nil {
			rc.Close()
			return nil, fmt.Errorf("read gzip archive %s: %w", src.Name, err)
		}
		l.br = bufio.NewReaderSize(l.gz, 256<<10)
	}
	return l, nil
}

// next returns the next line without its newline, in a fresh slice the caller owns.
// tooLong is set for a line over MaxLine, whose content is dropped. err is io.EOF after
// the last line.
func (l *lines) next() (line []byte, tooLong bool, err error) {
	for {
		frag, err := l.br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(frag) > MaxLine+1 {
				tooLong, line = true, nil
			} else {
				line = append(line, frag...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil:
			return line, tooLong, nil
		case errors.Is(err, io.EOF):
			if len(line) == 0 && !tooLong {
				return nil, false, io.EOF
			}
			return line, tooLong, nil // a last line without newline
		default:
			return nil, false, err
		}
	}
}

func (l *lines) Close() error {
	if l.gz != nil {
		l.gz.Close()
	}
	return l.raw.Close()
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
