package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/source"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestDefaultsDeriveTableNamesFromStage(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{"STAGE": "prod"}))
	require.NoError(t, err)
	assert.Equal(t, "attribution-prod-events", c.EventsTable)
	assert.Equal(t, "attribution-prod-touches", c.TouchesTable)
	assert.Equal(t, DefaultSegmentEndpoint, c.SegmentEndpoint)
	assert.Equal(t, DefaultSourceEvent, c.SourceIdentifiedEvent)
	assert.True(t, c.Realtime)
	assert.Zero(t, c.EventRetention())
	assert.Equal(t, 200, c.MaxAnonymousIDsPerUser)
	assert.Equal(t, 10, c.MaxUsersPerAnonymousID)
	assert.True(t, c.BlockedIDs.Blocked("undefined"))
}

func TestListsAndNumbers(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{
		"INTERNAL_DOMAINS": " Example.com, app.example.com ,,", "RETENTION_DAYS": "30",
		"REALTIME": "false", "SEGMENT_ENDPOINT": "https://events.eu1.segmentapis.com/",
		"BLOCKED_IDS": "void, /^test-/", "MAX_USERS_PER_ANONYMOUS_ID": "3",
	}))
	assert.True(t, c.BlockedIDs.Blocked("void"))
	assert.True(t, c.BlockedIDs.Blocked("test-1"))
	assert.Equal(t, 3, c.MaxUsersPerAnonymousID)
	require.NoError(t, err)
	assert.Equal(t, []string{"example.com", "app.example.com"}, c.InternalDomains)
	assert.Equal(t, 30, c.RetentionDays)
	assert.False(t, c.Realtime)
	assert.Equal(t, "https://events.eu1.segmentapis.com", c.SegmentEndpoint)
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for name, value := range map[string]string{"RETENTION_DAYS": "ten", "REALTIME": "maybe", "TOUCH_RETENTION_DAYS": "-1",
		"BLOCKED_IDS": "void,/[a-/", "MAX_ANONYMOUS_IDS_PER_USER": "0", "MAX_USERS_PER_ANONYMOUS_ID": "many"} {
		_, err := FromLookup(lookup(map[string]string{name: value}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), name)
	}
}

func TestRequireInLambdaNamesMissing(t *testing.T) {
	err := RequireInLambda(lookup(map[string]string{"EVENTS_TABLE": "x"}), "EVENTS_TABLE", "TOUCHES_TABLE")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TOUCHES_TABLE")
	assert.NotContains(t, err.Error(), "EVENTS_TABLE")
}

func TestConversionSettings(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{}))
	require.NoError(t, err)
	assert.Empty(t, c.ConversionEvents)
	assert.Equal(t, 90, c.ConversionLookbackDays)
	assert.Equal(t, "UTC", c.ReportLocation.String())
	assert.Equal(t, "attribution-dev-conversions", c.ConversionsTable)

	c, err = FromLookup(lookup(map[string]string{
		"CONVERSION_EVENTS": " Signed Up,Order Completed ,, signed up,Signed Up", "CONVERSION_LOOKBACK_DAYS": "30",
		"REPORT_TIMEZONE": "Europe/Paris", "CONVERSION_CREDITS_EVENT": "Conversion Credited",
	}))
	require.NoError(t, err)
	assert.Equal(t, []string{"Signed Up", "Order Completed", "signed up"}, c.ConversionEvents, "case kept, repeats dropped")
	assert.Equal(t, 30*24*time.Hour, c.ConversionLookback())
	assert.Equal(t, "Europe/Paris", c.ReportLocation.String())
	assert.Equal(t, "Conversion Credited", c.ConversionCreditsEvent)

	_, err = FromLookup(lookup(map[string]string{"REPORT_TIMEZONE": "Mars/Olympus"}))
	require.ErrorContains(t, err, "REPORT_TIMEZONE")
	_, err = FromLookup(lookup(map[string]string{"CONVERSION_LOOKBACK_DAYS": "0"}))
	require.ErrorContains(t, err, "CONVERSION_LOOKBACK_DAYS")
}

func TestReferersFile(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{}))
	require.NoError(t, err)
	require.NotNil(t, c.Rules, "the built-in rules without REFERERS_FILE")
	page := "https://acme.test/"
	assert.Equal(t, source.TypeLink, source.New(source.Options{Rules: c.Rules}).Detect(page, "https://search.example.org/").Referrer.Type)

	dir := t.TempDir()
	good := filepath.Join(dir, "referers.yml")
	require.NoError(t, os.WriteFile(good, []byte("search:\n  Example Search:\n    parameters: [q]\n    domains: [search.example.org]\n"), 0o644))
	c, err = FromLookup(lookup(map[string]string{"REFERERS_FILE": " " + good + " "}))
	require.NoError(t, err)
	assert.Equal(t, good, c.ReferersFile)
	got := source.New(source.Options{Rules: c.Rules}).Detect(page, "https://search.example.org/?q=crm").Referrer
	assert.Equal(t, source.Referrer{Type: source.TypeSearch, Engine: "Example Search", Query: "crm"}, got)

	broken := filepath.Join(dir, "broken.yml")
	require.NoError(t, os.WriteFile(broken, []byte("search:\n  A:\n    domains: [a.example]\nvideo:\n  B:\n    domains: [b.example]\n"), 0o644))
	_, err = FromLookup(lookup(map[string]string{"REFERERS_FILE": broken}))
	require.Error(t, err, "a broken file stops the start")
	assert.Equal(t, "REFERERS_FILE: "+broken+`:4: unknown medium "video" (want one of search, social, email, paid, chatbot, unknown)`, err.Error())

	_, err = FromLookup(lookup(map[string]string{"REFERERS_FILE": filepath.Join(dir, "missing.yml")}))
	require.Error(t, err, "a missing file stops the start")
	assert.Contains(t, err.Error(), "REFERERS_FILE")
	assert.Contains(t, err.Error(), filepath.Join(dir, "missing.yml"))
}
