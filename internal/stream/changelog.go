package stream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// changeLog is the local stream's memory across stops and crashes, as DynamoDB Streams
// keeps a table's changes: an append-only sequence of segment files of JSON lines, one
// per published record, and a checkpoint file saying, per consumer and shard, up to
// which sequence number every record has been handled (or sent to the failure log).
//
// Fsync policy: a record is fsynced before Publish returns (concurrent publishers share
// one fsync), so a webhook that answered 2xx never loses its record to a crash. The
// checkpoint is written every few seconds and at Close, always after the work it
// records: a crash replays at most that much again, which the consumers handle
// idempotently. Segments every consumer is past are deleted when the checkpoint is.
//
// A zero changeLog (no directory) keeps nothing: the in-memory mode tests may use.
type changeLog struct {
	dir          string
	segmentBytes int64
	unlock       func()

	mu       sync.Mutex // the current segment and what was written to it
	cur      *os.File
	curFirst int64 // first sequence number of cur
	curSize  int64
	written  int64 // last sequence number written to cur
	segments []int64

	syncMu sync.Mutex
	synced int64
}

// logLine is one record as kept on disk: key decides its shard on replay.
type logLine struct {
	Seq    int64                      `json:"seq"`
	Key    string                     `json:"key"`
	Record events.DynamoDBEventRecord `json:"record"`
}

// checkpoints is the checkpoint file: per consumer, per shard, the sequence number up
// to which every record of that shard is done.
type checkpoints struct {
	LastSeq   int64              `json:"lastSeq"`
	Shards    int                `json:"shards"`
	Consumers map[string][]int64 `json:"consumers"`
}

const checkpointFile = "checkpoints.json"

// openChangeLog locks dir for this process and reads back what it holds: the records in
// sequence order and the last checkpoint.
func openChangeLog(dir string, segmentBytes int64) (*changeLog, []logLine, checkpoints, error) {
	l := &changeLog{dir: dir, segmentBytes: segmentBytes}
	var cp checkpoints
	if dir == "" {
		return l, nil, cp, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, cp, fmt.Errorf("stream log %s: %w", dir, err)
	}
	unlock, err := lockFile(filepath.Join(dir, "lock"), false)
	if err != nil {
		return nil, nil, cp, fmt.Errorf("stream log %s is in use by another process: %w", dir, err)
	}
	l.unlock = unlock
	fail := func(err error) (*changeLog, []logLine, checkpoints, error) {
		unlock()
		return nil, nil, cp, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, checkpointFile)); err == nil {
		if err := json.Unmarshal(b, &cp); err != nil {
			return fail(fmt.Errorf("stream checkpoints %s: %w", dir, err))
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fail(fmt.Errorf("stream checkpoints %s: %w", dir, err))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fail(fmt.Errorf("stream log %s: %w", dir, err))
	}
	for _, e := range entries {
		if first, ok := strings.CutSuffix(e.Name(), ".log"); ok {
			if n, err := strconv.ParseInt(first, 10, 64); err == nil {
				l.segments = append(l.segments, n)
			}
		}
	}
	slices.Sort(l.segments)
	var lines []logLine
	for i, first := range l.segments {
		last := i == len(l.segments)-1
		got, size, err := readSegment(l.segmentPath(first), last)
		if err != nil {
			return fail(err)
		}
		lines = append(lines, got...)
		if last {
			f, err := os.OpenFile(l.segmentPath(first), os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return fail(fmt.Errorf("stream log: %w", err))
			}
			l.cur, l.curFirst, l.curSize = f, first, size
		}
	}
	l.written = cp.LastSeq
	if n := len(lines); n > 0 {
		l.written = max(l.written, lines[n-1].Seq)
	}
	l.synced = l.written
	return l, lines, cp, nil
}

func (l *changeLog) segmentPath(first int64) string {
	return filepath.Join(l.dir, fmt.Sprintf("%020d.log", first))
}

