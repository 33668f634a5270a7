package auth

import (
	"context"
	"fmt"
	"strings"
)

// countsQuery counts what a store copy moves; both dialects read it.
const countsQuery = `SELECT (SELECT count(*) FROM users),
	(SELECT count(*) FROM tokens WHERE kind = 'session'), (SELECT count(*) FROM tokens WHERE kind = 'key'),
	(SELECT count(*) FROM devices), (SELECT count(*) FROM stream_settings), (SELECT count(*) FROM calls)`

func (s sqliteQueries) counts(ctx context.Context) (CopyCounts, error) {
	var c CopyCounts
	err := s.q.QueryRowContext(ctx, countsQuery).
		Scan(&c.Users, &c.Sessions, &c.Keys, &c.Devices, &c.StreamSettings, &c.Calls)
	return c, err
}

func (s sqliteQueries) dump(ctx context.Context) (*dump, error) {
	d := &dump{}
	rows, err := s.q.QueryContext(ctx, "SELECT "+sqliteUserColumns+", password_hash FROM users ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	if d.users, err = collect(rows, func(r interface{ Scan(...any) error }) (userRow, error) {
		var u userRow
		var created, seen int64
		prefs := prefScan{u: &u.User}
		err := r.Scan(append(append([]any{&u.Name, &u.DisplayName, &u.Role, &u.Disabled, &created, &seen}, prefs.dest()...), &u.hash)...)
		u.Created, u.LastSeen = fromMillis(created), fromMillis(seen)
		if err == nil {
			err = prefs.done()
		}
		return u, err
	}); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	if rows, err = s.q.QueryContext(ctx, "SELECT "+sqliteTokenColumns+", hash FROM tokens ORDER BY created_at, id"); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if d.tokens, err = collect(rows, func(r interface{ Scan(...any) error }) (tokenRow, error) {
		var t tokenRow
		var created, expires int64
		err := r.Scan(&t.ID, &t.Kind, &t.Owner, &t.Scope.Action, &t.Scope.Stream, &t.Label, &t.ClientAddr, &created, &expires, &t.hash)
		t.Created, t.Expires = fromMillis(created), fromMillis(expires)
		return t, err
	}); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if d.devices, err = s.devices(ctx); err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	if rows, err = s.q.QueryContext(ctx, "SELECT name, public, updated_at FROM stream_settings ORDER BY name"); err != nil {
		return nil, fmt.Errorf("stream settings: %w", err)
	}
	if d.settings, err = collect(rows, func(r interface{ Scan(...any) error }) (streamSetting, error) {
		var st streamSetting
		var updated int64
		err := r.Scan(&st.name, &st.public, &updated)
		st.updated = fromMillis(updated)
		return st, err
	}); err != nil {
		return nil, fmt.Errorf("stream settings: %w", err)
	}
	if rows, err = s.q.QueryContext(ctx, "SELECT id, caller, callee, started_at, ended_at, end_reason FROM calls ORDER BY started_at, id"); err != nil {
		return nil, fmt.Errorf("calls: %w", err)
	}
	if d.calls, err = collect(rows, scanSQLiteCall); err != nil {
		return nil, fmt.Errorf("calls: %w", err)
	}
	return d, nil
}

// load inserts the rows with one prepared statement per table.
func (s sqliteQueries) load(ctx context.Context, d *dump) error {
	insert := func(what, query string, n int, args func(i int) []any) error {
		if n == 0 {
			return nil
		}
		st, err := s.q.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		defer st.Close()
		for i := range n {
			if _, err := st.ExecContext(ctx, args(i)...); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		return nil
	}
	return firstErr(
		func() error {
			return insert("users", sqliteInsertUser, len(d.users), func(i int) []any {
				u := d.users[i]
				return append([]any{u.Name, u.DisplayName, string(u.Role), u.hash, u.Disabled, millis(u.Created), millis(u.LastSeen)}, u.prefValues()...)
			})
		},
		func() error {
			return insert("tokens", sqliteInsertToken, len(d.tokens), func(i int) []any {
				t := d.tokens[i]
				return []any{t.ID, t.hash, string(t.Kind), t.Owner, string(t.Scope.Action), t.Scope.Stream, t.Label, t.ClientAddr, millis(t.Created), millis(t.Expires)}
			})
		},
		func() error {
			return insert("devices", `INSERT INTO devices (`+sqliteDeviceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, len(d.devices), func(i int) []any {
				v := d.devices[i]
				return []any{v.Name, v.URL, v.Transport, v.Disabled, v.AlwaysOn, v.Restricted, strings.Join(v.Viewers, " "), millis(v.Created), millis(v.Updated)}
			})
		},
		func() error {
			return insert("stream settings", "INSERT INTO stream_settings (name, public, updated_at) VALUES (?, ?, ?)", len(d.settings), func(i int) []any {
				st := d.settings[i]
				return []any{st.name, st.public, millis(st.updated)}
			})
		},
		func() error {
			return insert("calls", "INSERT INTO calls (id, caller, callee, started_at, ended_at, end_reason) VALUES (?, ?, ?, ?, ?, ?)", len(d.calls), func(i int) []any {
				c := d.calls[i]
				return []any{c.ID, c.Caller, c.Callee, millis(c.Started), millis(c.Ended), c.EndReason}
			})
		},
	)
}

func (s sqliteQueries) wipe(ctx context.Context) error {
	for _, table := range []string{"tokens", "users", "devices", "stream_settings", "calls"} {
		if _, err := s.q.ExecContext(ctx, "DELETE FROM "+table); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}

// firstErr runs the steps in order until one fails.
func firstErr(steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
