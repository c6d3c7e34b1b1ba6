package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/ingest"
	"github.com/attribution-dev/attribution/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const secret = "whsec-test-0123456789"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newHandler(t *testing.T, secret string) (*ingest.Handler, *dynamodb.Client, store.Tables) {
	t.Helper()
	db, tables := dbtest.New(t)
	return &ingest.Handler{Store: store.NewEvents(db, tables.Events), Secret: secret, Log: quiet}, db, tables
}

func post(t *testing.T, h *ingest.Handler, body []byte, headers map[string]string) (int, map[string]any) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{RouteKey: "POST /events", Body: string(body), Headers: headers}
	resp, err := h.Handle(context.Background(), req)
	require.NoError(t, err, "handlers answer client and storage errors with a status, never a Go error")
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &out), resp.Body)
	return resp.StatusCode, out
}

func signed(body []byte) map[string]string {
	return map[string]string{"x-signature": ingest.Sign(body, secret)}
}

func count(t *testing.T, db *dynamodb.Client, table string) int {
	t.Helper()
	// A Scan is fine in a test; the product never scans.
	n := 0
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		require.NoError(t, err)
		n += int(out.Count)
	}
	return n
}

func testdata(t *testing.T, name string) []byte { return testdataB(t, name) }

func testdataB(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", name))
	require.NoError(t, err)
	return b
}

func pageEvent(i int) string {
	return fmt.Sprintf(`{"type":"page","messageId":"msg-%05d","anonymousId":"anon-%d","timestamp":"2026-11-29T10:%02d:%02d.000Z","properties":{"url":"https://acme.io/?n=%d","referrer":"https://www.google.com/"}}`,
		i, i%37, (i/60)%60, i%60, i)
}

func TestSignedEventIsStoredWithItsOriginalJSON(t *testing.T) {
	h, db, tables := newHandler(t, secret)
	body := testdata(t, "page.json")
	status, out := post(t, h, body, signed(body))
	require.Equal(t, http.StatusOK, status, out)
	assert.EqualValues(t, 1, out["stored"])
	assert.EqualValues(t, 0, out["duplicates"])

	got, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(tables.Events),
		Key:       map[string]types.AttributeValue{"messageId": &types.AttributeValueMemberS{Value: "ajs-next-1732876941223-4f0b5c0e-8c2d-4a8e-9a0c-2b6f3f4a9d11"}},
	})
	require.NoError(t, err)
	ev, err := store.EventFromItem(got.Item)
	require.NoError(t, err)
	assert.Equal(t, "page", ev.Type)
	assert.Equal(t, "2026-11-29T10:42:21.805Z", ev.Time())
	assert.Equal(t, "https://www.google.com/", ev.Referrer)
	assert.JSONEq(t, string(body), string(ev.Raw), "fields the code does not know (writeKey, context, integrations) are kept")
}

func TestForgedOrMissingSignatureStoresNothing(t *testing.T) {
	h, db, tables := newHandler(t, secret)
	body := testdata(t, "page.json")
	for name, headers := range map[string]map[string]string{
		"missing":        nil,
		"forged":         {"x-signature": ingest.Sign(body, "not-the-secret")},
		"not hex":        {"x-signature": "zzzz"},
		"other body":     {"x-signature": ingest.Sign([]byte(`{}`), secret)},
		"truncated":      {"x-signature": ingest.Sign(body, secret)[:20]},
		"canonical name": {"X-Signature": ingest.Sign(body, "wrong")},
	} {
		t.Run(name, func(t *testing.T) {
			status, out := post(t, h, body, headers)
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.NotEmpty(t, out["error"])
		})
	}
	assert.Zero(t, count(t, db, tables.Events))

	// The header name is case-insensitive, as HTTP says.
	status, _ := post(t, h, body, map[string]string{"X-Signature": ingest.Sign(body, secret)})
	assert.Equal(t, http.StatusOK, status)
}

