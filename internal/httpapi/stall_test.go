package httpapi

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStalledBodyClosesTheConnection(t *testing.T) {
	called := false
	h := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		called = true
		return JSON(http.StatusOK, map[string]int{}), nil
	}
	srv := httptest.NewServer(NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), 300*time.Millisecond,
		Route{Method: http.MethodPost, Path: "/events", Handler: h}))
	defer srv.Close()

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	// Promise 1,000 bytes, send 10, then stall.
	_, err = io.WriteString(conn, "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"type\":\"p")
	require.NoError(t, err)

	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)), "the test's own bound: the server must act first")
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	assert.Less(t, time.Since(start), 3*time.Second)
	_, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	// The server hangs up: the next read ends instead of waiting for the test's deadline.
	_, err = conn.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
	assert.False(t, called, "a handler never sees half a body")
}
