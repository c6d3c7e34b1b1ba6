package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/datadriven"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

const apiKey = "test-api-key"

// The visitor every scenario follows: a page view from a Google search with a
// campaign, then an identify linking the visitor to a user.
const (
	anonymousID = "anon-rie-1"
	userID      = "user-rie-1"
	pageID      = "msg-rie-page-1"
	identifyID  = "msg-rie-identify-1"
	signupID    = "msg-rie-signup-1"
)

// scenario invokes one Lambda the way AWS would and checks what it did.
type scenario func(t *testing.T, env *runtimeEnv, fn *emulated)

// scenarios run in this order (later ones read what earlier ones stored), each only
// when its Lambda exists. A Lambda without a scenario fails the test.
var scenarios = []struct {
	name string
	run  scenario
}{
	{"events", scenarioEvents},
	{"detect", scenarioDetect},
	{"identify", scenarioIdentify},
	{"conversions", scenarioConversions},
	{"precompute", scenarioPrecompute},
	{"query", scenarioQuery},
	{"trigger", scenarioTrigger},
	{"redrive", scenarioRedrive},
	{"dashboard", scenarioDashboard},
}

type runtimeEnv struct {
	db      *dynamodb.Client
	tables  store.Tables
	ran     map[string]bool
	segment *fakeSegment
	aws     *fakeAWS
}

// testRuntime runs every Lambda's bootstrap, extracted from its zip, under aws-lambda-rie
// with dynalite and a fake Segment on 127.0.0.1, and records init durations.
func testRuntime(t *testing.T, root, bin string, names []string) {
	rie := rieBinary(t, root)
	db, tables := dbtest.New(t)
	seg := newFakeSegment(t)
	fakeAWS := newFakeAWS(t)
	env := &runtimeEnv{db: db, tables: tables, ran: map[string]bool{}, segment: seg, aws: fakeAWS}

	fnEnv := []string{
		"PATH=/usr/bin:/bin",
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"DYNAMODB_ENDPOINT=" + dbtest.Endpoint(t),
		"STAGE=test",
		"EVENTS_TABLE=" + tables.Events,
		"IDENTITIES_TABLE=" + tables.Identities,
		"TOUCHES_TABLE=" + tables.Touches,
		"CONVERSIONS_TABLE=" + tables.Conversions,
		"CONVERSION_EVENTS=Signed Up",
		"API_KEY=" + apiKey,
		"SEGMENT_WRITE_KEY=test-write-key",
		"SEGMENT_ENDPOINT=" + seg.URL,
		"REALTIME=true", // as deployed: the consumers push attribution to (the fake) Segment
		"LOG_LEVEL=info",
		// The stream failures queue and the events table's stream, for redrive.
		"STREAM_FAILURES_QUEUE_URL=" + fakeAWS.URL + "/123456789012/attribution-test-stream-failures",
		"AWS_ENDPOINT_URL_SQS=" + fakeAWS.URL,
		"AWS_ENDPOINT_URL_DYNAMODB_STREAMS=" + fakeAWS.URL,
	}

	// Start every emulator first: each inits its function lazily on the first invoke.
	fns := map[string]*emulated{}
	for _, name := range names {
		dir := t.TempDir()
		fns[name] = startRIE(t, rie, dir, packageEnv(t, fnEnv, name, filepath.Join(bin, name+".zip"), dir))
	}
	known := map[string]bool{}
	for _, s := range scenarios {
		known[s.name] = true
		fn, ok := fns[s.name]
		if !ok {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			s.run(t, env, fn)
			if init, ok := fn.initDuration(t); ok {
				t.Logf("report: lambda=%s arch=%s init_ms=%.2f", s.name, runtime.GOARCH, init)
			}
		})
		env.ran[s.name] = true
	}
	for _, name := range names {
		assert.True(t, known[name], "cmd/%s has no runtime scenario in runtime_test.go", name)
	}
	if _, ok := fns["detect"]; ok {
		t.Run("broken referers file", func(t *testing.T) { testBrokenReferers(t, rie, fnEnv, filepath.Join(bin, "detect.zip")) })
	}

	// scripts/bench-lambda.sh asks for more cold starts, for steadier numbers.
	if n, _ := strconv.Atoi(os.Getenv("DEPLOY_COLD_STARTS")); n > 0 {
		for _, name := range names {
			coldStarts(t, rie, name, filepath.Join(bin, name+".zip"), fnEnv, n)
		}
	}
}

