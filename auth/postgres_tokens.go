package auth

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgTokenColumns are the columns scanPGToken reads, in order.
const pgTokenColumns = "id, kind, owner, action, stream, label, client_addr, created_at, expires_at"

// scanPGToken reads one row of pgTokenColumns.
func scanPGToken(row pgx.Row) (Token, error) {
	var t Token
	var expires *time.Time
	err := row.Scan(&t.ID, &t.Kind, &t.Owner, &t.Scope.Action, &t.Scope.Stream, &t.Label, &t.ClientAddr, &t.Created, &expires)
	t.Created, t.Expires = t.Created.UTC(), fromPG(expires)
	return t, err
}

func (p pgQueries) insertToken(ctx context.Context, t Token, hash []byte) error {
	_, err := p.q.Exec(ctx, `INSERT INTO tokens (id, hash, kind, owner, action, stream, label, client_addr, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		t.ID, hash, string(t.Kind), t.Owner, string(t.Scope.Action), t.Scope.Stream, t.Label, t.ClientAddr,
		t.Created, toPG(t.Expires))
	if pgConflict(err) {
		return ErrExists
	}
	return err
}

func (p pgQueries) token(ctx context.Context, id string) (Token, error) {
	t, err := scanPGToken(p.q.QueryRow(ctx, "SELECT "+pgTokenColumns+" FROM tokens WHERE id = $1", id))
	return t, pgNotFound(err)
}

func (p pgQueries) tokens(ctx context.Context, kind PrincipalKind, owner string, now time.Time) ([]Token, error) {
	rows, err := p.q.Query(ctx, "SELECT "+pgTokenColumns+` FROM tokens
		WHERE kind = $1 AND ($2 = '' OR lower(owner) = lower($2::text COLLATE "C")) AND (expires_at IS NULL OR expires_at > $3)
		ORDER BY created_at DESC, id`, string(kind), owner, now)
	return pgCollect(rows, err, scanPGToken)
}

func (p pgQueries) deleteToken(ctx context.Context, id string) (string, error) {
	var owner string
	err := p.q.QueryRow(ctx, "DELETE FROM tokens WHERE id = $1 RETURNING owner", id).Scan(&owner)
	return owner, pgNotFound(err)
}

func (p pgQueries) deleteSession(ctx context.Context, hash []byte) (owner, id string, err error) {
	err = p.q.QueryRow(ctx, "DELETE FROM tokens WHERE hash = $1 AND kind = 'session' RETURNING owner, id", hash).Scan(&owner, &id)
	return owner, id, pgNotFound(err)
}

func (p pgQueries) deleteSessions(ctx context.Context, owner string) (int64, error) {
	tag, err := p.q.Exec(ctx, `DELETE FROM tokens WHERE lower(owner) = lower($1::text COLLATE "C") AND kind = 'session'`, owner)
	return tag.RowsAffected(), err
}

func (p pgQueries) deleteExpired(ctx context.Context, now time.Time) error {
	_, err := p.q.Exec(ctx, "DELETE FROM tokens WHERE expires_at <= $1", now)
	return err
}

// pgLookup looks a token up by its hash (the tokens.hash UNIQUE index);
// pgx prepares it once per connection.
const pgLookup = `SELECT t.id, t.kind, t.owner, t.action, t.stream, t.expires_at, u.role, u.disabled
	FROM tokens t JOIN users u ON u.name = t.owner WHERE t.hash = $1`

func (p pgQueries) lookup(ctx context.Context, hash []byte) (tokenOwner, error) {
	var t tokenOwner
	var expires *time.Time
	err := p.q.QueryRow(ctx, pgLookup, hash).Scan(&t.id, &t.kind, &t.owner, &t.action, &t.stream, &expires, &t.role, &t.disabled)
	t.expires = fromPG(expires)
	return t, pgNotFound(err)
}

func (p pgQueries) liveSessions(ctx context.Context, ids []string, now time.Time) ([]string, error) {
	rows, err := p.q.Query(ctx, `SELECT t.id FROM tokens t JOIN users u ON u.name = t.owner
		WHERE t.id = ANY($1) AND t.kind = 'session' AND (t.expires_at IS NULL OR t.expires_at > $2) AND NOT u.disabled`, ids, now)
	return pgCollect(rows, err, func(r pgx.Row) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}
