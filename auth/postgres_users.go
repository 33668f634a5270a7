package auth

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgRunner is what *pgxpool.Pool and pgx.Tx share.
type pgRunner interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, rows pgx.CopyFromSource) (int64, error)
}

// pgQueries are the statements in PostgreSQL's dialect. Name columns are
// COLLATE "C"; user names are compared as lower(name) = lower($n COLLATE
// "C") (the unique index on lower(name)), which folds ASCII case only,
// as SQLite's NOCASE does.
type pgQueries struct {
	q      pgRunner
	origin string // the process, in notifications
}

// pgUserColumns are the columns scanPGUser reads, in order.
const pgUserColumns = "name, display_name, role, disabled, created_at, last_seen_at, " + prefColumns

// scanPGUser reads one row of pgUserColumns.
func scanPGUser(row pgx.Row) (User, error) {
	var u User
	var seen *time.Time
	prefs := prefScan{u: &u}
	if err := row.Scan(append([]any{&u.Name, &u.DisplayName, &u.Role, &u.Disabled, &u.Created, &seen}, prefs.dest()...)...); err != nil {
		return User{}, err
	}
	u.Created, u.LastSeen = u.Created.UTC(), fromPG(seen)
	return u, prefs.done()
}

// toPG is a time as a nullable timestamptz (NULL for the zero time).
func toPG(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromPG converts a nullable timestamptz back (NULL is the zero time).
func fromPG(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// pgNotFound turns pgx.ErrNoRows into ErrNotFound.
func pgNotFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// pgAffected fails with ErrNotFound when the statement changed no row.
func pgAffected(tag pgconn.CommandTag, err error) error {
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// pgCollect reads every row with scan.
func pgCollect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

func (p pgQueries) insertUser(ctx context.Context, u User, hash string) error {
	_, err := p.q.Exec(ctx, `INSERT INTO users (name, display_name, role, password_hash, disabled, created_at, last_seen_at, `+prefColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		append([]any{u.Name, u.DisplayName, string(u.Role), hash, u.Disabled, u.Created, toPG(u.LastSeen)}, u.prefValues()...)...)
	if pgConflict(err) {
		return ErrExists
	}
	return err
}

func (p pgQueries) user(ctx context.Context, name string) (User, error) {
	u, err := scanPGUser(p.q.QueryRow(ctx, "SELECT "+pgUserColumns+" FROM users WHERE lower(name) = lower($1::text COLLATE \"C\")", name))
	return u, pgNotFound(err)
}

func (p pgQueries) users(ctx context.Context) ([]User, error) {
	rows, err := p.q.Query(ctx, "SELECT "+pgUserColumns+" FROM users ORDER BY lower(name)")
	return pgCollect(rows, err, scanPGUser)
}

func (p pgQueries) countUsers(ctx context.Context) (int, error) {
	var n int
	err := p.q.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n)
	return n, err
}

func (p pgQueries) countOtherAdmins(ctx context.Context, name string) (int, error) {
	var n int
	err := p.q.QueryRow(ctx, "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled AND lower(name) <> lower($1::text COLLATE \"C\")", name).Scan(&n)
	return n, err
}

func (p pgQueries) saveUser(ctx context.Context, u User) error {
	return pgAffected(p.q.Exec(ctx, `UPDATE users SET display_name = $1, role = $2, disabled = $3,
		watch_policy = $4, answer_policy = $5, chosen = $6, notice_seen = $7, password_change = $8
		WHERE lower(name) = lower($9::text COLLATE "C")`,
		append(append([]any{u.DisplayName, string(u.Role), u.Disabled}, u.prefValues()...), u.Name)...))
}

func (p pgQueries) setPasswordHash(ctx context.Context, name, hash string) error {
	return pgAffected(p.q.Exec(ctx, "UPDATE users SET password_hash = $1, password_change = false WHERE lower(name) = lower($2::text COLLATE \"C\")", hash, name))
}

func (p pgQueries) deleteUser(ctx context.Context, name string) error {
	return pgAffected(p.q.Exec(ctx, "DELETE FROM users WHERE lower(name) = lower($1::text COLLATE \"C\")", name))
}

func (p pgQueries) touchLastSeen(ctx context.Context, name string, now, staleBefore time.Time) error {
	_, err := p.q.Exec(ctx, "UPDATE users SET last_seen_at = $1 WHERE lower(name) = lower($2::text COLLATE \"C\") AND (last_seen_at IS NULL OR last_seen_at < $3)",
		now, name, staleBefore)
	return err
}

func (p pgQueries) credentials(ctx context.Context, name string) (credentials, error) {
	var c credentials
	err := p.q.QueryRow(ctx, "SELECT name, password_hash, disabled FROM users WHERE lower(name) = lower($1::text COLLATE \"C\")", name).
		Scan(&c.name, &c.hash, &c.disabled)
	return c, pgNotFound(err)
}

func (p pgQueries) signedIn(ctx context.Context, name string, at time.Time, newHash string) error {
	_, err := p.q.Exec(ctx, "UPDATE users SET last_seen_at = $1, password_hash = coalesce(nullif($2, ''), password_hash) WHERE lower(name) = lower($3::text COLLATE \"C\")",
		at, newHash, name)
	return err
}

func (p pgQueries) revoked(ctx context.Context, r Revocation) error {
	b, err := json.Marshal(notice{Origin: p.origin, Revocation: r})
	if err != nil {
		return err
	}
	_, err = p.q.Exec(ctx, "SELECT pg_notify($1, $2)", pgRevocations, string(b))
	return err
}