// packageEnv unpacks the function's zip into dir, its task root, and returns its
// environment: env, its name, and REFERERS_FILE where its package has referers.yml,
// as serverless.yml sets it (/var/task/referers.yml, here dir/referers.yml).
func packageEnv(t *testing.T, env []string, name, zipPath, dir string) []string {
	t.Helper()
	env = append(slices.Clone(env), "AWS_LAMBDA_FUNCTION_NAME=attribution-test-"+name)
	if slices.Contains(unzipPackage(t, zipPath, dir), "referers.yml") {
		env = append(env, "REFERERS_FILE="+filepath.Join(dir, "referers.yml"))
	}
	return env
}

// testBrokenReferers: a function whose REFERERS_FILE is missing or broken fails its
// init with the reason, rather than run on the built-in rules alone.
func testBrokenReferers(t *testing.T, rie string, fnEnv []string, zipPath string) {
	for name, tt := range map[string]struct {
		content string // "" for no file at all
		want    string
	}{
		"missing": {"", "referers.yml: no such file or directory"},
		"broken":  {"search:\n  A:\n    domains: [a.example]\nvideo:\n  B:\n    domains: [b.example]\n", `referers.yml:4: unknown medium \"video\"`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			env := packageEnv(t, fnEnv, "detect", zipPath, dir)
			require.Contains(t, env, "REFERERS_FILE="+filepath.Join(dir, "referers.yml"), "the zip carries referers.yml")
			require.NoError(t, os.Remove(filepath.Join(dir, "referers.yml")))
			if tt.content != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "referers.yml"), []byte(tt.content), 0o644))
			}
			fn := startRIE(t, rie, dir, env)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, fn.url, strings.NewReader(`{"Records": []}`))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.NotEqual(t, http.StatusOK, resp.StatusCode, "the function answered: %s", body)
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(fn.log.String(), "Init failed") && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			log := fn.log.String()
			assert.Contains(t, log, "Init failed")
			assert.Contains(t, log, "REFERERS_FILE: ")
			assert.Contains(t, log, tt.want)
		})
	}
}

// coldStarts starts the function n times afresh and reports the median and fastest
// init. Any payload does: init is over before the handler sees it.
func coldStarts(t *testing.T, rie, name, zipPath string, env []string, n int) {
	var inits []float64
	for range n {
		dir := t.TempDir()
		fn := startRIE(t, rie, dir, packageEnv(t, env, name, zipPath, dir))
		fn.invokeRaw(t, []byte(`{}`))
		if ms, ok := fn.initDuration(t); ok {
			inits = append(inits, ms)
		}
		fn.stop()
	}
	if len(inits) == 0 {
		return
	}
	slices.Sort(inits)
	t.Logf("report: lambda=%s arch=%s init_ms=%.2f init_min_ms=%.2f cold_starts=%d", name, runtime.GOARCH, inits[len(inits)/2], inits[0], len(inits))
}

