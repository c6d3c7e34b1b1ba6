package main

import (
	"os"
	"testing"

	"github.com/attribution-dev/attribution/internal/dbtest"
)

// runMainEnv makes the test binary run the command itself, so tests can start, kill and
// restart `attribution serve` as an operator would.
const runMainEnv = "ATTRIBUTION_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) != "" {
		main()
		os.Exit(0)
	}
	dbtest.Main(m)
}
