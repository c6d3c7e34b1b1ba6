package dynalite

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client that gives up mid-request (a cancelled context, Ctrl-C on
// `attribution import`) must not take the shared server down with it:
// dynalite rethrows the request's "aborted" error, which ends a bare node process.
func TestSurvivesClientHangingUpMidRequest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{})
	require.NoError(t, err)
	defer s.Stop()
	addr := strings.TrimPrefix(s.Endpoint, "http://")

	for range 3 {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 1000\r\n\r\n{\"Lim", addr)
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, conn.Close())
	}
	time.Sleep(200 * time.Millisecond)

	select {
	case <-s.Exited():
		t.Fatalf("dynalite exited after a client hung up: %v", s.Err())
	default:
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint, strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "dynalite must still answer after a client hung up")
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	// Unsigned, so dynalite refuses it, with its own error: the server is alive.
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, string(body))
	assert.Contains(t, string(body), "__type", "an answer from dynalite itself")
}

func TestPortInUseIsAClearError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = Start(ctx, Options{Port: l.Addr().(*net.TCPAddr).Port})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited before listening")
}

func TestEachStartGetsItsOwnServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	for range 3 {
		s, err := Start(ctx, Options{})
		require.NoError(t, err)
		defer s.Stop()
		assert.False(t, seen[s.Endpoint], "two servers on %s", s.Endpoint)
		seen[s.Endpoint] = true
	}
}

// Where Pdeathsig does not exist (macOS), dynalite must still not outlive us: when our
// end of its stdin closes, as the kernel does when we die, it exits.
func TestExitsWhenItsParentsPipeCloses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{})
	require.NoError(t, err)
	defer s.Stop()

	require.NoError(t, s.lifeline.Close())
	select {
	case <-s.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("dynalite still runs 10s after its stdin closed")
	}
}