func scenarioEvents(t *testing.T, env *runtimeEnv, fn *emulated) {
	body := fmt.Sprintf(`[
	 {"type": "page", "messageId": %q, "anonymousId": %q, "timestamp": "2026-03-01T10:00:00Z",
	  "properties": {"url": "https://shop.example/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "referrer": "https://www.google.com/"},
	  "context": {"page": {"url": "https://shop.example/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "referrer": "https://www.google.com/"}}},
	 {"type": "identify", "messageId": %q, "anonymousId": %q, "userId": %q, "timestamp": "2026-03-01T10:05:00Z", "traits": {"plan": "pro"}},
	 {"type": "track", "event": "Signed Up", "messageId": %q, "anonymousId": %q, "userId": %q, "timestamp": "2026-03-01T10:06:00Z", "properties": {"revenue": 29, "currency": "USD"}}
	]`, pageID, anonymousID, identifyID, anonymousID, userID, signupID, anonymousID, userID)
	resp := invokeHTTP(t, fn, "POST", "/events", "POST /events", nil, body)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	var out struct {
		Stored int `json:"stored"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &out))
	assert.Equal(t, 3, out.Stored, resp.Body)
	for _, id := range []string{pageID, identifyID, signupID} {
		assert.NotNil(t, storedEvent(t, env, id), "event %s stored", id)
	}
}

func scenarioDetect(t *testing.T, env *runtimeEnv, fn *emulated) {
	resp := invokeStream(t, fn, env, pageID)
	assert.Empty(t, resp.BatchItemFailures)
	items := scan(t, env.db, env.tables.Touches)
	require.Len(t, items, 1, "one touch for one landing page view")
	assert.Equal(t, &types.AttributeValueMemberS{Value: store.VisitorID(anonymousID, "")}, items[0][store.AttrVisitorID])
	touch, err := store.TouchFromItem(items[0])
	require.NoError(t, err)
	assert.Equal(t, "Google Web", touch.Description.Referrer.Engine, "google.com as REFERERS_FILE, from the function's package, names it")
}

func scenarioIdentify(t *testing.T, env *runtimeEnv, fn *emulated) {
	resp := invokeStream(t, fn, env, identifyID)
	assert.Empty(t, resp.BatchItemFailures)
	links, err := store.NewIdentities(env.db, env.tables.Identities).ByUser(context.Background(), userID)
	require.NoError(t, err)
	require.Len(t, links, 1)
	assert.Equal(t, anonymousID, links[0].AnonymousID)
	if env.ran["detect"] {
		identifies := env.segment.messages("identify")
		require.NotEmpty(t, identifies, "real-time attribution sent the newly identified user's traits")
		assert.Equal(t, userID, identifies[len(identifies)-1]["userId"])
	}
}

func scenarioConversions(t *testing.T, env *runtimeEnv, fn *emulated) {
	resp := invokeStream(t, fn, env, signupID)
	assert.Empty(t, resp.BatchItemFailures)
	stored, err := store.NewConversions(env.db, env.tables.Conversions).ByPerson(context.Background(), conversion.UserKey(userID))
	require.NoError(t, err)
	require.Len(t, stored, 1, "the signup is a conversion of the user")
	assert.Equal(t, 29.0, stored[0].Value)
	if env.ran["detect"] && env.ran["identify"] {
		require.Len(t, stored[0].Touches, 1, "credited to the user's touch")
		assert.Equal(t, "Email", stored[0].Touches[0].Channel)
	}
}

// scenarioPrecompute invokes the daily refresh as its EventBridge schedule would, on a
// day whose trailing week holds the signup.
func scenarioPrecompute(t *testing.T, env *runtimeEnv, fn *emulated) {
	var sum struct {
		Ranges []struct{ From, To string } `json:"ranges"`
		Items  int                         `json:"items"`
	}
	fn.invoke(t, events.EventBridgeEvent{
		Version: "0", ID: "rie-schedule", DetailType: "Scheduled Event", Source: "aws.events", AccountID: "123456789012",
		Time: time.Date(2026, 3, 5, 0, 15, 0, 0, time.UTC), Region: "us-east-1", Detail: json.RawMessage("{}"),
	}, &sum)
	require.NotEmpty(t, sum.Ranges)
	assert.Equal(t, struct{ From, To string }{"2026-02-27", "2026-03-05"}, sum.Ranges[0])
	if !env.ran["conversions"] {
		return
	}
	assert.Positive(t, sum.Items)
	p, err := store.NewConversions(env.db, env.tables.Conversions).Precomputed(context.Background(), "Signed Up",
		datadriven.Range{From: "2026-02-27", To: "2026-03-05"}, "channel")
	require.NoError(t, err)
	assert.Equal(t, 1.0, p.Conversions)
	if env.ran["detect"] && env.ran["identify"] {
		assert.InDelta(t, 1, p.Rows["Email"]["markov"].Conversions, 1e-12, "the signup's one touch")
	}
}

func scenarioQuery(t *testing.T, env *runtimeEnv, fn *emulated) {
	if env.ran["conversions"] {
		resp := invokeHTTPQuery(t, fn, "/api/report", "GET /api/report", map[string]string{"from": "2026-03-01", "to": "2026-03-31", "model": "all"})
		require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
		var rep struct {
			Totals struct {
				Conversions float64            `json:"conversions"`
				Revenue     map[string]float64 `json:"revenue"`
			} `json:"totals"`
		}
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &rep), resp.Body)
		assert.Equal(t, 1.0, rep.Totals.Conversions, resp.Body)
		assert.Equal(t, map[string]float64{"USD": 29}, rep.Totals.Revenue, resp.Body)
	}

	resp := invokeHTTP(t, fn, "GET", "/api/anonymous/"+anonymousID, "GET /api/anonymous/{id}", map[string]string{"id": anonymousID}, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	var out struct {
		AnonymousID string            `json:"anonymousId"`
		Touches     []json.RawMessage `json:"touches"`
		Events      []json.RawMessage `json:"events"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &out), resp.Body)
	assert.Equal(t, anonymousID, out.AnonymousID)
	if env.ran["events"] {
		assert.NotEmpty(t, out.Events, resp.Body)
	}
	if env.ran["detect"] {
		assert.Len(t, out.Touches, 1, resp.Body)
	}

	unauthorized := invokeHTTPWithKey(t, fn, "", "GET", "/api/anonymous/"+anonymousID, "GET /api/anonymous/{id}", map[string]string{"id": anonymousID}, "")
	assert.Equal(t, http.StatusUnauthorized, unauthorized.StatusCode, unauthorized.Body)
}

