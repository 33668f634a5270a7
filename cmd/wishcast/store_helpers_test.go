package main

import (
	"os"
	"testing"

	"github.com/wishcast/wishcast/internal/pgtest"
)

// pg is the PostgreSQL server of this package's tests, started when a
// test first asks for a database (TestMain stops it). The cluster
// measurements (WISHCAST_CLUSTER_MEASURE) also want its statement
// statistics.
var pg = pgtest.New(pgtest.Options{Required: os.Getenv("CI") != "", Statements: os.Getenv("WISHCAST_CLUSTER_MEASURE") != ""})

// testStore is where a test's servers and CLI commands keep their
// accounts: a data directory (always; the camera list lives there) and,
// for PostgreSQL, a database of the test's own.
type testStore struct {
	kind string // "sqlite" or "postgres"
	dir  string
	url  string // DATABASE_URL; "" for SQLite in dir
}

// apply points a server's configuration at the store.
func (s testStore) apply(c *Config) {
	c.DataDir = s.dir
	c.DatabaseURL = s.url
}

// env is the store's settings, for a CLI command or a child process.
func (s testStore) env() map[string]string {
	return map[string]string{"WISHCAST_DATA_DIR": s.dir, "WISHCAST_DATABASE_URL": s.url}
}

// sqliteStore is a fresh SQLite store in a temporary data directory.
func sqliteStore(t *testing.T) testStore {
	return testStore{kind: "sqlite", dir: t.TempDir()}
}

// postgresStore is a fresh PostgreSQL database (the test skips without
// PostgreSQL, or fails in CI).
func postgresStore(t *testing.T) testStore {
	return testStore{kind: "postgres", dir: t.TempDir(), url: pg.Database(t)}
}

// forEachStore runs test on a fresh store of each backend, as subtests.
func forEachStore(t *testing.T, test func(t *testing.T, st testStore)) {
	t.Helper()
	for _, b := range []struct {
		kind string
		make func(*testing.T) testStore
	}{{"sqlite", sqliteStore}, {"postgres", postgresStore}} {
		t.Run(b.kind, func(t *testing.T) { test(t, b.make(t)) })
	}
}
