// Package logging builds the service's slog logger: JSON in Lambda, where CloudWatch
// indexes fields, and readable text on a terminal.
package logging

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// New returns a logger writing JSON when json is true, text otherwise. LOG_LEVEL
// (debug, info, warn, error) sets the level; payloads with personal data are only ever
// logged at debug.
func New(w io.Writer, json bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: levelFromEnv()}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// ForLambda is New(os.Stdout, true) when running in Lambda and text on stderr otherwise.
func ForLambda() *slog.Logger {
	if _, ok := os.LookupEnv("AWS_LAMBDA_FUNCTION_NAME"); ok {
		return New(os.Stdout, true)
	}
	return New(os.Stderr, false)
}

func levelFromEnv() slog.Level {
	switch strings.ToLower(os.Getenv("LOG_LEVEL")) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