func scenarioTrigger(t *testing.T, env *runtimeEnv, fn *emulated) {
	resp := invokeHTTP(t, fn, "GET", "/segment/track/anonymous/"+anonymousID, "GET /segment/track/anonymous/{id}", map[string]string{"id": anonymousID}, "")
	require.Less(t, resp.StatusCode, 500, resp.Body)
	if env.ran["detect"] {
		require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
		tracks := env.segment.messages("track")
		require.Len(t, tracks, 1, "a track per touch reached the fake Segment")
		assert.Equal(t, anonymousID, tracks[0]["anonymousId"])
	}
}

// scenarioDashboard: the page and its assets answer without a key, gzipped as API
// Gateway passes binary bodies (base64); the detector answers only with one.
func scenarioDashboard(t *testing.T, env *runtimeEnv, fn *emulated) {
	page := invokeHTTPWithKey(t, fn, "", "GET", "/", "GET /", nil, "")
	require.Equal(t, http.StatusOK, page.StatusCode, page.Body)
	assert.Equal(t, "text/html; charset=utf-8", page.Headers["Content-Type"])
	assert.Contains(t, page.Body, `<script src="assets/app.js"`)
	assert.NotEmpty(t, page.Headers["Content-Security-Policy"])

	script := invokeHTTPWithKey(t, fn, "", "GET", "/assets/app.js", "GET /assets/{name}", map[string]string{"name": "app.js"}, "")
	require.Equal(t, http.StatusOK, script.StatusCode, script.Body)
	assert.Equal(t, "text/javascript; charset=utf-8", script.Headers["Content-Type"])
	assert.Contains(t, script.Body, "x-api-key")

	detect := func(key string, referrer ...string) events.APIGatewayV2HTTPResponse {
		query := map[string]string{"url": "https://acme.io/?gclid=abc", "referrer": "https://www.google.com/"}
		if len(referrer) > 0 {
			query = map[string]string{"url": "https://acme.io/", "referrer": referrer[0]}
		}
		req := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "GET /api/detect", RawPath: "/api/detect",
			RawQueryString:        "url=" + url.QueryEscape(query["url"]) + "&referrer=" + url.QueryEscape(query["referrer"]),
			QueryStringParameters: query,
			Headers:               map[string]string{"x-api-key": key},
			RequestContext:        events.APIGatewayV2HTTPRequestContext{RouteKey: "GET /api/detect", RequestID: "req-detect"},
		}
		var resp events.APIGatewayV2HTTPResponse
		fn.invoke(t, req, &resp)
		return resp
	}
	assert.Equal(t, http.StatusUnauthorized, detect("wrong").StatusCode)
	resp := detect(apiKey)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	assert.Contains(t, resp.Body, `"channel":"Paid Search"`)
	// REFERERS_FILE, from the function's package.
	resp = detect(apiKey, "https://assistant.example.ai/")
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	assert.Contains(t, resp.Body, `"assistant":"Example Assistant"`)
}

// invokeHTTP sends an API Gateway HTTP API (payload 2.0) request with the API key.
func invokeHTTP(t *testing.T, fn *emulated, method, path, route string, params map[string]string, body string) events.APIGatewayV2HTTPResponse {
	return invokeHTTPWithKey(t, fn, apiKey, method, path, route, params, body)
}

// invokeHTTPQuery sends a GET with query string parameters and the API key.
func invokeHTTPQuery(t *testing.T, fn *emulated, path, route string, query map[string]string) events.APIGatewayV2HTTPResponse {
	return invokeHTTPRequest(t, fn, apiKey, "GET", path, route, nil, query, "")
}

