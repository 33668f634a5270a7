package auth

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CallRecord is one call of the history.
type CallRecord struct {
	// ID is the call id of the calls/{id}/{user} streams.
	ID      string
	Caller  string
	Callee  string
	Started time.Time
	// Ended is zero for a call that never ended cleanly.
	Ended time.Time
	// EndReason says why it ended ("hangup", "declined", "timeout", ...).
	EndReason string
}

// AddCallRecord stores a call; ErrExists if its id is taken.
func (s *Store) AddCallRecord(ctx context.Context, c CallRecord) error {
	if err := ValidateName(c.ID); err != nil {
		return fmt.Errorf("add call: id: %w", err)
	}
	for _, u := range []string{c.Caller, c.Callee} {
		if err := ValidateName(u); err != nil {
			return fmt.Errorf("add call %s: participant: %w", c.ID, err)
		}
	}
	if c.Started.IsZero() {
		return fmt.Errorf("add call %s: %w", c.ID, invalidf("start time missing"))
	}
	reason, err := cleanText("end reason", c.EndReason)
	if err != nil {
		return fmt.Errorf("add call %s: %w", c.ID, err)
	}
	return s.write(ctx, "add call "+c.ID, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM calls WHERE id = ?", c.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrExists
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO calls (id, caller, callee, started_at, ended_at, end_reason) VALUES (?, ?, ?, ?, ?, ?)",
			c.ID, c.Caller, c.Callee, millis(c.Started), millis(c.Ended), reason)
		return err
	})
}

// ListCalls returns the calls user took part in, or everyone's if user is
// "", newest first, at most limit of them (limit <= 0: 100).
func (s *Store) ListCalls(ctx context.Context, user string, limit int) ([]CallRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	const cols = "SELECT id, caller, callee, started_at, ended_at, end_reason FROM calls "
	query, args := cols+"ORDER BY started_at DESC, id LIMIT ?", []any{limit}
	if user != "" {
		query = cols + "WHERE caller = ? COLLATE NOCASE OR callee = ? COLLATE NOCASE ORDER BY started_at DESC, id LIMIT ?"
		args = []any{user, user, limit}
	}
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	defer rows.Close()
	var cs []CallRecord
	for rows.Next() {
		var c CallRecord
		var started, ended int64
		if err := rows.Scan(&c.ID, &c.Caller, &c.Callee, &started, &ended, &c.EndReason); err != nil {
			return nil, fmt.Errorf("list calls: %w", err)
		}
		c.Started, c.Ended = fromMillis(started), fromMillis(ended)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	return cs, nil
}