// The signature is pinned by a vector our own code did not compute, so a change to how
// we sign or verify cannot pass by agreeing with itself. Computed with
//
//	printf '%s' "$body" | openssl dgst -sha1 -hmac whsec-test-0123456789
func TestSignatureKnownAnswer(t *testing.T) {
	const (
		body = `{"type":"page","messageId":"kat-1","anonymousId":"a-1","timestamp":"2026-11-29T10:42:21.805Z","properties":{"url":"https://acme.io/","referrer":"https://www.google.com/"}}`
		want = "460c9b9063a2d1531f1d407aeb3a88d45b43271f"
	)
	require.Equal(t, "whsec-test-0123456789", secret)
	assert.Equal(t, want, ingest.Sign([]byte(body), secret))

	h, _, _ := newHandler(t, secret)
	status, out := post(t, h, []byte(body), map[string]string{"x-signature": want})
	assert.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, float64(1), out["stored"])
	status, _ = post(t, h, []byte(body), map[string]string{"x-signature": strings.ToUpper(want)})
	assert.Equal(t, http.StatusOK, status, "hex is case-insensitive")
}

// A webhook as API Gateway delivered it (testdata/apigateway): base64 body, lower-case
// headers, the signature computed by openssl over the decoded body.
func TestCapturedWebhookRequest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "apigateway", "post-events-base64.json"))
	require.NoError(t, err)
	var req events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(b, &req))

	h, _, _ := newHandler(t, secret)
	resp, err := h.Handle(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	assert.JSONEq(t, `{"received":1,"stored":1,"duplicates":0,"suppressed":0,"storedIds":["ajs-next-1732876941223-quickstart"],"duplicateIds":[],"blockedIds":0}`, resp.Body)
}

func TestReplayingAThousandEventsThreeTimesStoresAThousand(t *testing.T) {
	h, db, tables := newHandler(t, "")
	var batch []string
	for i := range 1000 {
		batch = append(batch, pageEvent(i))
	}
	body := []byte("[" + strings.Join(batch, ",") + "]")
	for round := range 3 {
		status, out := post(t, h, body, nil)
		require.Equal(t, http.StatusOK, status, out)
		if round == 0 {
			assert.EqualValues(t, 1000, out["stored"])
		} else {
			assert.EqualValues(t, 0, out["stored"])
			assert.EqualValues(t, 1000, out["duplicates"])
		}
	}
	// One at a time, as the classic Webhooks destination sends them, is deduplicated too.
	for i := range 50 {
		status, out := post(t, h, []byte(pageEvent(i)), nil)
		require.Equal(t, http.StatusOK, status)
		assert.EqualValues(t, 1, out["duplicates"])
	}
	assert.Equal(t, 1000, count(t, db, tables.Events))
}

func TestEventWithoutMessageIDDeduplicatesAcrossRetries(t *testing.T) {
	h, db, tables := newHandler(t, "")
	first := []byte(`{"type":"track","event":"Upgraded","userId":"u1","timestamp":"2026-11-29T10:00:00.000Z","sentAt":"2026-11-29T10:00:01.000Z"}`)
	retry := []byte(`{"type":"track","event":"Upgraded","userId":"u1","timestamp":"2026-11-29T10:00:00.000Z","sentAt":"2026-11-29T10:05:00.000Z"}`)
	_, out := post(t, h, first, nil)
	assert.EqualValues(t, 1, out["stored"])
	_, out = post(t, h, retry, nil)
	assert.EqualValues(t, 1, out["duplicates"])
	assert.Equal(t, 1, count(t, db, tables.Events))
}

func TestMalformedInputGetsAReason(t *testing.T) {
	h, db, tables := newHandler(t, "")
	for _, tc := range []struct{ name, body, want string }{
		{"bad JSON", `{"type":"page",`, "malformed"},
		{"not JSON", `hello`, "malformed"},
		{"empty", ``, "empty body"},
		{"wrong type", `{"type":"pageview","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z"}`, "type"},
		{"missing ids", `{"type":"page","timestamp":"2026-01-01T00:00:00Z"}`, "anonymousId or userId"},
		{"bad timestamp", `{"type":"page","anonymousId":"a","timestamp":"29/11/2026"}`, "timestamp"},
		{"track without event", `{"type":"track","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z"}`, "event is required"},
		{"batch of only bad events", `{"batch":[{"type":"x"},{"anonymousId":"a"}]}`, "no valid event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := post(t, h, []byte(tc.body), nil)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Contains(t, out["error"], tc.want)
		})
	}
	assert.Zero(t, count(t, db, tables.Events))
}

