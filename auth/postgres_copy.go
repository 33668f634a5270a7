package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

func (p pgQueries) counts(ctx context.Context) (CopyCounts, error) {
	var c CopyCounts
	err := p.q.QueryRow(ctx, countsQuery).
		Scan(&c.Users, &c.Sessions, &c.Keys, &c.Devices, &c.StreamSettings, &c.Calls)
	return c, err
}

func (p pgQueries) dump(ctx context.Context) (*dump, error) {
	d := &dump{}
	rows, err := p.q.Query(ctx, "SELECT "+pgUserColumns+", password_hash FROM users ORDER BY lower(name)")
	if d.users, err = pgCollect(rows, err, func(r pgx.Row) (userRow, error) {
		var u userRow
		var seen *time.Time
		prefs := prefScan{u: &u.User}
		err := r.Scan(append(append([]any{&u.Name, &u.DisplayName, &u.Role, &u.Disabled, &u.Created, &seen}, prefs.dest()...), &u.hash)...)
		u.Created, u.LastSeen = u.Created.UTC(), fromPG(seen)
		if err == nil {
			err = prefs.done()
		}
		return u, err
	}); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	rows, err = p.q.Query(ctx, "SELECT "+pgTokenColumns+", hash FROM tokens ORDER BY created_at, id")
	if d.tokens, err = pgCollect(rows, err, func(r pgx.Row) (tokenRow, error) {
		var t tokenRow
		var expires *time.Time
		err := r.Scan(&t.ID, &t.Kind, &t.Owner, &t.Scope.Action, &t.Scope.Stream, &t.Label, &t.ClientAddr, &t.Created, &expires, &t.hash)
		t.Created, t.Expires = t.Created.UTC(), fromPG(expires)
		return t, err
	}); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if d.devices, err = p.devices(ctx); err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	rows, err = p.q.Query(ctx, "SELECT name, public, updated_at FROM stream_settings ORDER BY name")
	if d.settings, err = pgCollect(rows, err, func(r pgx.Row) (streamSetting, error) {
		var st streamSetting
		err := r.Scan(&st.name, &st.public, &st.updated)
		st.updated = st.updated.UTC()
		return st, err
	}); err != nil {
		return nil, fmt.Errorf("stream settings: %w", err)
	}
	rows, err = p.q.Query(ctx, "SELECT id, caller, callee, started_at, ended_at, end_reason FROM calls ORDER BY started_at, id")
	if d.calls, err = pgCollect(rows, err, scanPGCall); err != nil {
		return nil, fmt.Errorf("calls: %w", err)
	}
	return d, nil
}

// load sends each table's rows with COPY, the fastest way into
// PostgreSQL.
func (p pgQueries) load(ctx context.Context, d *dump) error {
	copyIn := func(table string, columns []string, n int, row func(i int) []any) error {
		if n == 0 {
			return nil
		}
		_, err := p.q.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil }))
		if pgConflict(err) {
			return fmt.Errorf("%s: %w", table, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
		return nil
	}
	return firstErr(
		func() error {
			return copyIn("users", []string{"name", "display_name", "role", "password_hash", "disabled", "created_at", "last_seen_at",
				"watch_policy", "answer_policy", "chosen", "notice_seen", "password_change"},
				len(d.users), func(i int) []any {
					u := d.users[i]
					return append([]any{u.Name, u.DisplayName, string(u.Role), u.hash, u.Disabled, u.Created, toPG(u.LastSeen)}, u.prefValues()...)
				})
		},
		func() error {
			return copyIn("tokens", []string{"id", "hash", "kind", "owner", "action", "stream", "label", "client_addr", "created_at", "expires_at"},
				len(d.tokens), func(i int) []any {
					t := d.tokens[i]
					return []any{t.ID, t.hash, string(t.Kind), t.Owner, string(t.Scope.Action), t.Scope.Stream, t.Label, t.ClientAddr, t.Created, toPG(t.Expires)}
				})
		},
		func() error {
			return copyIn("devices", []string{"name", "url", "transport", "disabled", "always_on", "restricted", "viewers", "created_at", "updated_at"},
				len(d.devices), func(i int) []any {
					v := d.devices[i]
					viewers := v.Viewers
					if viewers == nil {
						viewers = []string{}
					}
					return []any{v.Name, v.URL, v.Transport, v.Disabled, v.AlwaysOn, v.Restricted, viewers, v.Created, v.Updated}
				})
		},
		func() error {
			return copyIn("stream_settings", []string{"name", "public", "updated_at"}, len(d.settings), func(i int) []any {
				st := d.settings[i]
				return []any{st.name, st.public, st.updated}
			})
		},
		func() error {
			return copyIn("calls", []string{"id", "caller", "callee", "started_at", "ended_at", "end_reason"}, len(d.calls), func(i int) []any {
				c := d.calls[i]
				return []any{c.ID, c.Caller, c.Callee, c.Started, toPG(c.Ended), c.EndReason}
			})
		},
	)
}

func (p pgQueries) wipe(ctx context.Context) error {
	_, err := p.q.Exec(ctx, "DELETE FROM tokens; DELETE FROM users; DELETE FROM devices; DELETE FROM stream_settings; DELETE FROM calls")
	return err
}
