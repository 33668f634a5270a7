package auth

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// sqliteDeviceColumns are the columns scanSQLiteDevice reads, in order.
const sqliteDeviceColumns = "name, url, transport, disabled, always_on, restricted, viewers, created_at, updated_at"

// scanSQLiteDevice reads one row of sqliteDeviceColumns; viewers are kept
// space-separated.
func scanSQLiteDevice(row interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var viewers string
	var created, updated int64
	err := row.Scan(&d.Name, &d.URL, &d.Transport, &d.Disabled, &d.AlwaysOn, &d.Restricted, &viewers, &created, &updated)
	d.Viewers = strings.Fields(viewers)
	d.Created, d.Updated = fromMillis(created), fromMillis(updated)
	return d, err
}

func (s sqliteQueries) device(ctx context.Context, name string) (Device, error) {
	d, err := scanSQLiteDevice(s.q.QueryRowContext(ctx, "SELECT "+sqliteDeviceColumns+" FROM devices WHERE name = ?", name))
	return d, notFound(err)
}

func (s sqliteQueries) devices(ctx context.Context) ([]Device, error) {
	rows, err := s.q.QueryContext(ctx, "SELECT "+sqliteDeviceColumns+" FROM devices ORDER BY name")
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSQLiteDevice)
}

func (s sqliteQueries) putDevice(ctx context.Context, d Device) error {
	_, err := s.q.ExecContext(ctx, `INSERT OR REPLACE INTO devices (`+sqliteDeviceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.Name, d.URL, d.Transport, d.Disabled, d.AlwaysOn, d.Restricted, strings.Join(d.Viewers, " "),
		millis(d.Created), millis(d.Updated))
	return err
}

func (s sqliteQueries) deleteDevice(ctx context.Context, name string) error {
	return affected(s.q.ExecContext(ctx, "DELETE FROM devices WHERE name = ?", name))
}

func (s sqliteQueries) streamPublic(ctx context.Context, name string) (bool, error) {
	var public bool
	err := s.q.QueryRowContext(ctx, "SELECT public FROM stream_settings WHERE name = ?", name).Scan(&public)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return public, err
}

func (s sqliteQueries) setStreamPublic(ctx context.Context, name string, public bool, at time.Time) error {
	if !public {
		_, err := s.q.ExecContext(ctx, "DELETE FROM stream_settings WHERE name = ?", name)
		return err
	}
	_, err := s.q.ExecContext(ctx, "INSERT OR REPLACE INTO stream_settings (name, public, updated_at) VALUES (?, 1, ?)", name, millis(at))
	return err
}

func (s sqliteQueries) insertCall(ctx context.Context, c CallRecord) error {
	_, err := s.q.ExecContext(ctx, "INSERT INTO calls (id, caller, callee, started_at, ended_at, end_reason) VALUES (?, ?, ?, ?, ?, ?)",
		c.ID, c.Caller, c.Callee, millis(c.Started), millis(c.Ended), c.EndReason)
	if sqliteConflict(err) {
		return ErrExists
	}
	return err
}

// scanSQLiteCall reads one call row.
func scanSQLiteCall(row interface{ Scan(...any) error }) (CallRecord, error) {
	var c CallRecord
	var started, ended int64
	err := row.Scan(&c.ID, &c.Caller, &c.Callee, &started, &ended, &c.EndReason)
	c.Started, c.Ended = fromMillis(started), fromMillis(ended)
	return c, err
}

func (s sqliteQueries) calls(ctx context.Context, user string, limit int) ([]CallRecord, error) {
	const cols = "SELECT id, caller, callee, started_at, ended_at, end_reason FROM calls "
	query, args := cols+"ORDER BY started_at DESC, id LIMIT ?", []any{limit}
	if user != "" {
		query = cols + "WHERE caller = ? COLLATE NOCASE OR callee = ? COLLATE NOCASE ORDER BY started_at DESC, id LIMIT ?"
		args = []any{user, user, limit}
	}
	rows, err := s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSQLiteCall)
}
