package auth

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// sqlRunner is what *sql.DB and *sql.Tx share.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// sqliteQueries are the statements in SQLite's dialect. User names are
// compared with COLLATE NOCASE (ASCII case folding) through the column
// definitions.
type sqliteQueries struct {
	q sqlRunner
	// lookupStmt is the prepared token lookup (nil in a transaction).
	lookupStmt *sql.Stmt
}

// sqliteUserColumns are the columns scanSQLiteUser reads, in order.
const sqliteUserColumns = "name, display_name, role, disabled, created_at, last_seen_at, " + prefColumns

// scanSQLiteUser reads one row of sqliteUserColumns.
func scanSQLiteUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, seen int64
	prefs := prefScan{u: &u}
	if err := row.Scan(append([]any{&u.Name, &u.DisplayName, &u.Role, &u.Disabled, &created, &seen}, prefs.dest()...)...); err != nil {
		return User{}, err
	}
	u.Created, u.LastSeen = fromMillis(created), fromMillis(seen)
	return u, prefs.done()
}

// notFound turns sql.ErrNoRows into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// affected fails with ErrNotFound when res changed no row.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		return ErrNotFound
	}
	return err
}

// sqliteInsertUser adds an account with all its columns.
const sqliteInsertUser = `INSERT INTO users (name, display_name, role, password_hash, disabled, created_at, last_seen_at, ` + prefColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (s sqliteQueries) insertUser(ctx context.Context, u User, hash string) error {
	_, err := s.q.ExecContext(ctx, sqliteInsertUser,
		append([]any{u.Name, u.DisplayName, string(u.Role), hash, u.Disabled, millis(u.Created), millis(u.LastSeen)}, u.prefValues()...)...)
	if sqliteConflict(err) {
		return ErrExists
	}
	return err
}

func (s sqliteQueries) user(ctx context.Context, name string) (User, error) {
	u, err := scanSQLiteUser(s.q.QueryRowContext(ctx, "SELECT "+sqliteUserColumns+" FROM users WHERE name = ?", name))
	return u, notFound(err)
}

func (s sqliteQueries) users(ctx context.Context) ([]User, error) {
	rows, err := s.q.QueryContext(ctx, "SELECT "+sqliteUserColumns+" FROM users ORDER BY name")
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSQLiteUser)
}

// collect reads every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s sqliteQueries) countUsers(ctx context.Context) (int, error) {
	var n int
	err := s.q.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n)
	return n, err
}

func (s sqliteQueries) countOtherAdmins(ctx context.Context, name string) (int, error) {
	var n int
	err := s.q.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name <> ?", name).Scan(&n)
	return n, err
}

func (s sqliteQueries) saveUser(ctx context.Context, u User) error {
	return affected(s.q.ExecContext(ctx, `UPDATE users SET display_name = ?, role = ?, disabled = ?,
		watch_policy = ?, answer_policy = ?, chosen = ?, notice_seen = ?, password_change = ? WHERE name = ?`,
		append(append([]any{u.DisplayName, string(u.Role), u.Disabled}, u.prefValues()...), u.Name)...))
}

func (s sqliteQueries) setPasswordHash(ctx context.Context, name, hash string) error {
	return affected(s.q.ExecContext(ctx, "UPDATE users SET password_hash = ?, password_change = 0 WHERE name = ?", hash, name))
}

func (s sqliteQueries) deleteUser(ctx context.Context, name string) error {
	return affected(s.q.ExecContext(ctx, "DELETE FROM users WHERE name = ?", name))
}

func (s sqliteQueries) touchLastSeen(ctx context.Context, name string, now, staleBefore time.Time) error {
	_, err := s.q.ExecContext(ctx, "UPDATE users SET last_seen_at = ? WHERE name = ? AND last_seen_at < ?",
		millis(now), name, millis(staleBefore))
	return err
}

func (s sqliteQueries) credentials(ctx context.Context, name string) (credentials, error) {
	var c credentials
	err := s.q.QueryRowContext(ctx, "SELECT name, password_hash, disabled FROM users WHERE name = ?", name).
		Scan(&c.name, &c.hash, &c.disabled)
	return c, notFound(err)
}

func (s sqliteQueries) signedIn(ctx context.Context, name string, at time.Time, newHash string) error {
	q, args := "UPDATE users SET last_seen_at = ? WHERE name = ?", []any{millis(at), name}
	if newHash != "" {
		q, args = "UPDATE users SET last_seen_at = ?, password_hash = ? WHERE name = ?", []any{millis(at), newHash, name}
	}
	_, err := s.q.ExecContext(ctx, q, args...)
	return err
}

func (s sqliteQueries) revoked(context.Context, Revocation) error { return nil }
