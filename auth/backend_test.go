package auth

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testDB is one database of the contract suite: a fresh location on one
// backend, which every store the test opens shares (so that a test can
// close and reopen it, or open two stores at once as two processes
// would).
type testDB struct {
	kind string
	loc  Location
}

// testBackends are the backends the contract suite runs on. newDB returns
// a fresh, empty location for a test.
func testBackends() []struct {
	kind  string
	newDB func(t testing.TB) Location
} {
	return []struct {
		kind  string
		newDB func(t testing.TB) Location
	}{
		{"sqlite", func(t testing.TB) Location {
			return Location{Path: filepath.Join(t.TempDir(), DefaultFileName)}
		}},
		{"postgres", func(t testing.TB) Location {
			return Location{URL: pg.Database(t)}
		}},
	}
}

// forEachBackend runs test once per backend, as a subtest named after it,
// each time on a fresh database.
func forEachBackend(t *testing.T, test func(t *testing.T, db *testDB)) {
	t.Helper()
	for _, b := range testBackends() {
		t.Run(b.kind, func(t *testing.T) {
			test(t, &testDB{kind: b.kind, loc: b.newDB(t)})
		})
	}
}

// openLogged opens a store on the database with cfg, logging into the
// returned buffer, and closes it when the test ends.
func (db *testDB) openLogged(t testing.TB, cfg Config) (*Store, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := open(context.Background(), db.loc, cfg, log, true)
	if err != nil {
		t.Fatalf("open %s store: %v", db.kind, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, buf
}

// open opens a store on the database with testConfig.
func (db *testDB) open(t testing.TB) *Store {
	t.Helper()
	s, _ := db.openLogged(t, testConfig())
	return s
}

// tryOpen opens a store on the database with cfg and returns the error.
func (db *testDB) tryOpen(cfg Config) (*Store, error) {
	return open(context.Background(), db.loc, cfg, nil, true)
}

// rawExec runs a statement on s's database behind the store's back; query
// is written with ? placeholders, in SQL both dialects understand.
func rawExec(t testing.TB, s *Store, query string, args ...any) {
	t.Helper()
	var err error
	switch b := s.db.(type) {
	case *sqliteDB:
		_, err = b.wdb.Exec(query, args...)
	case *pgDB:
		_, err = b.pool.Exec(context.Background(), dollars(query), args...)
	default:
		t.Fatalf("exec on a %s store", s.Backend())
	}
	if err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// rawQueryRow reads one row from s's database behind the store's back (see
// rawExec) into dest.
func rawQueryRow(t testing.TB, s *Store, dest []any, query string, args ...any) {
	t.Helper()
	var err error
	switch b := s.db.(type) {
	case *sqliteDB:
		err = b.rdb.QueryRow(query, args...).Scan(dest...)
	case *pgDB:
		err = b.pool.QueryRow(context.Background(), dollars(query), args...).Scan(dest...)
	default:
		t.Fatalf("query on a %s store", s.Backend())
	}
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
}

// sqliteOf returns the SQLite backend of s.
func sqliteOf(t testing.TB, s *Store) *sqliteDB {
	t.Helper()
	db, ok := s.db.(*sqliteDB)
	if !ok {
		t.Fatalf("a %s store, not SQLite", s.Backend())
	}
	return db
}

// stored returns what the database holds, closing s: the SQLite files
// byte for byte, or every row of every PostgreSQL table as text, each
// under the name of its file or table.
func (db *testDB) stored(t testing.TB, s *Store) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	if db.kind == "sqlite" {
		_ = s.Close()
		files, _ := filepath.Glob(db.loc.Path + "*")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(f)] = b
		}
		return out
	}
	pdb, ok := s.db.(*pgDB)
	if !ok {
		t.Fatalf("stored: a %s store", s.Backend())
	}
	for _, table := range []string{"users", "tokens", "devices", "calls", "stream_settings", "schema_version"} {
		var b []byte
		rawQueryRow(t, s, []any{&b}, "SELECT coalesce(string_agg(row_to_json(r)::text, E'\\n'), '') FROM "+table+" r")
		out[table] = b
	}
	_ = pdb
	_ = s.Close()
	return out
}

// dollars numbers the ? placeholders of query as PostgreSQL's $1, $2...
func dollars(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
