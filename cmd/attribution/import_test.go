package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

const archive = `{"type":"page","messageId":"c-1","anonymousId":"v","timestamp":"2026-01-01T00:00:00Z"}
{"type":"page","messageId":"c-2","anonymousId":"v","timestamp":"2026-01-01T00:00:01Z"}
not json
{"type":"identify","messageId":"c-3","anonymousId":"v","userId":"u","timestamp":"2026-01-01T00:00:02Z"}
`

// importTables points the command at fresh tables on the test's dynalite.
func importTables(t *testing.T) (*dynamodb.Client, store.Tables) {
	t.Helper()
	db, tables := dbtest.New(t)
	t.Setenv("DYNAMODB_ENDPOINT", dbtest.Endpoint(t))
	t.Setenv("EVENTS_TABLE", tables.Events)
	t.Setenv("IDENTITIES_TABLE", tables.Identities)
	t.Setenv("TOUCHES_TABLE", tables.Touches)
	return db, tables
}

func TestImportCommand(t *testing.T) {
	importTables(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(archive), 0o600))

	out, err := captureStdout(t, func() error {
		return runImport(context.Background(), []string{"--data", dir, "--json", path})
	})
	require.NoError(t, err, "a rejected line is counted, not a failure")
	var sum map[string]any
	require.NoError(t, json.Unmarshal(out, &sum), string(out))
	assert.EqualValues(t, 4, sum["read"])
	assert.EqualValues(t, 3, sum["stored"])
	assert.EqualValues(t, 1, sum["rejected"])
	rejects, _ := filepath.Glob(filepath.Join(dir, "import-rejects-*.jsonl"))
	require.Len(t, rejects, 1)
	assert.Equal(t, rejects[0], sum["rejectsFile"])
	b, err := os.ReadFile(rejects[0])
	require.NoError(t, err)
	assert.Contains(t, string(b), `"line":3`)

	// A second run, most likely in the same second, gets its own rejects file.
	out, err = captureStdout(t, func() error {
		return runImport(context.Background(), []string{"--data", dir, "--json", path})
	})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, &sum), string(out))
	rejects, _ = filepath.Glob(filepath.Join(dir, "import-rejects-*.jsonl"))
	require.Len(t, rejects, 2, "each run keeps its own rejects")
	for _, r := range rejects {
		b, err := os.ReadFile(r)
		require.NoError(t, err)
		assert.Equal(t, 1, bytes.Count(b, []byte("\n")), "%s holds one run's reject", r)
	}
	assert.Contains(t, rejects, sum["rejectsFile"])

	_, err = captureStdout(t, func() error {
		return runImport(context.Background(), []string{"--data", dir, "--no-derive", "--rejects", filepath.Join(dir, "r.jsonl"), path})
	})
	require.NoError(t, err)
}

func TestImportCommandDynamoDBDown(t *testing.T) {
	// Port 1 is privileged and unused: connections are refused, and no parallel test's
	// server can ever be listening there (a just-closed port could be reused).
	t.Setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:1")
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(archive), 0o600))

	_, err := captureStdout(t, func() error {
		return runImport(context.Background(), []string{"--data", dir, "--workers", "1", path})
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "could not store events")
	assert.Contains(t, err.Error(), "rerun")
}

func TestImportCommandMissingFile(t *testing.T) {
	err := runImport(context.Background(), []string{filepath.Join(t.TempDir(), "nope.jsonl")})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "no such file"), err.Error())
}

func captureStdout(t *testing.T, fn func() error) ([]byte, error) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	orig := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = orig }()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&buf, r); close(done) }()
	runErr := fn()
	w.Close()
	<-done
	return buf.Bytes(), runErr
}

// TestImportDetectsWithReferersFile: the touches an import derives see REFERERS_FILE.
func TestImportDetectsWithReferersFile(t *testing.T) {
	db, tables := importTables(t)
	t.Setenv("REFERERS_FILE", "../../internal/source/testdata/referers.yml")
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	page := `{"type":"page","messageId":"r-1","anonymousId":"rv","timestamp":"2026-01-01T00:00:00Z",` +
		`"properties":{"url":"https://acme.test/","referrer":"https://assistant.example.ai/"}}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(page), 0o600))

	_, err := captureStdout(t, func() error {
		return runImport(context.Background(), []string{"--data", dir, path})
	})
	require.NoError(t, err)
	touches, err := store.NewTouches(db, tables.Touches).ByVisitor(context.Background(), store.VisitorID("rv", ""))
	require.NoError(t, err)
	require.Len(t, touches, 1)
	assert.Equal(t, source.Referrer{Type: source.TypeAI, Assistant: "Example Assistant"}, touches[0].Description.Referrer)
}
