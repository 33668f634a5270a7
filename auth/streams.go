package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// SetStreamPublic records whether anyone, signed in or not, may view the
// stream name (a live/ or devices/ name), whether or not it is live now.
func (s *Store) SetStreamPublic(ctx context.Context, name string, public bool) error {
	sn, err := splitStream(name)
	if err != nil {
		return fmt.Errorf("stream settings: %w", err)
	}
	if sn.seg[0] != nsLive && sn.seg[0] != nsDevices {
		return fmt.Errorf("stream settings %s: %w", clip(name), invalidf("only live/ streams and cameras (devices/) can be public"))
	}
	now := millis(s.now())
	return s.write(ctx, "stream settings "+clip(name), func(tx *sql.Tx) error {
		if !public {
			_, err := tx.ExecContext(ctx, "DELETE FROM stream_settings WHERE name = ?", name)
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO stream_settings (name, public, updated_at) VALUES (?, 1, ?)", name, now)
		return err
	})
}

// StreamPublic reports whether the stream name was made public.
func (s *Store) StreamPublic(ctx context.Context, name string) (bool, error) {
	if !strings.HasPrefix(name, nsLive+"/") && !strings.HasPrefix(name, nsDevices+"/") {
		return false, nil
	}
	var public bool
	err := s.rdb.QueryRowContext(ctx, "SELECT public FROM stream_settings WHERE name = ?", name).Scan(&public)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stream settings %s: %w", clip(name), err)
	}
	return public, nil
}
