// Package dbtest gives tests a real DynamoDB-compatible server: dynalite started once
// per test binary on a free port (or DYNAMODB_ENDPOINT when set), and uniquely named
// tables per test, so tests never share state and never skip.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dynalite"
	"github.com/attribution-dev/attribution/internal/store"
)

var (
	once     sync.Once
	server   *dynalite.Server
	endpoint string
	startErr error
)

// Main runs the package's tests and stops dynalite afterwards. Use it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

// Endpoint returns the DynamoDB endpoint, starting dynalite on first use.
func Endpoint(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if ep := os.Getenv("DYNAMODB_ENDPOINT"); ep != "" {
			endpoint = ep
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		server, startErr = dynalite.Start(ctx, dynalite.Options{})
		if startErr == nil {
			endpoint = server.Endpoint
		}
	})
	if startErr != nil {
		t.Fatalf("start dynalite: %v", startErr)
	}
	// Say so once, plainly, rather than as every later test's "connection refused".
	if server != nil {
		select {
		case <-server.Exited():
			t.Fatalf("dynalite, shared by this package's tests, exited during the run: %v (its output is above)", server.Err())
		default:
		}
	}
	return endpoint
}

// Client returns a DynamoDB client for the test endpoint.
func Client(t testing.TB) *dynamodb.Client {
	t.Helper()
	db, err := store.NewClient(context.Background(), store.ClientOptions{Region: "us-east-1", Endpoint: Endpoint(t)})
	if err != nil {
		t.Fatalf("dynamodb client: %v", err)
	}
	return db
}

// Tables creates the tables under unique names and deletes them when the test ends.
func Tables(t testing.TB, db *dynamodb.Client) store.Tables {
	t.Helper()
	prefix := "t-" + randomHex(6)
	tables := store.Tables{Events: prefix + "-events", Identities: prefix + "-identities", Touches: prefix + "-touches", Conversions: prefix + "-conversions"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := store.CreateTables(ctx, db, tables); err != nil {
		t.Fatalf("create tables: %v", err)
	}
	t.Cleanup(func() { Drop(db, tables) })
	return tables
}

// Drop deletes the tables now, ignoring ones already gone. Benchmarks call it between
// iterations so dynalite's memory, and with it its speed, stays the same throughout.
func Drop(db *dynamodb.Client, tables store.Tables) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range tables.Names() {
		_, _ = db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	}
}

// Config is the default configuration pointed at tables.
func Config(t testing.TB, tables store.Tables) config.Config {
	t.Helper()
	cfg, err := config.FromLookup(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	cfg.EventsTable, cfg.IdentitiesTable, cfg.TouchesTable = tables.Events, tables.Identities, tables.Touches
	cfg.ConversionsTable = tables.Conversions
	return cfg
}

// New is Client and Tables in one call.
func New(t testing.TB) (*dynamodb.Client, store.Tables) {
	t.Helper()
	db := Client(t)
	return db, Tables(t, db)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
