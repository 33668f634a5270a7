package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDB is the embedded backend: one SQLite file in the data directory.
//
// Writes go through a pool of one connection (so they queue in Go, not on
// SQLite's busy handler) and begin IMMEDIATE transactions, which makes
// every write transaction serializable; reads use a separate read-only
// pool, which WAL lets run alongside the writer.
type sqliteDB struct {
	path string
	wdb  *sql.DB // one connection, all writes
	rdb  *sql.DB // read-only connections
	// authStmt is sqliteLookup prepared on rdb (database/sql prepares it
	// on each connection as needed).
	authStmt *sql.Stmt
}

// openSQLite opens the file at path, creating it (mode 0600) and its
// directory (mode 0750) if needed.
//
// Connections run in WAL mode with synchronous=FULL: a commit is on disk
// before it returns, so a revocation or password change survives a power
// cut, not only a killed process; writes are rare (sign-ins, token and
// account changes), so the fsync per commit costs little.
func openSQLite(ctx context.Context, path string, busy time.Duration, log *slog.Logger) (*sqliteDB, error) {
	if err := createFile(path, log); err != nil {
		return nil, err
	}
	db := &sqliteDB{path: path}
	if err := db.openPools(ctx, busy); err != nil {
		return nil, err
	}
	return db, nil
}

// createFile makes the directory and an empty database file with tight
// permissions before SQLite opens it (SQLite gives its -wal and -shm files
// the database file's mode).
func createFile(path string, log *slog.Logger) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	st, err := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("database file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		log.Warn("the accounts database is readable by other users; chmod 600 it", "path", path, "mode", st.Mode().Perm())
	}
	return nil
}

// openPools opens the writer and reader pools and checks WAL is on.
func (db *sqliteDB) openPools(ctx context.Context, busyTimeout time.Duration) error {
	abs, err := filepath.Abs(db.path)
	if err != nil {
		return fmt.Errorf("resolve path: %w", err)
	}
	busy := busyTimeout.Milliseconds()
	common := []string{fmt.Sprintf("busy_timeout(%d)", busy), "foreign_keys(1)"}
	w := url.Values{
		"_pragma": slices.Concat(common, []string{"journal_mode(WAL)", "synchronous(FULL)"}),
		"_txlock": {"immediate"},
	}
	r := url.Values{"_pragma": slices.Concat(common, []string{"query_only(1)"})}
	upath := filepath.ToSlash(abs)
	if !strings.HasPrefix(upath, "/") {
		upath = "/" + upath // file:///C:/... on Windows
	}
	dsn := func(q url.Values) string {
		return (&url.URL{Scheme: "file", Path: upath, RawQuery: q.Encode()}).String()
	}
	if db.wdb, err = sql.Open("sqlite", dsn(w)); err != nil {
		return fmt.Errorf("open writer: %w", err)
	}
	db.wdb.SetMaxOpenConns(1)
	db.wdb.SetMaxIdleConns(1)
	db.wdb.SetConnMaxIdleTime(0)
	var mode string
	if err := db.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		_ = db.wdb.Close()
		return fmt.Errorf("open writer: %w", err)
	}
	if mode != "wal" {
		_ = db.wdb.Close()
		return fmt.Errorf("journal mode is %q, not wal (is the file on a network filesystem?)", mode)
	}
	if db.rdb, err = sql.Open("sqlite", dsn(r)); err != nil {
		_ = db.wdb.Close()
		return fmt.Errorf("open readers: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	db.rdb.SetMaxOpenConns(n)
	db.rdb.SetMaxIdleConns(n)
	if err := db.rdb.PingContext(ctx); err != nil {
		_ = db.rdb.Close()
		_ = db.wdb.Close()
		return fmt.Errorf("open readers: %w", err)
	}
	return nil
}

func (db *sqliteDB) kind() string { return "sqlite" }

// read returns the statements on the reader pool, with the token lookup
// prepared once the schema exists.
func (db *sqliteDB) read() queries { return sqliteQueries{q: db.rdb, lookupStmt: db.authStmt} }

// write runs fn in an IMMEDIATE transaction on the writer: SQLite has one
// writer at a time, so the transaction is serializable and never needs to
// be run again.
func (db *sqliteDB) write(ctx context.Context, fn func(q queries) error) error {
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(sqliteQueries{q: tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// autocommit runs fn's statements on the writer, each its own
// transaction.
func (db *sqliteDB) autocommit(ctx context.Context, fn func(q queries) error) error {
	return fn(sqliteQueries{q: db.wdb})
}

// snapshot runs fn in a read transaction: in WAL mode it sees the
// database as of its first read, whatever commits meanwhile.
func (db *sqliteDB) snapshot(ctx context.Context, fn func(q queries) error) error {
	tx, err := db.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(sqliteQueries{q: tx})
}

func (db *sqliteDB) ping(ctx context.Context) error {
	var n int
	return db.rdb.QueryRowContext(ctx, "SELECT count(*) FROM schema_version").Scan(&n)
}

func (db *sqliteDB) close() error {
	var errs []error
	if db.authStmt != nil {
		errs = append(errs, db.authStmt.Close())
	}
	if db.rdb != nil {
		errs = append(errs, db.rdb.Close())
	}
	if db.wdb != nil {
		errs = append(errs, db.wdb.Close())
	}
	return errors.Join(errs...)
}

// migrate applies the SQLite migrations. Each runs in an IMMEDIATE
// transaction that first checks schema_version again, so two processes
// opening the same new file apply it once. It then prepares the token
// lookup, which needs the schema.
func (db *sqliteDB) migrate(ctx context.Context, ms []migration, now time.Time, log *slog.Logger) error {
	if _, err := db.wdb.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var have int
	if err := db.wdb.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if err := checkVersion(have, len(ms)); err != nil {
		return err
	}
	for _, m := range ms[have:] {
		applied := false
		err := db.write(ctx, func(q queries) error {
			tx := q.(sqliteQueries).q
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_version WHERE version = ?", m.version).Scan(&n); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			if n > 0 {
				return nil // another process got there first
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, millis(now))
			applied = err == nil
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if applied {
			log.Info("applied database migration", "version", m.version, "name", m.name)
		}
	}
	stmt, err := db.rdb.PrepareContext(ctx, sqliteLookup)
	if err != nil {
		return fmt.Errorf("prepare token lookup: %w", err)
	}
	db.authStmt = stmt
	return nil
}

// sqliteConflict reports whether err is a violated PRIMARY KEY or UNIQUE
// constraint, by its extended result code.
func sqliteConflict(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// millis converts a time to the stored form, Unix milliseconds (0 for the
// zero time).
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMillis converts the stored form back (0 is the zero time).
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