// readSegment reads a segment's records. In the last segment a line cut short by a
// crash is the end of the log: it is truncated away (its publisher never got an answer).
func readSegment(path string, last bool) ([]logLine, int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read stream log: %w", err)
	}
	var lines []logLine
	var good int64
	r := bufio.NewReader(bytes.NewReader(b))
	for {
		raw, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a partial line without its newline was never acknowledged
		}
		var ln logLine
		if jerr := json.Unmarshal(raw, &ln); jerr != nil || ln.Seq <= 0 {
			if last {
				break // garbage a crash left at the end of the log
			}
			return nil, 0, fmt.Errorf("read stream log %s at byte %d: unreadable record", path, good)
		}
		lines = append(lines, ln)
		good += int64(len(raw))
	}
	if last && good < int64(len(b)) {
		if err := os.Truncate(path, good); err != nil {
			return nil, 0, fmt.Errorf("truncate torn stream log record: %w", err)
		}
	}
	return lines, good, nil
}

// append writes one record to the current segment, starting a new segment when the
// current one is full. It does not fsync: sync does, for every publisher at once.
func (l *changeLog) append(ln logLine) error {
	if l.dir == "" {
		return nil
	}
	b, err := json.Marshal(ln)
	if err != nil {
		return fmt.Errorf("encode stream record %d: %w", ln.Seq, err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur == nil || l.curSize >= l.segmentBytes {
		if err := l.roll(ln.Seq); err != nil {
			return err
		}
	}
	if _, err := l.cur.Write(b); err != nil {
		return fmt.Errorf("append stream record %d: %w", ln.Seq, err)
	}
	l.curSize += int64(len(b))
	l.written = ln.Seq
	return nil
}

// roll closes the current segment, fsynced, and starts one whose first record is first.
func (l *changeLog) roll(first int64) error {
	if l.cur != nil {
		if err := l.cur.Sync(); err != nil {
			return fmt.Errorf("sync stream log: %w", err)
		}
		if err := l.cur.Close(); err != nil {
			return fmt.Errorf("close stream log: %w", err)
		}
		l.cur = nil
	}
	f, err := os.OpenFile(l.segmentPath(first), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start stream log segment: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.cur, l.curFirst, l.curSize = f, first, 0
	l.segments = append(l.segments, first)
	return nil
}

// sync makes every record up to seq durable. Whoever fsyncs covers everyone who wrote
// before it, so concurrent publishers share one fsync.
func (l *changeLog) sync(seq int64) error {
	if l.dir == "" {
		return nil
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.synced >= seq {
		return nil
	}
	l.mu.Lock()
	f, upTo := l.cur, l.written
	l.mu.Unlock()
	// A segment closed meanwhile was fsynced by roll.
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("sync stream log: %w", err)
	}
	l.synced = max(l.synced, upTo)
	return nil
}

// checkpoint records cp durably and deletes the segments every consumer is past.
func (l *changeLog) checkpoint(cp checkpoints) error {
	if l.dir == "" {
		return nil
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(l.dir, checkpointFile), b); err != nil {
		return fmt.Errorf("write stream checkpoints: %w", err)
	}
	done := cp.LastSeq
	for _, shards := range cp.Consumers {
		for _, s := range shards {
			done = min(done, s)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// A segment ends where the next begins; the current one is never deleted, so the
	// sequence numbers go on from its last record after a restart.
	for len(l.segments) > 1 && l.segments[1]-1 <= done {
		if err := os.Remove(l.segmentPath(l.segments[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("delete stream log segment: %w", err)
		}
		l.segments = l.segments[1:]
	}
	return nil
}

func (l *changeLog) close() error {
	if l.dir == "" {
		return nil
	}
	defer l.unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur == nil {
		return nil
	}
	err := l.cur.Sync()
	if cerr := l.cur.Close(); err == nil {
		err = cerr
	}
	l.cur = nil
	return err
}

// writeFileAtomic replaces path with b: readers see the old content or the new, never
// a mix, even across a crash.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a file's creation, rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
