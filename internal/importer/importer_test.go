package importer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/importer"
	"github.com/attribution-dev/attribution/internal/store"
)

var fastBackoff = store.Backoff{Attempts: 3, Base: time.Millisecond, Max: 10 * time.Millisecond}

// TestImportArchive imports 50,000 lines with 1% broken ones and repeats and checks the
// exact counts and the set of stored messageIds.
func TestImportArchive(t *testing.T) {
	n := 50_000
	if testing.Short() {
		n = 5_000
	}
	db, tables := dbtest.New(t)
	a := genArchive(n, "p")
	var rejects bytes.Buffer

	start := time.Now()
	sum, err := importer.Run(context.Background(), importer.Options{Events: store.NewEvents(db, tables.Events), Rejects: &rejects},
		[]importer.Source{importer.Bytes("archive.jsonl", a.data)})
	require.NoError(t, err)
	t.Logf("import of %d lines: %s (%.0f events/s)", n, time.Since(start), sum.EventsPerSecond)
	assert.Equal(t, int64(a.read), sum.Read)
	assert.Equal(t, int64(n), sum.Lines)
	assert.Equal(t, int64(a.stored), sum.Stored)
	assert.Equal(t, int64(a.duplicates), sum.Duplicates)
	assert.Equal(t, int64(a.rejects), sum.Rejected)
	assert.Equal(t, int64(len(a.data)), sum.Bytes)
	assert.Contains(t, sum.Text(), fmt.Sprintf("rejected %d", a.rejects))
	assert.Equal(t, a.rejects, strings.Count(rejects.String(), "\n"))
	assert.Equal(t, sorted(a.ids), scanIDs(t, db, tables.Events))
}

// TestImportTwice: the second import stores nothing, changes no item, and derives
// everything again in file order per visitor (the consumers are idempotent; this is
// what makes an interrupted import whole on rerun).
func TestImportTwice(t *testing.T) {
	db, tables := dbtest.New(t)
	evs := store.NewEvents(db, tables.Events)
	a := genArchive(5_000, "t")
	rec := newRecorder()
	em := newEmulator(t, rec.consumer())
	src := []importer.Source{importer.Bytes("archive.jsonl", a.data)}
	ctx := context.Background()

	sum, err := importer.Run(ctx, importer.Options{Events: evs, Derive: em}, src)
	require.NoError(t, err)
	assert.Equal(t, int64(a.stored), sum.Stored)
	assert.Equal(t, a.stored, rec.count, "every stored event derived once")
	for key, ids := range rec.byKey {
		for i := 1; i < len(ids); i++ {
			require.Less(t, seqOf(t, ids[i-1]), seqOf(t, ids[i]), "visitor %s derived out of file order", key)
		}
	}
	items := scanAll(t, db, tables.Events)

	again, err := importer.Run(ctx, importer.Options{Events: evs, Derive: em}, src)
	require.NoError(t, err)
	assert.Equal(t, int64(0), again.Stored)
	assert.Equal(t, int64(a.stored+a.duplicates), again.Duplicates)
	assert.Equal(t, int64(a.rejects), again.Rejected)
	assert.Equal(t, 2*a.stored, rec.count)
	assert.Equal(t, items, scanAll(t, db, tables.Events))
}

// TestImportInterruptedAndRerun cancels an import halfway and checks the rerun ends
// exactly where a clean import does.
func TestImportInterruptedAndRerun(t *testing.T) {
	db := dbtest.Client(t)
	clean, interrupted := dbtest.Tables(t, db), dbtest.Tables(t, db)
	a := genArchive(6_000, "i")
	src := []importer.Source{importer.Bytes("archive.jsonl", a.data)}
	ctx := context.Background()

	_, err := importer.Run(ctx, importer.Options{Events: store.NewEvents(db, clean.Events)}, src)
	require.NoError(t, err)

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cancelledAt atomic.Int64
	partial, err := importer.Run(cctx, importer.Options{
		Events:        store.NewEvents(db, interrupted.Events),
		Workers:       4,
		ProgressEvery: time.Millisecond,
		Progress: func(p importer.Progress) {
			if p.Stored >= 1_500 && cancelledAt.Load() == 0 {
				cancelledAt.Store(p.Stored)
				cancel()
			}
		},
	}, src)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	require.NotZero(t, cancelledAt.Load(), "the import finished before it could be interrupted")
	assert.Less(t, partial.Stored, int64(a.stored), "interrupted import stored everything")
	t.Logf("interrupted after %d stored; partial summary: %s", cancelledAt.Load(), partial.Text())

	rerun, err := importer.Run(ctx, importer.Options{Events: store.NewEvents(db, interrupted.Events)}, src)
	require.NoError(t, err)
	// Writes in flight at the cancel may land without being counted, so the two counts
	// add up to at most the total; the table comparison is what proves nothing was lost.
	assert.LessOrEqual(t, partial.Stored+rerun.Stored, int64(a.stored))
	assert.Equal(t, int64(a.stored), rerun.Stored+rerun.Duplicates-int64(a.duplicates),
		"every event not stored by the rerun was stored before it")
	assert.Equal(t, int64(a.rejects), rerun.Rejected)
	assert.Equal(t, scanAll(t, db, clean.Events), scanAll(t, db, interrupted.Events))
}

