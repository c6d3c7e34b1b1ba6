// Package config reads the service's settings from the environment, and from a .env file
// when one is present. Variables already in the environment win over .env.
package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/source"
)

// Config is every setting the README's "Configuration" lists.
type Config struct {
	Region           string
	Stage            string
	EventsTable      string
	IdentitiesTable  string
	TouchesTable     string
	DynamoDBEndpoint string
	// StreamFailuresQueueURL is the SQS queue receiving the stream records the deployed
	// consumers gave up on (serverless.yml's StreamFailuresQueue), for redrive.
	StreamFailuresQueueURL string

	SegmentWriteKey string
	SegmentEndpoint string
	SharedSecret    string
	APIKey          string

	SourceIdentifiedEvent string
	InternalDomains       []string
	IgnoredReferrers      []string
	Realtime              bool
	RetentionDays         int
	TouchRetentionDays    int

	// ReferersFile is REFERERS_FILE, a referers.yml of the operator's; Rules are the
	// built-in referrer rules with it on top, read once here and shared by every
	// Detector of the process (source.Options.Rules).
	ReferersFile string
	Rules        *source.Rules

	// BlockedIDs are ids that never identify anyone: the built-in list and BLOCKED_IDS.
	BlockedIDs *event.Blocklist
	// MaxAnonymousIDsPerUser and MaxUsersPerAnonymousID cap identity merges.
	MaxAnonymousIDsPerUser int
	MaxUsersPerAnonymousID int
	ConversionsTable       string
	// ConversionEvents are the track event names that are conversions, in their
	// configured order and case: Segment event names are case-sensitive.
	ConversionEvents       []string
	ConversionLookbackDays int
	// ReportTimezone is the IANA name reports count calendar days in; ReportLocation
	// is it loaded.
	ReportTimezone         string
	ReportLocation         *time.Location
	ConversionCreditsEvent string
}

// Defaults match .env.example so that a fresh clone runs without a .env.
const (
	DefaultRegion          = "us-east-1"
	DefaultStage           = "dev"
	DefaultSegmentEndpoint = "https://api.segment.io"
	DefaultSourceEvent     = "Source Identified"

	DefaultMaxAnonymousIDsPerUser = 200
	DefaultMaxUsersPerAnonymousID = 10
	// MaxMergeCap bounds both caps: each linked id costs its counter item 32 bytes, and
	// the item must stay under DynamoDB's 400 KB.
	MaxMergeCap           = 10_000
	DefaultLookbackDays   = 90
	DefaultReportTimezone = "UTC"
)

// Load reads .env (if present) into the process environment without overriding what is
// already set, then parses the environment.
func Load() (Config, error) {
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Config{}, fmt.Errorf("load .env: %w", err)
	}
	return FromLookup(os.LookupEnv)
}

