package auth

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgDeviceColumns are the columns scanPGDevice reads, in order.
const pgDeviceColumns = "name, url, transport, disabled, always_on, restricted, viewers, created_at, updated_at"

// scanPGDevice reads one row of pgDeviceColumns.
func scanPGDevice(row pgx.Row) (Device, error) {
	var d Device
	err := row.Scan(&d.Name, &d.URL, &d.Transport, &d.Disabled, &d.AlwaysOn, &d.Restricted, &d.Viewers, &d.Created, &d.Updated)
	d.Created, d.Updated = d.Created.UTC(), d.Updated.UTC()
	return d, err
}

func (p pgQueries) device(ctx context.Context, name string) (Device, error) {
	d, err := scanPGDevice(p.q.QueryRow(ctx, "SELECT "+pgDeviceColumns+" FROM devices WHERE name = $1", name))
	return d, pgNotFound(err)
}

func (p pgQueries) devices(ctx context.Context) ([]Device, error) {
	rows, err := p.q.Query(ctx, "SELECT "+pgDeviceColumns+" FROM devices ORDER BY name")
	return pgCollect(rows, err, scanPGDevice)
}

func (p pgQueries) putDevice(ctx context.Context, d Device) error {
	viewers := d.Viewers
	if viewers == nil {
		viewers = []string{} // the column is NOT NULL
	}
	_, err := p.q.Exec(ctx, `INSERT INTO devices (`+pgDeviceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (name) DO UPDATE SET url = excluded.url, transport = excluded.transport, disabled = excluded.disabled,
			always_on = excluded.always_on, restricted = excluded.restricted, viewers = excluded.viewers,
			created_at = excluded.created_at, updated_at = excluded.updated_at`,
		d.Name, d.URL, d.Transport, d.Disabled, d.AlwaysOn, d.Restricted, viewers, d.Created, d.Updated)
	return err
}

func (p pgQueries) deleteDevice(ctx context.Context, name string) error {
	return pgAffected(p.q.Exec(ctx, "DELETE FROM devices WHERE name = $1", name))
}

func (p pgQueries) streamPublic(ctx context.Context, name string) (bool, error) {
	var public bool
	err := p.q.QueryRow(ctx, "SELECT public FROM stream_settings WHERE name = $1", name).Scan(&public)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return public, err
}

func (p pgQueries) setStreamPublic(ctx context.Context, name string, public bool, at time.Time) error {
	if !public {
		_, err := p.q.Exec(ctx, "DELETE FROM stream_settings WHERE name = $1", name)
		return err
	}
	_, err := p.q.Exec(ctx, `INSERT INTO stream_settings (name, public, updated_at) VALUES ($1, true, $2)
		ON CONFLICT (name) DO UPDATE SET public = true, updated_at = excluded.updated_at`, name, at)
	return err
}

func (p pgQueries) insertCall(ctx context.Context, c CallRecord) error {
	_, err := p.q.Exec(ctx, "INSERT INTO calls (id, caller, callee, started_at, ended_at, end_reason) VALUES ($1, $2, $3, $4, $5, $6)",
		c.ID, c.Caller, c.Callee, c.Started, toPG(c.Ended), c.EndReason)
	if pgConflict(err) {
		return ErrExists
	}
	return err
}

// scanPGCall reads one call row.
func scanPGCall(row pgx.Row) (CallRecord, error) {
	var c CallRecord
	var ended *time.Time
	err := row.Scan(&c.ID, &c.Caller, &c.Callee, &c.Started, &ended, &c.EndReason)
	c.Started, c.Ended = c.Started.UTC(), fromPG(ended)
	return c, err
}

func (p pgQueries) calls(ctx context.Context, user string, limit int) ([]CallRecord, error) {
	const cols = "SELECT id, caller, callee, started_at, ended_at, end_reason FROM calls "
	if user == "" {
		rows, err := p.q.Query(ctx, cols+"ORDER BY started_at DESC, id LIMIT $1", limit)
		return pgCollect(rows, err, scanPGCall)
	}
	rows, err := p.q.Query(ctx, cols+`WHERE lower(caller) = lower($1::text COLLATE "C") OR lower(callee) = lower($1::text COLLATE "C")
		ORDER BY started_at DESC, id LIMIT $2`, user, limit)
	return pgCollect(rows, err, scanPGCall)
}
