package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

// MaxLineBytes is the longest input line Filter reads; a longer one gets an error line.
// Browsers cap URLs far below this, so a longer line is garbage, and the cap keeps
// Filter's memory constant whatever it is fed.
const MaxLineBytes = 1 << 20

// Filter is the `attribution detect` command: for each JSON Lines input
// {"url": "...", "referrer": "..."} (either may be null, missing or "") it writes the
// Description as one JSON line, in input order. A line that is not a JSON object with
// string-or-null url and referrer, a blank line, or one longer than MaxLineBytes gets
// {"error": "..."} instead, so output line N always answers input line N.
//
// Lines are read in batches that workers on every core describe while the next batch
// is read; batches are written in input order. A batch ends, and is flushed once
// written, whenever no whole line more is buffered, so a pipe sees answers promptly
// and a file is written in large blocks. Memory stays bounded: a fixed number
// of batches is in flight. Filter returns an error only when reading or writing fails
// or ctx ends.
func Filter(ctx context.Context, r io.Reader, w io.Writer, d *Detector) error {
	if d == nil {
		d = defaultDetector
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	workers := runtime.GOMAXPROCS(0)
	// Two batches per worker keeps every worker busy while the writer waits for the
	// oldest one; the free list bounds memory.
	inFlight := 2*workers + 2
	free := make(chan *batch, inFlight)
	for range inFlight {
		free <- &batch{done: make(chan struct{}, 1)}
	}
	work := make(chan *batch, inFlight)
	ordered := make(chan *batch, inFlight)

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range work {
				b.describe(d)
				b.done <- struct{}{}
			}
		})
	}
	written := make(chan error, 1)
	go func() {
		written <- writeBatches(bufio.NewWriterSize(w, filterBufferBytes), ordered, free, stop)
	}()

	readErr := readBatches(ctx, bufio.NewReaderSize(r, filterBufferBytes), free, work, ordered)
	close(work)
	close(ordered)
	writeErr := <-written
	wg.Wait()
	if writeErr != nil {
		return writeErr // the reader may have stopped only because the writer did
	}
	return readErr
}

const (
	// filterBufferBytes sizes the reader and the writer: large blocks, few system calls.
	filterBufferBytes = 256 << 10
	// batchBytes closes a batch: large enough that handing it over costs nothing next
	// to describing it, small enough that both cores get work from one buffer of input.
	batchBytes = 64 << 10
)

// batch is a run of consecutive input lines and, once described, their output.
type batch struct {
	first int // number of its first line, from 1
	in    []byte
	lines []lineSpan
	out   []byte
	// scratch holds the line's unquoted strings when they had escapes.
	scratch []byte
	flush   bool          // no whole line was left buffered: flush once this is written
	done    chan struct{} // receives once out is ready
}

// lineSpan is a line's place in batch.in, without its line ending.
type lineSpan struct {
	start, end int
	tooLong    bool
}

func (b *batch) reset(first int) {
	b.first, b.flush = first, false
	// One huge line should not keep its memory for the rest of the run.
	if cap(b.in) > 4*batchBytes {
		b.in = nil
	}
	if cap(b.out) > 8*batchBytes {
		b.out = nil
	}
	if cap(b.scratch) > 4*batchBytes {
		b.scratch = nil
	}
	b.in, b.lines, b.out = b.in[:0], b.lines[:0], b.out[:0]
}

