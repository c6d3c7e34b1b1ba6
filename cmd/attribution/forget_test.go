package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/erase"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
)

func TestForget(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	cfg, err := config.FromLookup(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.EventsTable, cfg.IdentitiesTable, cfg.TouchesTable = tables.Events, tables.Identities, tables.Touches
	env := app.Env{Config: cfg, DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, raw := range []string{
		`{"type":"page","messageId":"m1","anonymousId":"dev-1","timestamp":"2026-03-01T09:00:00Z"}`,
		`{"type":"identify","messageId":"m2","anonymousId":"dev-1","userId":"u-1","timestamp":"2026-03-01T09:01:00Z"}`,
		`{"type":"page","messageId":"m3","anonymousId":"dev-2","timestamp":"2026-03-01T09:02:00Z"}`,
	} {
		ev, err := event.Parse([]byte(raw))
		require.NoError(t, err)
		_, err = env.Events().Put(ctx, ev)
		require.NoError(t, err)
	}
	require.NoError(t, env.Identities().Put(ctx, store.Link{UserID: "u-1", AnonymousID: "dev-1", Source: store.LinkIdentify, MessageID: "m2", FirstSeen: t0}))

	run := func(user, anon string) (erase.Result, error) {
		var out bytes.Buffer
		err := forget(ctx, env.Eraser(), user, anon, &out)
		var res erase.Result
		if err == nil {
			require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
		}
		return res, err
	}

	res, err := run("u-1", "")
	require.NoError(t, err)
	// Identities: the link, and u-1's merge-cap counter kept in its partition.
	assert.Equal(t, erase.Removed{Events: 2, Touches: 0, Identities: 2}, res.Removed)
	assert.Equal(t, []string{"dev-1"}, res.AnonymousIDs)

	res, err = run("", "dev-2")
	require.NoError(t, err)
	assert.Equal(t, erase.Removed{Events: 1}, res.Removed)

	res, err = run("u-1", "")
	require.NoError(t, err)
	assert.True(t, res.AlreadyErased)
	assert.Equal(t, erase.Removed{}, res.Removed)

	for _, tc := range []struct{ user, anon, want string }{
		{"", "", "exactly one"},
		{"u", "a", "exactly one"},
		{" ", "", "id is required"},
	} {
		_, err := run(tc.user, tc.anon)
		assert.ErrorContains(t, err, tc.want)
	}
}
