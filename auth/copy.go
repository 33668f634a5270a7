package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrTargetNotEmpty is returned by Copy when the target store already
// holds data and CopyOptions.Replace is not set.
var ErrTargetNotEmpty = errors.New("the target store is not empty")

// CopyCounts counts the rows of a store, or those a copy moved.
type CopyCounts struct {
	Users, Sessions, Keys, Devices, StreamSettings, Calls int
}

// String is the counts in words, for the command line.
func (c CopyCounts) String() string {
	return fmt.Sprintf("%d users, %d sign-in sessions, %d publish keys, %d cameras, %d stream settings, %d calls",
		c.Users, c.Sessions, c.Keys, c.Devices, c.StreamSettings, c.Calls)
}

// empty reports whether nothing was counted.
func (c CopyCounts) empty() bool { return c == CopyCounts{} }

// CopyOptions shape a Copy.
type CopyOptions struct {
	// Replace empties a target that holds data (the admin a first start
	// created, say) before copying; without it such a target is refused
	// with ErrTargetNotEmpty.
	Replace bool
}

// dump is every row of a store, what a copy moves.
type dump struct {
	users    []userRow
	tokens   []tokenRow
	devices  []Device
	settings []streamSetting
	calls    []CallRecord
}

// userRow is an account with its password hash.
type userRow struct {
	User
	hash string
}

// tokenRow is a session or publish key with the SHA-256 of its secret.
type tokenRow struct {
	Token
	hash []byte
}

// streamSetting is a row of the stream settings.
type streamSetting struct {
	name    string
	public  bool
	updated time.Time
}

// counts counts the rows of d.
func (d *dump) counts() CopyCounts {
	c := CopyCounts{Users: len(d.users), Devices: len(d.devices), StreamSettings: len(d.settings), Calls: len(d.calls)}
	for _, t := range d.tokens {
		if t.Kind == PrincipalSession {
			c.Sessions++
		} else {
			c.Keys++
		}
	}
	return c
}

// Copy copies a whole store to another, from and to being addresses as
// OpenURL takes them (sqlite://PATH, postgres://...): accounts with their
// password hashes (so old passwords keep working), sign-in sessions and
// publish keys (only their hashes exist), cameras, stream settings and
// call history. It reads the source in one consistent snapshot and
// writes the target in one transaction: all of it or nothing. Both are
// brought to the current schema first; the target gets no first admin.
// A target with data is refused (ErrTargetNotEmpty) unless opts.Replace.
// Processes running on the target are told to drop what they cached.
// It returns what it copied, counted again in the target.
func Copy(ctx context.Context, from, to string, cfg Config, opts CopyOptions, log *slog.Logger) (CopyCounts, error) {
	src, dst, err := openPair(ctx, from, to, cfg, log)
	if err != nil {
		return CopyCounts{}, err
	}
	defer src.Close()
	defer dst.Close()
	have, err := dst.db.read().counts(ctx)
	if err != nil {
		return CopyCounts{}, fmt.Errorf("count the target's rows: %w", err)
	}
	if !have.empty() && !opts.Replace {
		return CopyCounts{}, fmt.Errorf("%w (%s): copy into a store no wishcast has started on, or replace what it holds", ErrTargetNotEmpty, have)
	}
	var d *dump
	err = src.db.snapshot(ctx, func(q queries) error {
		var err error
		d, err = q.dump(ctx)
		return err
	})
	if err != nil {
		return CopyCounts{}, fmt.Errorf("read %s: %w", src.where, err)
	}
	err = dst.write(ctx, "write "+dst.where, func(q queries) error {
		if opts.Replace {
			if err := q.wipe(ctx); err != nil {
				return fmt.Errorf("empty the target: %w", err)
			}
		}
		if err := q.load(ctx, d); err != nil {
			return err
		}
		return q.revoked(ctx, Revocation{}) // nodes running on the target start afresh
	})
	if err != nil {
		return CopyCounts{}, err
	}
	got, err := dst.db.read().counts(ctx)
	if err != nil {
		return CopyCounts{}, fmt.Errorf("count the copied rows: %w", err)
	}
	if want := d.counts(); got != want {
		return got, fmt.Errorf("the target holds %s after the copy, not the %s read", got, want)
	}
	return got, nil
}

// openPair opens the two stores of a copy, without a first admin nor a
// listener.
func openPair(ctx context.Context, from, to string, cfg Config, log *slog.Logger) (src, dst *Store, err error) {
	fl, err := ParseLocation(from)
	if err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	tl, err := ParseLocation(to)
	if err != nil {
		return nil, nil, fmt.Errorf("target: %w", err)
	}
	if fl == tl {
		return nil, nil, errors.New("the source and the target are the same store")
	}
	if src, err = open(ctx, fl, cfg, log, false); err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	if dst, err = open(ctx, tl, cfg, log, false); err != nil {
		_ = src.Close()
		return nil, nil, fmt.Errorf("target: %w", err)
	}
	return src, dst, nil
}
