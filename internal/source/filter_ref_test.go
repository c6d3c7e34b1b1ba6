package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// referenceFilter is Filter as it was before its fast path and parallel pipeline:
// encoding/json both ways, one line at a time. It is kept, unchanged, as the oracle the
// golden files are written from and the fuzz tests compare Filter with, so "the same
// bytes as before" stays checkable after the rules change.
func referenceFilter(ctx context.Context, r io.Reader, w io.Writer, d *Detector) error {
	if d == nil {
		d = defaultDetector
	}
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // URLs are full of & < >; escaping them helps no reader here
	var line []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		var tooLong bool
		var err error
		line, tooLong, err = refReadLine(br, line[:0])
		if err == io.EOF && len(line) == 0 && !tooLong {
			break
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read line %d: %w", n, err)
		}
		var out any
		if tooLong {
			out = refErrorLine{fmt.Sprintf("line %d: longer than %d bytes", n, MaxLineBytes)}
		} else if desc, perr := refDetectLine(d, line); perr != nil {
			out = refErrorLine{fmt.Sprintf("line %d: %v", n, perr)}
		} else {
			out = desc
		}
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("write line %d: %w", n, err)
		}
		if err == io.EOF {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

type refErrorLine struct {
	Error string `json:"error"`
}

// readLine appends the next line (without its "\n" or "\r\n") to buf. Past
// MaxLineBytes it stops keeping bytes but reads on to the end of the line, so the next
// line starts where it should; memory stays bounded either way.
func refReadLine(br *bufio.Reader, buf []byte) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxLineBytes+2 { // +2: the line ending is not content
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		if !tooLong && len(buf) > MaxLineBytes {
			tooLong, buf = true, buf[:0]
		}
		if err == io.EOF && (len(buf) > 0 || tooLong) {
			return buf, tooLong, io.EOF
		}
		return buf, tooLong, err
	}
}

type refLineInput struct {
	URL      json.RawMessage `json:"url"`
	Referrer json.RawMessage `json:"referrer"`
}

var errRefNotObject = errors.New("not a JSON object")

func refDetectLine(d *Detector, line []byte) (Description, error) {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 {
		return Description{}, errors.New("empty line")
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return Description{}, errors.New("invalid JSON")
		}
		return Description{}, errRefNotObject
	}
	var in refLineInput
	if err := json.Unmarshal(trimmed, &in); err != nil {
		return Description{}, fmt.Errorf("invalid JSON: %v", err)
	}
	u, err := refOptionalString(in.URL)
	if err != nil {
		return Description{}, fmt.Errorf("url: %w", err)
	}
	ref, err := refOptionalString(in.Referrer)
	if err != nil {
		return Description{}, fmt.Errorf("referrer: %w", err)
	}
	return d.Detect(u, ref), nil
}

// optionalString reads a JSON string, treating a missing value or null as "".
func refOptionalString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] != '"' {
		return "", errors.New("not a string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}
