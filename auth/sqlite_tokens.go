package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"
)

// sqliteTokenColumns are the columns scanSQLiteToken reads, in order.
const sqliteTokenColumns = "id, kind, owner, action, stream, label, client_addr, created_at, expires_at"

// scanSQLiteToken reads one row of sqliteTokenColumns.
func scanSQLiteToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var created, expires int64
	err := row.Scan(&t.ID, &t.Kind, &t.Owner, &t.Scope.Action, &t.Scope.Stream, &t.Label, &t.ClientAddr, &created, &expires)
	t.Created, t.Expires = fromMillis(created), fromMillis(expires)
	return t, err
}

// sqliteInsertToken adds a token with all its columns.
const sqliteInsertToken = `INSERT INTO tokens (id, hash, kind, owner, action, stream, label, client_addr, created_at, expires_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (s sqliteQueries) insertToken(ctx context.Context, t Token, hash []byte) error {
	_, err := s.q.ExecContext(ctx, sqliteInsertToken,
		t.ID, hash, string(t.Kind), t.Owner, string(t.Scope.Action), t.Scope.Stream, t.Label, t.ClientAddr,
		millis(t.Created), millis(t.Expires))
	if sqliteConflict(err) {
		return ErrExists
	}
	return err
}

func (s sqliteQueries) token(ctx context.Context, id string) (Token, error) {
	t, err := scanSQLiteToken(s.q.QueryRowContext(ctx, "SELECT "+sqliteTokenColumns+" FROM tokens WHERE id = ?", id))
	return t, notFound(err)
}

func (s sqliteQueries) tokens(ctx context.Context, kind PrincipalKind, owner string, now time.Time) ([]Token, error) {
	rows, err := s.q.QueryContext(ctx, "SELECT "+sqliteTokenColumns+` FROM tokens
		WHERE kind = ? AND (? = '' OR owner = ?) AND (expires_at = 0 OR expires_at > ?)
		ORDER BY created_at DESC, id`, string(kind), owner, owner, millis(now))
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSQLiteToken)
}

func (s sqliteQueries) deleteToken(ctx context.Context, id string) (string, error) {
	var owner string
	err := s.q.QueryRowContext(ctx, "DELETE FROM tokens WHERE id = ? RETURNING owner", id).Scan(&owner)
	return owner, notFound(err)
}

func (s sqliteQueries) deleteSession(ctx context.Context, hash []byte) (owner, id string, err error) {
	err = s.q.QueryRowContext(ctx, "DELETE FROM tokens WHERE hash = ? AND kind = 'session' RETURNING owner, id", hash).Scan(&owner, &id)
	return owner, id, notFound(err)
}

func (s sqliteQueries) deleteSessions(ctx context.Context, owner string) (int64, error) {
	res, err := s.q.ExecContext(ctx, "DELETE FROM tokens WHERE owner = ? AND kind = 'session'", owner)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqliteQueries) deleteExpired(ctx context.Context, now time.Time) error {
	_, err := s.q.ExecContext(ctx, "DELETE FROM tokens WHERE expires_at > 0 AND expires_at <= ?", millis(now))
	return err
}

// sqliteLookup looks a token up by its hash (the tokens.hash UNIQUE
// index); the backend prepares it once.
const sqliteLookup = `SELECT t.id, t.kind, t.owner, t.action, t.stream, t.expires_at, u.role, u.disabled
	FROM tokens t JOIN users u ON u.name = t.owner WHERE t.hash = ?`

func (s sqliteQueries) lookup(ctx context.Context, hash []byte) (tokenOwner, error) {
	var row *sql.Row
	if s.lookupStmt != nil {
		row = s.lookupStmt.QueryRowContext(ctx, hash)
	} else {
		row = s.q.QueryRowContext(ctx, sqliteLookup, hash)
	}
	var t tokenOwner
	var expires int64
	err := row.Scan(&t.id, &t.kind, &t.owner, &t.action, &t.stream, &expires, &t.role, &t.disabled)
	t.expires = fromMillis(expires)
	return t, notFound(err)
}

func (s sqliteQueries) liveSessions(ctx context.Context, ids []string, now time.Time) ([]string, error) {
	// The ids travel as one JSON array, so that any number of them is one
	// statement with one parameter.
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.QueryContext(ctx, `SELECT t.id FROM tokens t JOIN users u ON u.name = t.owner
		WHERE t.id IN (SELECT value FROM json_each(?)) AND t.kind = 'session'
		AND (t.expires_at = 0 OR t.expires_at > ?) AND u.disabled = 0`, string(list), millis(now))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}
