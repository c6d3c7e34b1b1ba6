package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/store"
)

// serveProcess is `attribution serve` in a child process, on shared tables and a
// shared data directory.
type serveProcess struct {
	cmd *exec.Cmd
	url string
	out bytes.Buffer
}

func startServe(t *testing.T, dataDir string, tables store.Tables) *serveProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	p := &serveProcess{url: "http://127.0.0.1:" + strconv.Itoa(port)}
	p.cmd = exec.Command(os.Args[0], "serve", "-port", strconv.Itoa(port), "-data", dataDir)
	p.cmd.Env = append(os.Environ(), "ATTRIBUTION_TEST_RUN_MAIN=1", "DYNAMODB_ENDPOINT="+dbtest.Endpoint(t),
		"EVENTS_TABLE="+tables.Events, "IDENTITIES_TABLE="+tables.Identities, "TOUCHES_TABLE="+tables.Touches,
		"SEGMENT_WRITE_KEY=", "API_KEY=", "SEGMENT_SHARED_SECRET=")
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(p.url + "/api/anonymous/nobody")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "serve did not start")
	return p
}

func TestServeKilledWithRecordsQueuedDerivesThemAfterRestart(t *testing.T) {
	db, tables := dbtest.New(t)
	dataDir := t.TempDir()
	p := startServe(t, dataDir, tables)

	const visitors = 300
	var batch []map[string]any
	for i := range visitors {
		batch = append(batch, map[string]any{
			"type": "page", "messageId": fmt.Sprintf("k%03d", i), "anonymousId": fmt.Sprintf("kv%03d", i),
			"timestamp":  "2026-11-29T10:00:00Z",
			"properties": map[string]any{"url": "https://acme.io/", "referrer": "https://www.google.com/"},
		})
	}
	body, err := json.Marshal(batch)
	require.NoError(t, err)
	resp, err := http.Post(p.url+"/events", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL)) // no shutdown, no last checkpoint
	_ = p.cmd.Wait()

	touches := store.NewTouches(db, tables.Touches)
	missing := func() int {
		n := 0
		for i := range visitors {
			got, err := touches.ByVisitor(context.Background(), fmt.Sprintf("kv%03d", i))
			require.NoError(t, err)
			if len(got) != 1 {
				n++
			}
		}
		return n
	}
	require.Positive(t, missing(), "the kill came before the consumers were done (else this test proves nothing)")

	p = startServe(t, dataDir, tables)
	require.Eventually(t, func() bool { return missing() == 0 }, 60*time.Second, 200*time.Millisecond, "every stored page view has its touch")
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	require.NoError(t, p.cmd.Wait(), p.out.String())
	require.Contains(t, p.out.String(), "stream records from before the last stop delivered again")
}
