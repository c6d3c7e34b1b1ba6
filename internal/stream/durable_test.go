package stream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a consumer that keeps what it handled, per key, in delivery order.
type recorder struct {
	mu   sync.Mutex
	seen map[string][]string
	all  int
}

func (r *recorder) consumer(name string) Consumer {
	return Consumer{Name: name, Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.seen == nil {
			r.seen = map[string][]string{}
		}
		for _, rec := range ev.Records {
			key := rec.Change.NewImage["anonymousId"].String()
			r.seen[key] = append(r.seen[key], messageID(rec))
			r.all++
		}
		return events.DynamoDBEventResponse{}, nil
	}}
}

// blocked is a consumer that never finishes a batch until its context ends.
func blocked(name string) Consumer {
	return Consumer{Name: name, Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		<-ctx.Done()
		return events.DynamoDBEventResponse{}, ctx.Err()
	}}
}

// publishKeyed publishes n records over keys k0..k(keys-1), m0000 first, and returns
// the ids per key in publish order.
func publishKeyed(t *testing.T, em *Emulator, n, keys int) map[string][]string {
	t.Helper()
	want := map[string][]string{}
	for i := range n {
		key, id := fmt.Sprintf("k%d", i%keys), fmt.Sprintf("m%04d", i)
		want[key] = append(want[key], id)
		require.NoError(t, em.Publish("events", Item{Key: key, Item: item(id, key)}))
	}
	return want
}

func closeWithin(em *Emulator, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return em.Close(ctx)
}

func TestRecordsQueuedAtCloseAreDeliveredInOrderAfterRestart(t *testing.T) {
	dir := t.TempDir()
	em := newEmulator(t, EmulatorOptions{Dir: dir, Shards: 3, BatchSize: 5}, blocked("c"))
	want := publishKeyed(t, em, 200, 7)
	err := closeWithin(em, 50*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "200 stream records left for the next start")
	start := time.Now()
	assert.Equal(t, err, closeWithin(em, time.Minute), "closing again answers the same at once")
	assert.Less(t, time.Since(start), time.Second)

	var r recorder
	var images []map[string]types.AttributeValue
	record := r.consumer("c")
	em = newEmulator(t, EmulatorOptions{Dir: dir, Shards: 3, BatchSize: 5}, Consumer{Name: "c",
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			r.mu.Lock()
			for _, rec := range ev.Records {
				img, err := ToSDK(rec.Change.NewImage)
				require.NoError(t, err)
				images = append(images, img)
			}
			r.mu.Unlock()
			return record.Handler(ctx, ev)
		}})
	require.NoError(t, closeWithin(em, 10*time.Second))
	assert.Equal(t, want, r.seen, "every record, each key in publish order")
	for _, img := range images {
		id, key := img["messageId"].(*types.AttributeValueMemberS).Value, img["anonymousId"].(*types.AttributeValueMemberS).Value
		require.Equal(t, item(id, key), img, "the image read back from disk is the one published")
	}

	// Everything is checkpointed now: a third start delivers nothing again.
	var again recorder
	em = newEmulator(t, EmulatorOptions{Dir: dir, Shards: 3}, again.consumer("c"))
	require.NoError(t, closeWithin(em, 10*time.Second))
	assert.Zero(t, again.all)
}

func TestRestartWithOtherShardCountMissesNothing(t *testing.T) {
	dir := t.TempDir()
	var first recorder
	em := newEmulator(t, EmulatorOptions{Dir: dir, Shards: 2}, first.consumer("done"), blocked("late"))
	want := publishKeyed(t, em, 60, 5)
	require.Error(t, closeWithin(em, 50*time.Millisecond))

	var done, late recorder
	em = newEmulator(t, EmulatorOptions{Dir: dir, Shards: 5}, done.consumer("done"), late.consumer("late"))
	require.NoError(t, closeWithin(em, 10*time.Second))
	assert.Equal(t, want, late.seen)
	assert.Zero(t, done.all, "a consumer that had handled everything gets nothing again")
}

func TestHandledSegmentsAreDeletedAndSequenceNumbersGoOn(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	em := newEmulator(t, EmulatorOptions{Dir: dir, SegmentBytes: 2000, CheckpointEvery: time.Millisecond}, r.consumer("c"))
	publishKeyed(t, em, 100, 3)
	require.NoError(t, closeWithin(em, 10*time.Second))
	segs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)
	require.Len(t, segs, 1, "only the current segment outlives a checkpoint past everything")

	var seqs []string
	em = newEmulator(t, EmulatorOptions{Dir: dir}, Consumer{Name: "c", Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		for _, rec := range ev.Records {
			seqs = append(seqs, rec.Change.SequenceNumber)
		}
		return events.DynamoDBEventResponse{}, nil
	}})
	require.NoError(t, em.Publish("events", Item{Key: "k", Item: item("next", "k")}))
	require.NoError(t, closeWithin(em, 10*time.Second))
	assert.Equal(t, []string{fmt.Sprintf("%021d", 101)}, seqs, "numbering resumes after the last record")
}

func TestATornLastRecordIsDroppedAndTheRestReplayed(t *testing.T) {
	dir := t.TempDir()
	em := newEmulator(t, EmulatorOptions{Dir: dir}, blocked("c"))
	want := publishKeyed(t, em, 10, 2)
	require.Error(t, closeWithin(em, 20*time.Millisecond))
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	require.Len(t, segs, 1)
	f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"seq":11,"key":"k0","rec`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	var r recorder
	em = newEmulator(t, EmulatorOptions{Dir: dir}, r.consumer("c"))
	require.NoError(t, em.Publish("events", Item{Key: "k0", Item: item("after", "k0")}))
	require.NoError(t, closeWithin(em, 10*time.Second))
	want["k0"] = append(want["k0"], "after")
	assert.Equal(t, want, r.seen)
}

