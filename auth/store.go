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
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Store is the accounts store: users, sessions, publish keys, devices and
// call history in one SQLite file. It is safe for concurrent use.
//
// Writes go through a pool of one connection (so they queue in Go, not on
// SQLite's busy handler) and begin IMMEDIATE transactions; reads use a
// separate read-only pool, which WAL lets run alongside the writer.
type Store struct {
	cfg Config
	log *slog.Logger
	wdb *sql.DB // one connection, all writes
	rdb *sql.DB // read-only connections
	// authStmt is authQuery prepared on rdb (database/sql prepares it on
	// each connection as needed).
	authStmt *sql.Stmt
	hasher   *hasher
	limits   *limiter
	cache    *tokenCache
	boot     Bootstrap
	now      func() time.Time // replaced by tests
	signIns  struct{ ok, bad, disabled, limited, failed atomic.Uint64 }

	closeOnce sync.Once
	closeErr  error
}

// Open opens the store at path, creating the file (mode 0600) and its
// directory (mode 0750) if needed, applies the embedded schema migrations
// and, when the store has no user, creates the first admin (see
// Store.Bootstrap). A nil log discards logs.
//
// Connections run in WAL mode with synchronous=FULL: a commit is on disk
// before it returns, so a revocation or password change survives a power
// cut, not only a killed process; writes are rare (sign-ins, token and
// account changes), so the fsync per commit costs little.
func Open(ctx context.Context, path string, cfg Config, log *slog.Logger) (*Store, error) {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := newHasher(cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := createFile(path, log); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{
		cfg:    cfg,
		log:    log,
		hasher: h,
		limits: newLimiter(cfg.LoginMaxFailures, cfg.LoginWindow),
		cache:  newTokenCache(cfg.TokenCacheTTL),
		now:    time.Now,
	}
	if err := s.openPools(ctx, path); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if s.authStmt, err = s.rdb.PrepareContext(ctx, authQuery); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open store %s: prepare token lookup: %w", path, err)
	}
	if err := s.bootstrap(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
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
func (s *Store) openPools(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("resolve path: %w", err)
	}
	busy := s.cfg.BusyTimeout.Milliseconds()
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
	if s.wdb, err = sql.Open("sqlite", dsn(w)); err != nil {
		return fmt.Errorf("open writer: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxIdleTime(0)
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		_ = s.wdb.Close()
		return fmt.Errorf("open writer: %w", err)
	}
	if mode != "wal" {
		_ = s.wdb.Close()
		return fmt.Errorf("journal mode is %q, not wal (is the file on a network filesystem?)", mode)
	}
	if s.rdb, err = sql.Open("sqlite", dsn(r)); err != nil {
		_ = s.wdb.Close()
		return fmt.Errorf("open readers: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	s.rdb.SetMaxOpenConns(n)
	s.rdb.SetMaxIdleConns(n)
	if err := s.rdb.PingContext(ctx); err != nil {
		_ = s.rdb.Close()
		_ = s.wdb.Close()
		return fmt.Errorf("open readers: %w", err)
	}
	return nil
}

// Ping checks that the database answers a query, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM schema_version").Scan(&n); err != nil {
		return fmt.Errorf("account store: %w", err)
	}
	return nil
}

// Close closes the store. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.authStmt != nil {
			errs = append(errs, s.authStmt.Close())
		}
		if s.rdb != nil {
			errs = append(errs, s.rdb.Close())
		}
		if s.wdb != nil {
			errs = append(errs, s.wdb.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.closeErr
}

// write runs fn in an IMMEDIATE transaction on the writer and commits it;
// what names the operation in errors, which wrap fn's error unchanged.
func (s *Store) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
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