func invokeHTTPWithKey(t *testing.T, fn *emulated, key, method, path, route string, params map[string]string, body string) events.APIGatewayV2HTTPResponse {
	return invokeHTTPRequest(t, fn, key, method, path, route, params, nil, body)
}

func invokeHTTPRequest(t *testing.T, fn *emulated, key, method, path, route string, params, query map[string]string, body string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	headers := map[string]string{"content-type": "application/json", "user-agent": "Segment.io/1.0"}
	if key != "" {
		headers["x-api-key"] = key
	}
	req := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              route,
		RawPath:               path,
		Headers:               headers,
		PathParameters:        params,
		QueryStringParameters: query,
		Body:                  body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:    "123456789012",
			APIID:        "rie",
			DomainName:   "rie.execute-api.us-east-1.amazonaws.com",
			DomainPrefix: "rie",
			RequestID:    "req-" + strconv.FormatInt(time.Now().UnixNano(), 10),
			RouteKey:     route,
			Stage:        "$default",
			Time:         time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    time.Now().UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "127.0.0.1", UserAgent: "Segment.io/1.0",
			},
		},
	}
	var resp events.APIGatewayV2HTTPResponse
	fn.invoke(t, req, &resp)
	return resp
}

// invokeStream delivers the stored event messageID as the INSERT record the events
// table's stream would, after the subscription's filter (serverless.yml) let it through.
func invokeStream(t *testing.T, fn *emulated, env *runtimeEnv, messageID string) events.DynamoDBEventResponse {
	t.Helper()
	item := storedEvent(t, env, messageID)
	require.NotNil(t, item, "event %s must be stored first (by the events scenario)", messageID)
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{{
		AWSRegion:      "us-east-1",
		EventID:        "rie-" + messageID,
		EventName:      "INSERT",
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: "arn:aws:dynamodb:us-east-1:123456789012:table/" + env.tables.Events + "/stream/2026-03-01T00:00:00.000",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now()},
			Keys:                        stream.FromSDK(map[string]types.AttributeValue{store.AttrMessageID: item[store.AttrMessageID]}),
			NewImage:                    stream.FromSDK(item),
			SequenceNumber:              strconv.FormatInt(time.Now().UnixNano(), 10),
			SizeBytes:                   512,
			StreamViewType:              "NEW_IMAGE",
		},
	}}}
	var resp events.DynamoDBEventResponse
	fn.invoke(t, ev, &resp)
	return resp
}

func storedEvent(t *testing.T, env *runtimeEnv, messageID string) map[string]types.AttributeValue {
	t.Helper()
	out, err := env.db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.tables.Events),
		Key:       map[string]types.AttributeValue{store.AttrMessageID: &types.AttributeValueMemberS{Value: messageID}},
	})
	require.NoError(t, err)
	return out.Item
}

func scan(t *testing.T, db *dynamodb.Client, table string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	require.NoError(t, err)
	return out.Items
}

// emulated is one function running under aws-lambda-rie.
type emulated struct {
	url  string
	log  *syncBuffer
	stop func()
}

// rieBinary is the emulator pinned as a tool in tools/go.mod (`go tool -n` builds and caches it).
func rieBinary(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command("go", "tool", "-n", "aws-lambda-rie")
	cmd.Dir = filepath.Join(root, "tools")
	out, err := cmd.Output()
	require.NoError(t, err, "go tool -n aws-lambda-rie")
	return strings.TrimSpace(string(out))
}

// startRIE runs bootstrap under the emulator. The emulator only takes fixed addresses, so
// a port can still be taken between choosing it and the emulator binding it; a start
// that fails for that reason is retried on fresh ports.
func startRIE(t *testing.T, rie, dir string, env []string) *emulated {
	t.Helper()
	for attempt := 1; ; attempt++ {
		fn, output, err := launchRIE(t, rie, dir, env)
		if err == nil {
			return fn
		}
		if attempt < 5 && strings.Contains(output, "address already in use") {
			t.Logf("aws-lambda-rie: a port was taken before it could bind; retrying (%v)", err)
			continue
		}
		t.Fatalf("%v:\n%s", err, output)
	}
}

