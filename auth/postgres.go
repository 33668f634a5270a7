package auth

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgDB is the shared backend: a PostgreSQL database that several wishcast
// processes use at once, through a pgx connection pool.
//
// Write transactions are SERIALIZABLE, so that the rules the store keeps
// across rows (the last enabled admin, the first admin of an empty store)
// hold whatever the other processes do; the transactions PostgreSQL
// aborts to keep that promise are run again.
type pgDB struct {
	loc    Location
	pool   *pgxpool.Pool
	origin string // this process's id in notifications
	log    *slog.Logger
}

// SQLSTATE codes the backend acts on.
const (
	pgUniqueViolation      = "23505"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// pgWriteAttempts bounds how often a write transaction runs when
// PostgreSQL keeps aborting it as a serialization failure.
const pgWriteAttempts = 8

// pgConnectTimeout bounds a connection attempt when the URL has no
// connect_timeout: a database that does not answer fails the start (or
// the request) in seconds rather than at the system's TCP timeout.
const pgConnectTimeout = 10 * time.Second

// pgMigrationLock is the key of the advisory lock that lets one process
// at a time migrate the schema ("wishcast" in ASCII).
const pgMigrationLock int64 = 0x77697368636173

// openPostgres connects to the database of loc, with the pool size and
// timeouts of cfg unless the URL sets them.
func openPostgres(ctx context.Context, loc Location, cfg Config, log *slog.Logger) (*pgDB, error) {
	pc, err := pgxpool.ParseConfig(loc.URL)
	if err != nil {
		return nil, loc.hide(fmt.Errorf("read the PostgreSQL URL: %w", err))
	}
	u, _ := url.Parse(loc.URL) // ParseConfig has accepted it
	if !u.Query().Has("pool_max_conns") {
		pc.MaxConns = int32(cfg.DBMaxConns)
	}
	if !u.Query().Has("connect_timeout") {
		pc.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	rp := pc.ConnConfig.RuntimeParams
	setDefault(rp, "application_name", "wishcast")
	if cfg.DBStatementTimeout > 0 {
		setDefault(rp, "statement_timeout", strconv.FormatInt(cfg.DBStatementTimeout.Milliseconds(), 10))
		setDefault(rp, "idle_in_transaction_session_timeout", strconv.FormatInt(2*cfg.DBStatementTimeout.Milliseconds(), 10))
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, loc.hide(fmt.Errorf("connect to PostgreSQL: %w", err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, loc.hide(fmt.Errorf("connect to PostgreSQL: %w", err))
	}
	return &pgDB{loc: loc, pool: pool, origin: crand.Text()[:12], log: log}, nil
}

// setDefault sets a run-time parameter the URL did not set.
func setDefault(params map[string]string, key, value string) {
	if _, ok := params[key]; !ok {
		params[key] = value
	}
}

func (db *pgDB) kind() string { return "postgres" }

func (db *pgDB) read() queries { return pgQueries{q: db.pool, origin: db.origin} }

// write runs fn in a SERIALIZABLE transaction and commits it, and runs it
// again, after a short random pause, when PostgreSQL aborted it as a
// serialization failure or a deadlock.
func (db *pgDB) write(ctx context.Context, fn func(q queries) error) error {
	for attempt := 1; ; attempt++ {
		err := db.tryWrite(ctx, fn)
		if err == nil || !pgRetryable(err) || attempt == pgWriteAttempts {
			return db.loc.scrub(err)
		}
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// tryWrite runs fn in one SERIALIZABLE transaction.
func (db *pgDB) tryWrite(ctx context.Context, fn func(q queries) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(pgQueries{q: tx, origin: db.origin}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// pgRetryable reports whether err aborted a transaction that may succeed
// when run again.
func pgRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == pgSerializationFailure || pe.Code == pgDeadlockDetected)
}

// pgConflict reports whether err is a violated unique constraint.
func pgConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgUniqueViolation
}

// autocommit runs fn's statements on the pool, each its own transaction
// (READ COMMITTED): a single statement such as pruning expired tokens
// needs no serializable transaction, and in one it would read a range
// that every concurrent sign-in writes into, making them fail each other.
func (db *pgDB) autocommit(ctx context.Context, fn func(q queries) error) error {
	return db.loc.scrub(fn(pgQueries{q: db.pool, origin: db.origin}))
}

// snapshot runs fn in a REPEATABLE READ, READ ONLY transaction: one
// consistent view of the database.
func (db *pgDB) snapshot(ctx context.Context, fn func(q queries) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return db.loc.scrub(fmt.Errorf("begin: %w", err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return db.loc.scrub(fn(pgQueries{q: tx, origin: db.origin}))
}

func (db *pgDB) ping(ctx context.Context) error {
	var n int
	return db.loc.scrub(db.pool.QueryRow(ctx, "SELECT count(*) FROM schema_version").Scan(&n))
}

func (db *pgDB) close() error {
	db.pool.Close()
	return nil
}

// migrate applies the PostgreSQL migrations on a connection of its own
// that holds an advisory lock meanwhile: processes starting at once
// against one database take turns, and the later ones find the work
// done. The connection has no statement timeout (a migration of a large
// table, or the wait for the lock, may take longer); the lock goes with
// it when it closes, whatever happens.
func (db *pgDB) migrate(ctx context.Context, ms []migration, now time.Time, log *slog.Logger) error {
	cc := db.pool.Config().ConnConfig.Copy()
	cc.RuntimeParams["statement_timeout"] = "0"
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return db.loc.scrub(fmt.Errorf("connect to PostgreSQL: %w", err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", pgMigrationLock); err != nil {
		return db.loc.scrub(fmt.Errorf("lock the schema: %w", err))
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    integer     NOT NULL PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return db.loc.scrub(fmt.Errorf("create schema_version: %w", err))
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&have); err != nil {
		return db.loc.scrub(fmt.Errorf("read schema version: %w", err))
	}
	if err := checkVersion(have, len(ms)); err != nil {
		return err
	}
	for _, m := range ms[have:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)", m.version, m.name, now)
			return err
		})
		if err != nil {
			return db.loc.scrub(fmt.Errorf("apply migration %s: %w", m.name, err))
		}
		log.Info("applied database migration", "version", m.version, "name", m.name)
	}
	return nil
}
