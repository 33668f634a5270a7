package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/wishcast/wishcast/auth"
)

// storeCmd runs "wishcast store copy": it moves an installation's
// accounts, keys, cameras, settings and call history from one store to
// another, such as from the SQLite file of DATA_DIR to the PostgreSQL
// database of DATABASE_URL.
func storeCmd(cfg Config, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "copy" {
		fmt.Fprintln(stderr, "usage: wishcast store copy [--from sqlite://DATA_DIR/wishcast.db] [--to postgres://...] [--replace]")
		return 2
	}
	fs := flag.NewFlagSet("store copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "sqlite://"+filepath.Join(cfg.DataDir, auth.DefaultFileName), "the store to copy: sqlite://PATH or postgres://...")
	// The default is filled in after parsing, so that a usage message
	// never prints DATABASE_URL's password.
	to := fs.String("to", "", "the store to fill: postgres://... or sqlite://PATH (default: DATABASE_URL, which keeps the password off the command line)")
	replace := fs.Bool("replace", false, "empty a target that already holds data (such as the admin of a first start) before copying")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: wishcast store copy [--from sqlite://DATA_DIR/wishcast.db] [--to postgres://...] [--replace]")
		return 2
	}
	if *to == "" {
		*to = cfg.DatabaseURL
	}
	if *to == "" {
		fmt.Fprintln(stderr, "wishcast: store copy needs a target: --to, or the DATABASE_URL setting")
		return 2
	}
	fl, err := auth.ParseLocation(*from)
	if err == nil {
		var tl auth.Location
		if tl, err = auth.ParseLocation(*to); err == nil {
			return copyStore(cfg, fl, tl, *replace, stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "wishcast:", err)
	return 2
}

// copyStore copies from one store to another and reports what it moved.
func copyStore(cfg Config, from, to auth.Location, replace bool, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()
	counts, err := auth.Copy(context.Background(), address(from), address(to), cfg.Auth, auth.CopyOptions{Replace: replace}, log)
	if errors.Is(err, auth.ErrTargetNotEmpty) {
		fmt.Fprintf(stderr, "wishcast: %v\nnothing was copied; add --replace to empty %s first\n", err, to)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "wishcast: store copy:", err)
		return 1
	}
	fmt.Fprintf(stdout, "copied %s\nfrom %s\nto   %s\nin %s\n", counts, from, to, time.Since(start).Round(time.Millisecond))
	return 0
}

// address is a location as OpenURL and Copy take it.
func address(l auth.Location) string {
	if l.IsPostgres() {
		return l.URL
	}
	return "sqlite://" + l.Path
}
