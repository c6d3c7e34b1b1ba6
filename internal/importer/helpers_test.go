package importer_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// archive is a generated JSON Lines archive and the counts an import of it must report.
type archive struct {
	data                              []byte
	read, stored, duplicates, rejects int
	ids                               []string // messageIds that end up stored
	brokenLines                       []int    // 1-based line numbers of the broken lines
}

var brokenKinds = []string{
	`{"type":"page","messageId":"broken-%d","anonymousId":"a"`, // truncated JSON
	`not json at all %d`,
	`{"type":"page","messageId":"noid-%d","timestamp":"2026-01-01T00:00:00Z"}`,                 // no anonymousId/userId
	`{"type":"bogus-%d","messageId":"x","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z"}`, // unknown type
	`{"type":"track","messageId":"noevent-%d","userId":"u","timestamp":"2026-01-01T00:00:00Z"}`,
}

// genArchive writes n lines: 1% broken (i%100 == 50), one exact repeat of the previous
// line every 500 (i%500 == 123), and small page/identify events for 1,000 visitors in
// time order, so items stay small and dynalite stays fast.
func genArchive(n int, prefix string) archive {
	var a archive
	var buf bytes.Buffer
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var prev string
	for i := range n {
		var line string
		switch {
		case i%100 == 50:
			line = fmt.Sprintf(brokenKinds[(i/100)%len(brokenKinds)], i)
			a.rejects++
			a.brokenLines = append(a.brokenLines, i+1)
		case i%500 == 123:
			line = prev
			a.duplicates++
		default:
			line = eventLine(prefix, i, base.Add(time.Duration(i)*time.Second))
			a.stored++
			a.ids = append(a.ids, fmt.Sprintf("%s-%d", prefix, i))
		}
		a.read++
		buf.WriteString(line)
		buf.WriteByte('\n')
		prev = line
	}
	a.data = buf.Bytes()
	return a
}

func eventLine(prefix string, i int, ts time.Time) string {
	anon := fmt.Sprintf("%s-anon-%d", prefix, i%1000)
	if i%10 == 9 {
		return fmt.Sprintf(`{"type":"identify","messageId":"%s-%d","anonymousId":%q,"userId":"%s-user-%d","timestamp":%q}`,
			prefix, i, anon, prefix, i%1000, ts.Format(time.RFC3339))
	}
	return fmt.Sprintf(`{"type":"page","messageId":"%s-%d","anonymousId":%q,"timestamp":%q,"properties":{"url":"https://shop.test/p%d","referrer":"https://www.google.com/"}}`,
		prefix, i, anon, ts.Format(time.RFC3339), i%7)
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return out.Bytes()
}

func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// scanAll reads a whole table (tests only: product code never scans).
func scanAll(t testing.TB, db *dynamodb.Client, table string) map[string]map[string]types.AttributeValue {
	t.Helper()
	out := map[string]map[string]types.AttributeValue{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, item := range page.Items {
			out[item[store.AttrMessageID].(*types.AttributeValueMemberS).Value] = item
		}
	}
	return out
}

// scanIDs reads only the keys of a whole table, sorted.
func scanIDs(t testing.TB, db *dynamodb.Client, table string) []string {
	t.Helper()
	var ids []string
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ProjectionExpression: aws.String(store.AttrMessageID)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, item := range page.Items {
			ids = append(ids, item[store.AttrMessageID].(*types.AttributeValueMemberS).Value)
		}
	}
	slices.Sort(ids)
	return ids
}

func storedIDs(items map[string]map[string]types.AttributeValue) []string {
	ids := make([]string, 0, len(items))
	for id := range items {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// recorder is a stream consumer that remembers what it was given, per stream key, in
// delivery order: it stands in for detect and identify, which read the same records.
type recorder struct {
	mu    sync.Mutex
	byKey map[string][]string
	count int
}

func newRecorder() *recorder { return &recorder{byKey: map[string][]string{}} }

func (r *recorder) consumer() stream.Consumer {
	return stream.Consumer{
		Name: "recorder",
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, rec := range ev.Records {
				e, err := stream.EventFromRecord(rec)
				if err != nil {
					return events.DynamoDBEventResponse{}, err
				}
				key := e.AnonymousID
				if key == "" {
					key = e.UserID
				}
				r.byKey[key] = append(r.byKey[key], e.MessageID)
				r.count++
			}
			return events.DynamoDBEventResponse{}, nil
		},
	}
}

// seqOf is the generator's line number inside a messageId like "p-123".
func seqOf(t testing.TB, id string) int {
	t.Helper()
	n, err := strconv.Atoi(id[strings.LastIndex(id, "-")+1:])
	require.NoError(t, err, id)
	return n
}

func newEmulator(t testing.TB, consumers ...stream.Consumer) *stream.Emulator {
	t.Helper()
	em, err := stream.NewEmulator(slog.New(slog.DiscardHandler), stream.EmulatorOptions{Shards: 8, Backoff: time.Millisecond}, consumers...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = em.Close(ctx)
	})
	return em
}
