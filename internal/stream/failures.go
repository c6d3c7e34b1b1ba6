package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/jsonl"
)

// Failure is one line of the failure log: a record a consumer gave up on.
type Failure struct {
	Consumer string                     `json:"consumer"`
	Attempts int                        `json:"attempts"`
	FailedAt time.Time                  `json:"failedAt"`
	Record   events.DynamoDBEventRecord `json:"record"`
}

// The failure log is shared by every process using the same data directory (serve,
// import, redrive), so each change to it holds an advisory lock on a sibling file: the
// log itself is replaced by rename and cannot carry the lock.
func lockFailures(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return lockFile(path+".lock", true)
}

func (e *Emulator) fail(consumer string, q queued, attempts int) error {
	e.log.Error("stream record given up after retries; sent to failure log",
		"consumer", consumer, "event_id", q.rec.EventID, "attempts", attempts, "failure_log", e.opts.FailureLog)
	if e.opts.FailureLog == "" {
		return nil
	}
	e.failMu.Lock()
	defer e.failMu.Unlock()
	line, err := json.Marshal(Failure{Consumer: consumer, Attempts: attempts, FailedAt: time.Now().UTC(), Record: q.rec})
	if err == nil {
		err = appendFailure(e.opts.FailureLog, line)
	}
	if err != nil {
		e.log.Error("write stream failure log", "path", e.opts.FailureLog, "err", err)
	}
	return err
}

// appendFailure adds a line to the failure log and fsyncs it: the stream checkpoints
// past a record only once it is here.
func appendFailure(path string, line []byte) error {
	unlock, err := lockFailures(path)
	if err != nil {
		return err
	}
	defer unlock()
	return jsonl.AppendSynced(path, line)
}

// RedriveResult is what a redrive of the failure log did.
type RedriveResult struct {
	Records  int `json:"records"`  // lines read
	Redriven int `json:"redriven"` // handled this time, and removed from the log
	Failed   int `json:"failed"`   // failed again, kept
	Skipped  int `json:"skipped"`  // unreadable or for a consumer not running here, kept
}

// RedriveFailures hands each record of the failure log at path to the consumer that
// gave up on it, once, in log order, in batches, and removes from the log the lines
// whose records were handled. It is safe while the stream appends to the log and while
// another redrive runs: lines are removed only after their record succeeded, by an
// atomic rewrite that keeps whatever was appended meanwhile; a record two redrives
// both handle is handled twice, which the consumers are built for.
func RedriveFailures(ctx context.Context, log *slog.Logger, path string, timeout time.Duration, consumers ...Consumer) (RedriveResult, error) {
	var res RedriveResult
	lines, err := readFailureLines(path)
	if err != nil || len(lines) == 0 {
		return res, err
	}
	res.Records = len(lines)
	byConsumer := map[string]*Consumer{}
	for i := range consumers {
		byConsumer[consumers[i].Name] = &consumers[i]
	}
	type entry struct {
		line []byte
		rec  events.DynamoDBEventRecord
	}
	work := map[string][]entry{}
	var order []string
	for _, line := range lines {
		var f Failure
		if err := json.Unmarshal(line, &f); err != nil || byConsumer[f.Consumer] == nil {
			res.Skipped++
			continue
		}
		if _, ok := work[f.Consumer]; !ok {
			order = append(order, f.Consumer)
		}
		work[f.Consumer] = append(work[f.Consumer], entry{line: line, rec: f.Record})
	}
	var handled [][]byte
	for _, name := range order {
		c := byConsumer[name]
		todo := work[name]
		for len(todo) > 0 {
			if err := ctx.Err(); err != nil {
				return res, errors.Join(fmt.Errorf("redrive: %w", err), removeFailureLines(path, handled))
			}
			// A batch stops before a repeated sequence number (two streams share the log),
			// since failures are reported by sequence number.
			n, seen := 0, map[string]bool{}
			for n < len(todo) && n < 100 && !seen[todo[n].rec.Change.SequenceNumber] {
				seen[todo[n].rec.Change.SequenceNumber] = true
				n++
			}
			batch := make([]events.DynamoDBEventRecord, n)
			for i := range n {
				batch[i] = todo[i].rec
			}
			failedFrom := Invoke(ctx, log, *c, batch, timeout)
			ok := n
			if failedFrom >= 0 {
				ok = failedFrom
			}
			for _, en := range todo[:ok] {
				handled = append(handled, en.line)
			}
			res.Redriven += ok
			if failedFrom < 0 {
				todo = todo[n:]
				continue
			}
			// Each record gets one delivery per redrive; the ones after it get theirs.
			res.Failed++
			todo = todo[failedFrom+1:]
		}
	}
	return res, removeFailureLines(path, handled)
}

// Invoke is one delivery of batch to c, as Lambda makes it (a panic is a failed
// invocation): the index of the first record c reported failed, or -1 when none was.
func Invoke(ctx context.Context, log *slog.Logger, c Consumer, batch []events.DynamoDBEventRecord, timeout time.Duration) int {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := safeInvoke(ctx, c, events.DynamoDBEvent{Records: batch})
	if err != nil {
		log.Error("stream consumer failed", "consumer", c.Name, "records", len(batch), "err", err)
		return 0
	}
	first := -1
	for _, f := range resp.BatchItemFailures {
		for i, rec := range batch {
			if rec.Change.SequenceNumber == f.ItemIdentifier && (first < 0 || i < first) {
				first = i
			}
		}
	}
	return first
}

func readFailureLines(path string) ([][]byte, error) {
	unlock, err := lockFailures(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read stream failure log: %w", err)
	}
	return splitLines(b), nil
}

func splitLines(b []byte) [][]byte {
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			lines = append(lines, bytes.Clone(line))
		}
	}
	return lines
}

// removeFailureLines rewrites the failure log without the given lines (each removed
// as many times as it is given), keeping every other line, including those appended
// since it was read.
func removeFailureLines(path string, remove [][]byte) error {
	if len(remove) == 0 {
		return nil
	}
	unlock, err := lockFailures(path)
	if err != nil {
		return err
	}
	defer unlock()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read stream failure log: %w", err)
	}
	drop := map[string]int{}
	for _, line := range remove {
		drop[string(line)]++
	}
	var keep bytes.Buffer
	for _, line := range splitLines(b) {
		if drop[string(line)] > 0 {
			drop[string(line)]--
			continue
		}
		keep.Write(line)
		keep.WriteByte('\n')
	}
	if err := writeFileAtomic(path, keep.Bytes()); err != nil {
		return fmt.Errorf("rewrite stream failure log: %w", err)
	}
	return nil
}

// redriveLoop re-drives the failure log in the background, so that records given up
// during an outage (Segment or DynamoDB down past the retries) are handled once it is
// over, without an operator.
func (e *Emulator) redriveLoop() {
	defer e.bg.Done()
	wait := e.opts.Redrive
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-time.After(wait):
		}
		res, err := RedriveFailures(e.ctx, e.log, e.opts.FailureLog, e.opts.Timeout, e.cons...)
		if err != nil && e.ctx.Err() == nil {
			e.log.Error("redrive stream failures", "path", e.opts.FailureLog, "err", err)
		}
		if res.Records > 0 {
			e.log.Info("stream failures re-driven", "path", e.opts.FailureLog, "redriven", res.Redriven, "failed", res.Failed, "skipped", res.Skipped)
		}
		if err != nil || res.Failed > 0 {
			wait = min(wait*2, e.opts.RedriveMax)
		} else {
			wait = e.opts.Redrive
		}
	}
}
