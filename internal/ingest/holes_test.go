package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/ingest"
)

// postBinary sends body as API Gateway sends a body that is not text: base64.
func postBinary(t *testing.T, h *ingest.Handler, body []byte, headers map[string]string) (int, map[string]any) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{RouteKey: "POST /events", Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true, Headers: headers}
	resp, err := h.Handle(context.Background(), req)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &out), resp.Body)
	return resp.StatusCode, out
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestGzipBodyIsDecodedAndSignedAsSent(t *testing.T) {
	h, db, tables := newHandler(t, secret)
	compressed := gzipped(t, []byte("["+pageEvent(1)+","+pageEvent(2)+"]"))

	headers := map[string]string{"content-encoding": "gzip", "x-signature": ingest.Sign(compressed, secret)}
	status, out := postBinary(t, h, compressed, headers)
	require.Equal(t, http.StatusOK, status, out)
	assert.EqualValues(t, 2, out["stored"])
	assert.Equal(t, 2, count(t, db, tables.Events))

	// A signature of the decoded body is not the signature of what was sent.
	plain := []byte(pageEvent(3))
	status, _ = postBinary(t, h, gzipped(t, plain), map[string]string{"content-encoding": "gzip", "x-signature": ingest.Sign(plain, secret)})
	assert.Equal(t, http.StatusUnauthorized, status)
}

func TestEncodedBodiesThatCannotBeRead(t *testing.T) {
	h, db, tables := newHandler(t, "")
	bomb := gzipped(t, bytes.Repeat([]byte(" "), ingest.MaxBody+1))
	require.Less(t, len(bomb), 100_000, "a small body that decodes past the limit")
	status, out := postBinary(t, h, bomb, map[string]string{"content-encoding": "gzip"})
	assert.Equal(t, http.StatusRequestEntityTooLarge, status, out)

	status, out = postBinary(t, h, []byte("not gzip at all"), map[string]string{"content-encoding": "gzip"})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, out["error"], "gzip")

	status, out = postBinary(t, h, []byte(pageEvent(1)), map[string]string{"content-encoding": "br"})
	assert.Equal(t, http.StatusUnsupportedMediaType, status)
	assert.Contains(t, out["error"], `"br"`)
	assert.Zero(t, count(t, db, tables.Events))
}

func TestBlockedIDsAreDroppedAndCounted(t *testing.T) {
	h, _, _ := newHandler(t, "")
	var err error
	h.Blocked, err = event.ParseBlocklist("void")
	require.NoError(t, err)
	const ts = `"timestamp":"2026-11-29T10:00:00.000Z"`

	status, out := post(t, h, []byte(`[
		{"type":"identify","messageId":"b1","anonymousId":"a1","userId":"undefined",`+ts+`},
		{"type":"page","messageId":"b2","anonymousId":"a1","userId":"void",`+ts+`},
		{"type":"page","messageId":"b3","anonymousId":"0","userId":"null",`+ts+`},
		{"type":"page","messageId":"b4","anonymousId":"a2","userId":"u2",`+ts+`}]`), nil)
	require.Equal(t, http.StatusOK, status, out)
	assert.EqualValues(t, 3, out["stored"])
	assert.EqualValues(t, 4, out["blockedIds"])
	rejected := out["rejected"].([]any)
	require.Len(t, rejected, 1)
	assert.EqualValues(t, 2, rejected[0].(map[string]any)["index"])
	assert.Contains(t, rejected[0].(map[string]any)["error"], "blocked")

	status, out = post(t, h, []byte(`{"type":"page","messageId":"b5","userId":"Anonymous",`+ts+`}`), nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, out["error"], "userId is blocked")
}

func TestDistinctInvalidIDsNeverCollapse(t *testing.T) {
	h, db, tables := newHandler(t, "")
	for _, id := range []string{"m-\xff", "m-\xfe", `m-\udc00`} {
		body := `{"type":"page","messageId":"` + id + `","anonymousId":"a","timestamp":"2026-11-29T10:00:00.000Z"}`
		status, out := postBinary(t, h, []byte(body), nil)
		assert.Equal(t, http.StatusBadRequest, status, id)
		assert.Contains(t, out["error"], "messageId is not valid UTF-8")
	}
	assert.Zero(t, count(t, db, tables.Events))
}

func TestNestedTooDeepIsRefused(t *testing.T) {
	h, _, _ := newHandler(t, "")
	status, out := post(t, h, []byte(strings.Repeat("[", 10_000)+strings.Repeat("]", 10_000)), nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, out["error"], "nested too deep")
}