// TestImportFormats: gzip detected by content whatever the name, batch bodies and
// arrays, several files, and a rejected event of a batch with its index.
func TestImportFormats(t *testing.T) {
	db, tables := dbtest.New(t)
	evs := store.NewEvents(db, tables.Events)
	ts := `"timestamp":"2026-02-01T10:00:00.000Z"`
	plain := strings.Join([]string{
		`{"type":"page","messageId":"f-1","anonymousId":"v1",` + ts + `}`,
		``, // blank lines are skipped, not rejected
		`{"batch":[{"type":"page","messageId":"f-2","anonymousId":"v1",` + ts + `},{"type":"nope","anonymousId":"v1"},{"type":"identify","messageId":"f-3","anonymousId":"v1","userId":"u1",` + ts + `}],"writeKey":"wk","sentAt":"2026-02-01T10:00:01Z"}`,
		`[{"type":"track","event":"Signed Up","messageId":"f-4","userId":"u1",` + ts + `}]`,
		`{"type":"page","messageId":"f-5","anonymousId":"v2",` + ts + `}` + "\r", // CRLF archive
	}, "\n")
	gz := gzipped(t, []byte(`{"type":"page","messageId":"g-1","anonymousId":"v3",`+ts+`}`+"\n"+`{"type":"page","messageId":"f-1","anonymousId":"v1",`+ts+`}`)) // f-1 again; no final newline

	var srcs []importer.Source
	for _, f := range []struct {
		name string
		data []byte
	}{{"plain.jsonl.gz", []byte(plain)}, {"really-gzip.json", gz}} {
		s, err := importer.File(writeFile(t, f.name, f.data))
		require.NoError(t, err)
		srcs = append(srcs, s)
	}
	var rejects bytes.Buffer
	sum, err := importer.Run(context.Background(), importer.Options{Events: evs, Rejects: &rejects}, srcs)
	require.NoError(t, err)
	assert.Equal(t, int64(8), sum.Read)
	assert.Equal(t, int64(6), sum.Stored)
	assert.Equal(t, int64(1), sum.Duplicates)
	assert.Equal(t, int64(1), sum.Rejected)
	assert.Equal(t, int64(len(plain)+len(gz)), sum.Bytes, "compressed bytes are counted for gzip")
	assert.Equal(t, []string{"f-1", "f-2", "f-3", "f-4", "f-5", "g-1"}, storedIDs(scanAll(t, db, tables.Events)))

	var r importer.Reject
	require.NoError(t, json.Unmarshal(rejects.Bytes(), &r))
	assert.Equal(t, srcs[0].Name, r.File)
	assert.Equal(t, int64(3), r.Line)
	require.NotNil(t, r.Index)
	assert.Equal(t, 1, *r.Index)
	assert.Contains(t, r.Error, `type "nope"`)
	assert.Contains(t, r.Raw, `"writeKey":"wk"`)
}

// TestImportRejects: each kind of bad line is written with its file, line and reason,
// and the import goes on.
func TestImportRejects(t *testing.T) {
	db, tables := dbtest.New(t)
	big := `{"type":"page","messageId":"big","anonymousId":"v","timestamp":"2026-01-01T00:00:00Z","properties":{"blob":"` + strings.Repeat("x", store.MaxItemSize) + `"}}`
	lines := []string{
		`{"type":"page","messageId":"ok-1","anonymousId":"v","timestamp":"2026-01-01T00:00:00Z"}`,
		`{"type":"page",`,
		`{"type":"page","messageId":"nots","anonymousId":"v","timestamp":"yesterday"}`,
		big,
		`{"batch":[]}`,
		`{"type":"page","messageId":"ok-2","anonymousId":"v","timestamp":"2026-01-01T00:00:01Z"}`,
	}
	path := writeFile(t, "bad.jsonl", []byte(strings.Join(lines, "\n")+"\n"))
	src, err := importer.File(path)
	require.NoError(t, err)
	var rejects bytes.Buffer
	sum, err := importer.Run(context.Background(), importer.Options{Events: store.NewEvents(db, tables.Events), Rejects: &rejects}, []importer.Source{src})
	require.NoError(t, err, "rejected lines are counted, not a failure")
	assert.Equal(t, int64(2), sum.Stored)
	assert.Equal(t, int64(4), sum.Rejected)

	var got []importer.Reject
	sc := bufio.NewScanner(&rejects)
	for sc.Scan() {
		var r importer.Reject
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		got = append(got, r)
	}
	require.Len(t, got, 4)
	for i, want := range []struct {
		line   int64
		reason string
	}{{2, "malformed JSON"}, {3, "timestamp"}, {4, "DynamoDB stores at most"}, {5, "no events in batch"}} {
		assert.Equal(t, path, got[i].File)
		assert.Equal(t, want.line, got[i].Line)
		assert.Nil(t, got[i].Index)
		assert.Contains(t, got[i].Error, want.reason)
	}
	assert.Len(t, got[2].Raw, importer.MaxRejectRaw, "raw line is truncated")
}