// FromLookup parses settings from any lookup function, so tests need no process environment.
func FromLookup(lookup func(string) (string, bool)) (Config, error) {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	c := Config{
		Region:                 get("AWS_REGION", DefaultRegion),
		Stage:                  get("STAGE", DefaultStage),
		DynamoDBEndpoint:       get("DYNAMODB_ENDPOINT", ""),
		StreamFailuresQueueURL: get("STREAM_FAILURES_QUEUE_URL", ""),
		SegmentWriteKey:        get("SEGMENT_WRITE_KEY", ""),
		SegmentEndpoint:        strings.TrimRight(get("SEGMENT_ENDPOINT", DefaultSegmentEndpoint), "/"),
		SharedSecret:           get("SEGMENT_SHARED_SECRET", ""),
		APIKey:                 get("API_KEY", ""),
		SourceIdentifiedEvent:  get("SOURCE_IDENTIFIED_EVENT", DefaultSourceEvent),
		InternalDomains:        splitList(get("INTERNAL_DOMAINS", "")),
		IgnoredReferrers:       splitList(get("IGNORED_REFERRERS", "")),
		ReferersFile:           get("REFERERS_FILE", ""),
	}
	c.EventsTable = get("EVENTS_TABLE", "attribution-"+c.Stage+"-events")
	c.IdentitiesTable = get("IDENTITIES_TABLE", "attribution-"+c.Stage+"-identities")
	c.TouchesTable = get("TOUCHES_TABLE", "attribution-"+c.Stage+"-touches")
	c.ConversionsTable = get("CONVERSIONS_TABLE", "attribution-"+c.Stage+"-conversions")
	c.ConversionEvents = splitNames(get("CONVERSION_EVENTS", ""))
	c.ConversionCreditsEvent = get("CONVERSION_CREDITS_EVENT", "")
	c.ReportTimezone = get("REPORT_TIMEZONE", DefaultReportTimezone)

	var err error
	if c.Realtime, err = parseBool("REALTIME", get("REALTIME", "true")); err != nil {
		return Config{}, err
	}
	if c.RetentionDays, err = parseDays("RETENTION_DAYS", get("RETENTION_DAYS", "")); err != nil {
		return Config{}, err
	}
	if c.TouchRetentionDays, err = parseDays("TOUCH_RETENTION_DAYS", get("TOUCH_RETENTION_DAYS", "")); err != nil {
		return Config{}, err
	}
	if c.BlockedIDs, err = event.ParseBlocklist(get("BLOCKED_IDS", "")); err != nil {
		return Config{}, fmt.Errorf("BLOCKED_IDS: %w", err)
	}
	if c.MaxAnonymousIDsPerUser, err = parseCap("MAX_ANONYMOUS_IDS_PER_USER", get("MAX_ANONYMOUS_IDS_PER_USER", strconv.Itoa(DefaultMaxAnonymousIDsPerUser))); err != nil {
		return Config{}, err
	}
	if c.MaxUsersPerAnonymousID, err = parseCap("MAX_USERS_PER_ANONYMOUS_ID", get("MAX_USERS_PER_ANONYMOUS_ID", strconv.Itoa(DefaultMaxUsersPerAnonymousID))); err != nil {
		return Config{}, err
	}
	lookback := get("CONVERSION_LOOKBACK_DAYS", strconv.Itoa(DefaultLookbackDays))
	if c.ConversionLookbackDays, err = strconv.Atoi(lookback); err != nil || c.ConversionLookbackDays < 1 {
		return Config{}, fmt.Errorf("CONVERSION_LOOKBACK_DAYS: %q is not a positive number of days", lookback)
	}
	if c.ReportLocation, err = time.LoadLocation(c.ReportTimezone); err != nil {
		return Config{}, fmt.Errorf("REPORT_TIMEZONE: %q is not an IANA time zone name (e.g. UTC, Europe/Paris): %w", c.ReportTimezone, err)
	}
	// A binary built from a broken rules.json stops here, whatever it was started for.
	if c.Rules, err = source.BuiltinRules(); err != nil {
		return Config{}, err
	}
	if c.ReferersFile != "" {
		if c.Rules, err = source.ReadReferers(c.ReferersFile); err != nil {
			return Config{}, fmt.Errorf("REFERERS_FILE: %w", err)
		}
	}
	return c, nil
}

// ConversionLookback is how far before a conversion its touches count.
func (c Config) ConversionLookback() time.Duration {
	return time.Duration(c.ConversionLookbackDays) * 24 * time.Hour
}

// RequireInLambda names every variable a deployed function must have explicitly: defaults
// that suit a laptop (table names derived from STAGE) would silently point a Lambda at
// the wrong tables.
func RequireInLambda(lookup func(string) (string, bool), names ...string) error {
	var missing []string
	for _, n := range names {
		if v, ok := lookup(n); !ok || strings.TrimSpace(v) == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required environment variable(s): %s", strings.Join(missing, ", "))
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.ToLower(strings.TrimSpace(part)); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// splitNames splits a comma separated list of names, trimmed but keeping their case, and
// drops repeats.
func splitNames(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func parseBool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", name, v)
	}
	return b, nil
}

func parseDays(name, v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: %q is not a positive number of days (leave it empty to keep forever)", name, v)
	}
	return n, nil
}

func parseCap(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxMergeCap {
		return 0, fmt.Errorf("%s: %q is not a number from 1 to %d", name, v, MaxMergeCap)
	}
	return n, nil
}

// EventRetention is how long raw events are kept (0: forever).
func (c Config) EventRetention() time.Duration {
	return time.Duration(c.RetentionDays) * 24 * time.Hour
}

// TouchRetention is how long touches are kept (0: forever).
func (c Config) TouchRetention() time.Duration {
	return time.Duration(c.TouchRetentionDays) * 24 * time.Hour
}