func TestOneProcessPerStreamDirectory(t *testing.T) {
	dir := t.TempDir()
	em := newEmulator(t, EmulatorOptions{Dir: dir})
	_, err := NewEmulator(quiet, EmulatorOptions{Dir: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in use by another process")
	require.NoError(t, closeWithin(em, time.Second))
}

// The child half of TestKilledProcessLosesNoRecord: publish, say so, then hang in the
// consumer until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("STREAM_TEST_CHILD_DIR"); dir != "" {
		n, _ := strconv.Atoi(os.Getenv("STREAM_TEST_CHILD_RECORDS"))
		em, err := NewEmulator(quiet, EmulatorOptions{Dir: dir, Shards: 2, BatchSize: 1, CheckpointEvery: time.Millisecond},
			Consumer{Name: "c", Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				// Handle the first few records, so the checkpoint moves, then hang.
				if messageID(ev.Records[0]) < "m0010" {
					return events.DynamoDBEventResponse{}, nil
				}
				select {}
			}})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		for i := range n {
			key, id := fmt.Sprintf("k%d", i%4), fmt.Sprintf("m%04d", i)
			if err := em.Publish("events", Item{Key: key, Item: item(id, key)}); err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
		}
		fmt.Println("published")
		select {}
	}
	os.Exit(m.Run())
}

func TestKilledProcessLosesNoRecord(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STREAM_TEST_CHILD_DIR="+dir, "STREAM_TEST_CHILD_RECORDS=300")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "published\n", line)
	time.Sleep(20 * time.Millisecond)      // let a checkpoint or two happen
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no deferred code, no Close
	var exit *exec.ExitError
	require.True(t, errors.As(cmd.Wait(), &exit))

	var r recorder
	em := newEmulator(t, EmulatorOptions{Dir: dir, Shards: 2}, r.consumer("c"))
	require.NoError(t, closeWithin(em, 10*time.Second))
	got := map[string]bool{}
	for key, ids := range r.seen {
		for i := 1; i < len(ids); i++ {
			assert.Less(t, ids[i-1], ids[i], "key %s in publish order", key)
		}
		for _, id := range ids {
			got[id] = true
		}
	}
	for i := 10; i < 300; i++ {
		assert.True(t, got[fmt.Sprintf("m%04d", i)], "m%04d delivered after the restart", i)
	}
}

func TestRedriveHandlesFailuresOnceAndKeepsWhatIsAppendedMeanwhile(t *testing.T) {
	failures := filepath.Join(t.TempDir(), "failures.jsonl")
	var down atomic.Bool
	down.Store(true)
	var r recorder
	ok := r.consumer("c")
	flaky := Consumer{Name: "c", Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if down.Load() {
			return events.DynamoDBEventResponse{}, errors.New("segment is down")
		}
		return ok.Handler(ctx, ev)
	}}
	em := newEmulator(t, EmulatorOptions{MaxAttempts: 2, Backoff: time.Millisecond, FailureLog: failures}, flaky)
	want := publishKeyed(t, em, 6, 2)
	require.NoError(t, closeWithin(em, 10*time.Second))
	require.Len(t, failureLines(t, failures), 6)

	res, err := RedriveFailures(context.Background(), quiet, failures, time.Second, flaky)
	require.NoError(t, err)
	assert.Equal(t, RedriveResult{Records: 6, Failed: 6}, res, "still down: everything stays")
	require.Len(t, failureLines(t, failures), 6)

	down.Store(false)
	// A record the stream gives up on while the redrive runs stays in the log.
	appended := false
	during := Consumer{Name: "c", Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if !appended {
			appended = true
			require.NoError(t, appendFailure(failures, []byte(`{"consumer":"other","attempts":8,"record":{}}`)))
		}
		return flaky.Handler(ctx, ev)
	}}
	res, err = RedriveFailures(context.Background(), quiet, failures, time.Second, during)
	require.NoError(t, err)
	assert.Equal(t, RedriveResult{Records: 6, Redriven: 6}, res)
	assert.Equal(t, want, r.seen)
	lines := failureLines(t, failures)
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `"other"`)

	res, err = RedriveFailures(context.Background(), quiet, failures, time.Second, flaky)
	require.NoError(t, err)
	assert.Equal(t, RedriveResult{Records: 1, Skipped: 1}, res, "a second run redrives nothing twice")
}

func TestTheStreamRedrivesItsFailuresOnceTheOutageIsOver(t *testing.T) {
	failures := filepath.Join(t.TempDir(), "failures.jsonl")
	var down atomic.Bool
	down.Store(true)
	var r recorder
	ok := r.consumer("c")
	em := newEmulator(t, EmulatorOptions{MaxAttempts: 2, Backoff: time.Millisecond, FailureLog: failures, Redrive: 10 * time.Millisecond, RedriveMax: 40 * time.Millisecond},
		Consumer{Name: "c", Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if down.Load() {
				return events.DynamoDBEventResponse{}, errors.New("segment is down")
			}
			return ok.Handler(ctx, ev)
		}})
	want := publishKeyed(t, em, 4, 2)
	require.NoError(t, em.Idle(context.Background()))
	require.Len(t, failureLines(t, failures), 4)
	time.Sleep(100 * time.Millisecond) // a few redrives fail meanwhile
	require.Len(t, failureLines(t, failures), 4)
	down.Store(false)
	require.Eventually(t, func() bool { return len(failureLines(t, failures)) == 0 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, closeWithin(em, 10*time.Second))
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Equal(t, want, r.seen)
}

func failureLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var lines []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}