func launchRIE(t *testing.T, rie, dir string, env []string) (*emulated, string, error) {
	t.Helper()
	addr, runtimeAPI := freeAddr(t), freeAddr(t)
	log := &syncBuffer{}
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", runtimeAPI,
		"--log-level", "info",
		filepath.Join(dir, "bootstrap"))
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = dieWithUs()
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start aws-lambda-rie: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, a := range []string{addr, runtimeAPI} {
		for {
			conn, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case <-done:
				return nil, log.String(), errors.New("aws-lambda-rie exited")
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				stop()
				return nil, log.String(), fmt.Errorf("aws-lambda-rie did not listen on %s", a)
			}
		}
	}
	// Something else answering on a port the emulator failed to bind looks the same from
	// here; the emulator then dies within milliseconds of starting, so wait a moment.
	select {
	case <-done:
		return nil, log.String(), errors.New("aws-lambda-rie exited")
	case <-time.After(100 * time.Millisecond):
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("aws-lambda-rie %s output:\n%s", filepath.Base(dir), log.String())
		}
	})
	return &emulated{url: "http://" + addr + "/2015-03-31/functions/function/invocations", log: log, stop: stop}, "", nil
}

// invoke posts payload and decodes the function's result into out. A function error
// (the emulator answers {"errorMessage", "errorType"}) fails the test.
func (e *emulated) invoke(t *testing.T, payload, out any) {
	t.Helper()
	body, err := json.Marshal(payload)
	require.NoError(t, err)
	data := e.invokeRaw(t, body)
	var fnErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(data, &fnErr) == nil && fnErr.ErrorType != "" {
		t.Fatalf("function error %s: %s\n%s", fnErr.ErrorType, fnErr.ErrorMessage, e.log.String())
	}
	require.NoError(t, json.Unmarshal(data, out), string(data))
}

// The emulator's REPORT line says "Init Duration" but measures nothing there (its init
// is asynchronous; the value is a fraction of a millisecond); rapid's own
// "INIT REPORT(durationMs: N)" is the time from starting bootstrap to its first call
// for work, which is what Lambda bills as Init Duration.
// invokeRaw posts body to the emulator and returns what the function answered.
func (e *emulated) invokeRaw(t *testing.T, body []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, e.log.String())
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s\n%s", data, e.log.String())
	return data
}

var (
	initReportRE = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	reportRE     = regexp.MustCompile(`REPORT RequestId: .*Init Duration: ([0-9.]+) ms`)
)

// initDuration is the cold start of the function, in milliseconds.
// The emulator's output reaches us through a pipe, possibly after the invoke's answer:
// wait a little for it.
func (e *emulated) initDuration(t *testing.T) (float64, bool) {
	m := initReportRE.FindStringSubmatch(e.log.String())
	for deadline := time.Now().Add(5 * time.Second); m == nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		m = initReportRE.FindStringSubmatch(e.log.String())
	}
	if m == nil { // an emulator without rapid's INIT REPORT
		m = reportRE.FindStringSubmatch(e.log.String())
	}
	if m == nil {
		t.Errorf("no init duration in the emulator's log:\n%s", e.log.String())
		return 0, false
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	return ms, err == nil
}

// freeAddr picks a port for a server that can only be told a fixed address. It prefers
// ports below the kernel's ephemeral range, which outgoing connections and port-0
// listeners (dynalite, the fake Segment) never get, so nothing else in the test run
// competes for them; startRIE retries the rare collision that remains.
func freeAddr(t *testing.T) string {
	t.Helper()
	low := ephemeralLow()
	for range 50 {
		port := 10_000 + rand.IntN(max(low-10_000, 1))
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			addr := l.Addr().String()
			l.Close()
			return addr
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// ephemeralLow is the first port the kernel hands out for outgoing connections and
// port-0 listeners (32768 unless configured otherwise).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32_768
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil || low <= 10_001 {
		return 32_768
	}
	return low
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeSegment is Segment's HTTP Tracking API on 127.0.0.1: it accepts /v1/batch and
// keeps the messages.
type fakeSegment struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []map[string]any
}

func newFakeSegment(t *testing.T) *fakeSegment {
	f := &fakeSegment{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch struct {
			Batch []map[string]any `json:"batch"`
		}
		if r.URL.Path != "/v1/batch" || json.NewDecoder(r.Body).Decode(&batch) != nil {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.msgs = append(f.msgs, batch.Batch...)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true}`)
	}))
	t.Cleanup(f.Close)
	return f
}

// messages returns what was sent of the given type.
func (f *fakeSegment) messages(typ string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, m := range f.msgs {
		if m["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}