// TestImportStoresWhatTheWebhookStores: an event already stored by the webhook's
// conditional Put is a duplicate, and an imported event's item is byte for byte the
// webhook's.
func TestImportStoresWhatTheWebhookStores(t *testing.T) {
	db := dbtest.Client(t)
	viaWebhook, viaImport := dbtest.Tables(t, db), dbtest.Tables(t, db)
	body := `{"type":"page","messageId":"w-1","anonymousId":"v","userId":42,"timestamp":"2026-03-01T12:00:00+01:00","context":{"page":{"url":"https://a.test/?utm_source=x","referrer":"https://t.co/"}},"sentAt":"2026-03-01T11:00:01Z"}`
	noID := `{"type":"track","event":"Bought","userId":"u","timestamp":"2026-03-01T12:00:00Z"}`
	ctx := context.Background()
	web := store.NewEvents(db, viaWebhook.Events)
	for _, b := range []string{body, noID} {
		parsed, err := event.ParseBody([]byte(b))
		require.NoError(t, err)
		_, err = web.Put(ctx, parsed.Items[0].Event)
		require.NoError(t, err)
	}
	src := []importer.Source{importer.Bytes("a.jsonl", []byte(body+"\n"+noID+"\n"))}

	sum, err := importer.Run(ctx, importer.Options{Events: web}, src)
	require.NoError(t, err)
	assert.Equal(t, int64(2), sum.Duplicates, "already stored by the webhook")
	assert.Equal(t, int64(0), sum.Stored)

	sum, err = importer.Run(ctx, importer.Options{Events: store.NewEvents(db, viaImport.Events)}, src)
	require.NoError(t, err)
	assert.Equal(t, int64(2), sum.Stored)
	assert.Equal(t, scanAll(t, db, viaWebhook.Events), scanAll(t, db, viaImport.Events))
}

// TestImportSuppressed: the erasure hook's events are neither stored nor derived.
func TestImportSuppressed(t *testing.T) {
	db, tables := dbtest.New(t)
	a := genArchive(1_000, "s")
	rec := newRecorder()
	em := newEmulator(t, rec.consumer())
	erased := "s-anon-7"
	sum, err := importer.Run(context.Background(), importer.Options{
		Events: store.NewEvents(db, tables.Events),
		Derive: em,
		Suppressed: func(ctx context.Context, evs []event.Event) ([]bool, error) {
			out := make([]bool, len(evs))
			for i, ev := range evs {
				out[i] = ev.AnonymousID == erased
			}
			return out, nil
		},
	}, []importer.Source{importer.Bytes("a.jsonl", a.data)})
	require.NoError(t, err)
	assert.Equal(t, int64(1), sum.Suppressed)
	assert.Equal(t, int64(a.stored-1), sum.Stored)
	assert.NotContains(t, scanAll(t, db, tables.Events), "s-7")
	assert.NotContains(t, rec.byKey, erased)
	assert.Equal(t, a.stored-1, rec.count)
}

// TestImportDynamoDBDown: with nothing listening, the import fails with ErrStore after
// its bounded retries instead of reporting success.
func TestImportDynamoDBDown(t *testing.T) {
	// Port 1 is privileged and unused: connections are refused, and no parallel test's
	// server can ever be listening there (a just-closed port could be reused).
	db, err := store.NewClient(context.Background(), store.ClientOptions{Region: "us-east-1", Endpoint: "http://127.0.0.1:1"})
	require.NoError(t, err)

	start := time.Now()
	sum, err := importer.Run(context.Background(), importer.Options{Events: store.NewEvents(db, "events"), Backoff: fastBackoff},
		[]importer.Source{importer.Bytes("a.jsonl", genArchive(300, "d").data)})
	require.Error(t, err)
	assert.ErrorIs(t, err, importer.ErrStore)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Equal(t, int64(0), sum.Stored)
	assert.Less(t, time.Since(start), 30*time.Second)
}

// TestImportMissingTable is a DynamoDB error no retry can fix: it fails at once.
func TestImportMissingTable(t *testing.T) {
	db := dbtest.Client(t)
	_, err := importer.Run(context.Background(), importer.Options{Events: store.NewEvents(db, "no-such-table"), Backoff: fastBackoff},
		[]importer.Source{importer.Bytes("a.jsonl", genArchive(10, "m").data)})
	require.Error(t, err)
	var notFound *types.ResourceNotFoundException
	assert.True(t, errors.As(err, &notFound), "%v", err)
}

// TestImportCorruptGzip: the readable lines are handled, and the import fails.
func TestImportCorruptGzip(t *testing.T) {
	db, tables := dbtest.New(t)
	gz := gzipped(t, genArchive(200, "c").data)
	sum, err := importer.Run(context.Background(), importer.Options{Events: store.NewEvents(db, tables.Events)},
		[]importer.Source{importer.Bytes("cut.gz", gz[:len(gz)/2])})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cut.gz")
	assert.Positive(t, sum.Stored)
	out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(tables.Events)})
	require.NoError(t, err)
	assert.NotNil(t, out.Table)
}