// readBatches reads lines into free batches and hands each to the workers and, in
// order, to the writer.
func readBatches(ctx context.Context, br *bufio.Reader, free <-chan *batch, work, ordered chan<- *batch) error {
	n := 1
	for {
		var b *batch
		select {
		case b = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.reset(n)
		eof, err := b.fill(br)
		n += len(b.lines)
		if len(b.lines) > 0 {
			work <- b
			ordered <- b
		} else {
			b.flush = true
			b.done <- struct{}{} // nothing to describe, but the writer still flushes
			ordered <- b
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", n, err)
		}
		if eof {
			return nil
		}
	}
}

// fill reads lines until the batch is full, the input holds no whole line more (the
// next read could wait for a person typing) or the input ends.
func (b *batch) fill(br *bufio.Reader) (eof bool, err error) {
	for len(b.in) < batchBytes {
		start := len(b.in)
		var tooLong bool
		b.in, tooLong, err = readLine(br, b.in, start)
		if err == io.EOF && len(b.in) == start && !tooLong {
			return true, nil
		}
		if err != nil && err != io.EOF {
			b.in = b.in[:start]
			return false, err
		}
		b.lines = append(b.lines, lineSpan{start: start, end: len(b.in), tooLong: tooLong})
		if err == io.EOF {
			return true, nil
		}
		if !lineBuffered(br) {
			b.flush = true
			return false, nil
		}
	}
	return false, nil
}

// lineBuffered reports whether a whole line waits in br, so that reading it cannot
// block. Looking only for an empty buffer would hold back the answers to the lines
// before a half-written one until its writer finished it.
func lineBuffered(br *bufio.Reader) bool {
	p, _ := br.Peek(br.Buffered())
	return bytes.IndexByte(p, '\n') >= 0
}

// describe writes the batch's answers into b.out.
func (b *batch) describe(d *Detector) {
	for i, ln := range b.lines {
		n := b.first + i
		if ln.tooLong {
			b.out = appendErrorLine(b.out, fmt.Sprintf("line %d: longer than %d bytes", n, MaxLineBytes))
		} else if desc, err := detectLine(d, b.in[ln.start:ln.end], &b.scratch); err != nil {
			b.out = appendErrorLine(b.out, fmt.Sprintf("line %d: %v", n, err))
		} else {
			b.out = appendDescription(b.out, &desc)
		}
		b.out = append(b.out, '\n')
	}
}

// writeBatches writes the batches in the order they were read. After a write fails it
// stops the reader and keeps taking batches, so nothing waits on it, and returns the
// failure.
func writeBatches(bw *bufio.Writer, ordered <-chan *batch, free chan<- *batch, stop func()) error {
	var err error
	for b := range ordered {
		<-b.done
		if err == nil {
			if _, err = bw.Write(b.out); err == nil && b.flush {
				err = bw.Flush()
			}
			if err != nil {
				err = fmt.Errorf("write: %w", err)
				stop()
			}
		}
		free <- b
	}
	if err == nil {
		if err = bw.Flush(); err != nil {
			err = fmt.Errorf("write: %w", err)
		}
	}
	return err
}

// readLine appends the next line (without its "\n" or "\r\n") to buf, whose bytes
// before start belong to earlier lines. Past MaxLineBytes it stops keeping bytes but
// reads on to the end of the line, so the next line starts where it should; memory
// stays bounded either way.
func readLine(br *bufio.Reader, buf []byte, start int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)-start+len(chunk) > MaxLineBytes+2 { // +2: the line ending is not content
				tooLong, buf = true, buf[:start]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line := bytes.TrimSuffix(buf[start:], []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		buf = buf[:start+len(line)] // never trimming into the line before
		if !tooLong && len(buf)-start > MaxLineBytes {
			tooLong, buf = true, buf[:start]
		}
		if err == io.EOF && (len(buf) > start || tooLong) {
			return buf, tooLong, io.EOF
		}
		return buf, tooLong, err
	}
}

type lineInput struct {
	URL      json.RawMessage `json:"url"`
	Referrer json.RawMessage `json:"referrer"`
}

var errNotObject = errors.New("not a JSON object")

func detectLine(d *Detector, line []byte, scratch *[]byte) (Description, error) {
	*scratch = (*scratch)[:0] // the line before is written: its strings are dead
	if pageURL, referrer, ok := fastLine(line, scratch); ok {
		// The strings share the batch's bytes instead of copying them, two allocations
		// a line fewer: the description made from them is encoded before the batch or
		// scratch is reused, and a Detector keeps nothing it is given.
		return d.Detect(bytesString(pageURL), bytesString(referrer)), nil
	}
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 {
		return Description{}, errors.New("empty line")
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return Description{}, errors.New("invalid JSON")
		}
		return Description{}, errNotObject
	}
	var in lineInput
	if err := json.Unmarshal(trimmed, &in); err != nil {
		return Description{}, fmt.Errorf("invalid JSON: %v", err)
	}
	u, err := optionalString(in.URL)
	if err != nil {
		return Description{}, fmt.Errorf("url: %w", err)
	}
	ref, err := optionalString(in.Referrer)
	if err != nil {
		return Description{}, fmt.Errorf("referrer: %w", err)
	}
	return d.Detect(u, ref), nil
}

// optionalString reads a JSON string, treating a missing value or null as "".
func optionalString(raw json.RawMessage) (string, error) {
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

// bytesString is b as a string without a copy; b must not change while the string lives.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