func TestBatchWithSomeBadEventsStoresTheGoodOnes(t *testing.T) {
	h, db, tables := newHandler(t, "")
	body := `{"writeKey":"wk","sentAt":"2026-11-29T11:00:00.000Z","batch":[` +
		pageEvent(1) + `,{"type":"page","timestamp":"2026-01-01T00:00:00Z"},` + pageEvent(2) + `,{"type":"track","userId":"u","timestamp":"2026-01-01T00:00:00Z"}]}`
	status, out := post(t, h, []byte(body), nil)
	require.Equal(t, http.StatusOK, status, out)
	assert.EqualValues(t, 2, out["stored"])
	rejected := out["rejected"].([]any)
	require.Len(t, rejected, 2)
	assert.EqualValues(t, 1, rejected[0].(map[string]any)["index"])
	assert.Contains(t, rejected[0].(map[string]any)["error"], "anonymousId or userId")
	assert.EqualValues(t, 3, rejected[1].(map[string]any)["index"])
	assert.Contains(t, rejected[1].(map[string]any)["error"], "event is required")
	assert.Equal(t, 2, count(t, db, tables.Events))
}

func TestEveryTestdataEventIsAccepted(t *testing.T) {
	h, db, tables := newHandler(t, "")
	status, out := post(t, h, testdata(t, "batch.json"), nil)
	require.Equal(t, http.StatusOK, status, out)
	assert.EqualValues(t, 6, out["stored"])
	assert.Nil(t, out["rejected"])
	assert.Equal(t, 6, count(t, db, tables.Events))
}

func TestOversizedBodyIs413BeforeParsing(t *testing.T) {
	h, db, tables := newHandler(t, "")
	huge := bytes.Repeat([]byte("x"), ingest.MaxBody+1) // not even JSON: must not be parsed
	status, out := post(t, h, huge, nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Contains(t, out["error"], "larger than")

	// Through the local server too, where the body is cut off while being read.
	srv := httptest.NewServer(httpapi.NewServer(quiet, 10*time.Second, httpapi.Route{Method: "POST", Path: "/events", Handler: h.Handle}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/events", "application/json", bytes.NewReader(bytes.Repeat([]byte(" "), httpapi.MaxRequestBody+10)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Zero(t, count(t, db, tables.Events))
}

func TestStoppedDynamoDBAnswers5xx(t *testing.T) {
	// A port nothing listens on: every write fails after the SDK's retries.
	db, err := store.NewClient(context.Background(), store.ClientOptions{Region: "us-east-1", Endpoint: "http://127.0.0.1:1"})
	require.NoError(t, err)
	h := &ingest.Handler{Store: store.NewEvents(db, "events"), Log: quiet}
	status, out := post(t, h, []byte(pageEvent(1)), nil)
	assert.GreaterOrEqual(t, status, 500)
	assert.Contains(t, out["error"], "could not store")
}

func TestFullActionsBatchIsStored(t *testing.T) {
	h, db, tables := newHandler(t, "")
	var batch []string
	for i := range 4000 {
		batch = append(batch, pageEvent(i))
	}
	status, out := post(t, h, []byte("["+strings.Join(batch, ",")+"]"), nil)
	require.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 4000, out["stored"])
	assert.Equal(t, 4000, count(t, db, tables.Events))
}

// An event DynamoDB cannot hold as one item (400 KB) is refused with a reason: answering
// 503 would have Segment retry it, and the valid events beside it, until it gives up.
func TestEventTooLargeForDynamoDBIsRefusedAndTheRestStored(t *testing.T) {
	h, db, tables := newHandler(t, "")
	big := fmt.Sprintf(`{"type":"track","event":"Big","messageId":"big-1","userId":"u","timestamp":"2026-11-29T10:00:00Z","properties":{"blob":%q}}`,
		strings.Repeat("b", 450_000))

	status, out := post(t, h, []byte(big), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Contains(t, out["error"], "big-1")
	assert.Contains(t, out["error"], "400 KB")

	body := `{"batch":[` + pageEvent(1) + `,` + big + `,` + pageEvent(2) + `]}`
	status, out = post(t, h, []byte(body), nil)
	require.Equal(t, http.StatusOK, status, out["error"])
	assert.EqualValues(t, 2, out["stored"])
	rejected := out["rejected"].([]any)
	require.Len(t, rejected, 1)
	assert.EqualValues(t, 1, rejected[0].(map[string]any)["index"])
	assert.Contains(t, rejected[0].(map[string]any)["error"], "big-1")
	assert.Equal(t, 2, count(t, db, tables.Events))
}
