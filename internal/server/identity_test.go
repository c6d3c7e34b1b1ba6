package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/event"
)

// Thousands of devices of an app that calls identify("undefined"), or identify with a
// team's test id, never become one person; and a junk id no list knows is capped.
func TestJunkIDsNeverMergeDevices(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		var err error
		c.BlockedIDs, err = event.ParseBlocklist("abc123")
		require.NoError(t, err)
		c.MaxAnonymousIDsPerUser = 3
	})
	for i := range 5 {
		dev := fmt.Sprintf("device-%d", i)
		e.page("p-"+dev, dev, time.Duration(i)*time.Minute, "https://acme.io/", "https://www.google.com/")
		e.identify("undefined-"+dev, dev, "undefined", time.Duration(i)*time.Minute+time.Second)
		e.identify("test-"+dev, dev, "abc123", time.Duration(i)*time.Minute+2*time.Second)
		e.identify("junk-"+dev, dev, "user-everyone", time.Duration(i)*time.Minute+3*time.Second)
	}
	e.settle()

	for _, u := range []string{"undefined", "abc123"} {
		status, out := e.get("/api/user/"+u, "")
		assert.Equal(t, http.StatusNotFound, status, "%s: %v", u, out)
	}
	status, out := e.get("/api/user/user-everyone", "")
	require.Equal(t, http.StatusOK, status, out)
	assert.Len(t, out["anonymousIds"], 3, "capped")
	assert.Equal(t, true, out["mergeCap"].(map[string]any)["reached"])

	status, out = e.get("/api/anonymous/device-0", "")
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, []any{"user-everyone"}, out["userIds"], "the device kept its real link only")
}
