package main

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
)

// TestMain runs the command itself when asked to (see attribution), as main does, with
// its signal handling (a test stops `serve` with Ctrl-C), and the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv("ATTRIBUTION_TEST_RUN_MAIN") == "1" {
		main()
	}
	dbtest.Main(m)
}

// attribution runs this test binary as the attribution command with args.
func attribution(t *testing.T, args ...string) (stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ATTRIBUTION_TEST_RUN_MAIN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil {
		require.ErrorAs(t, err, &exit)
		return string(out), exit.ExitCode()
	}
	return string(out), 0
}

func TestEveryCommandAnswersHelp(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			out, code := attribution(t, c.name, "-h")
			assert.Equal(t, 0, code, out)
			assert.Contains(t, out, "usage: attribution "+c.name)
		})
	}
	out, code := attribution(t, "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "usage: attribution <command>")
	_, code = attribution(t, "no-such-command")
	assert.Equal(t, 2, code)
}
