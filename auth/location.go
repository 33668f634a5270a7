package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// Location is where a store lives: a SQLite file, or a PostgreSQL
// database that several processes share.
type Location struct {
	// Path is the SQLite file; empty for PostgreSQL.
	Path string
	// URL is the PostgreSQL connection URL (postgres://user:pass@host:port/db?sslmode=...);
	// empty for SQLite. It may hold a password: print String instead.
	URL string
}

// ParseLocation reads a store's address: sqlite://PATH (or sqlite:PATH;
// the rest is a file path, relative or absolute, as written) or a
// postgres:// (postgresql://) URL.
func ParseLocation(s string) (Location, error) {
	switch {
	case strings.HasPrefix(s, "sqlite://"):
		return sqliteLocation(strings.TrimPrefix(s, "sqlite://"))
	case strings.HasPrefix(s, "sqlite:"):
		return sqliteLocation(strings.TrimPrefix(s, "sqlite:"))
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return Location{}, errors.New("the PostgreSQL URL is malformed (postgres://user:password@host:port/database?sslmode=...)")
		}
		return Location{URL: s}, nil
	}
	return Location{}, fmt.Errorf("%q is not a store address: use sqlite://PATH or postgres://user:password@host:port/database", redactLocation(s))
}

// sqliteLocation is the location of a SQLite file.
func sqliteLocation(path string) (Location, error) {
	if path == "" {
		return Location{}, errors.New("sqlite:// needs a file path, such as sqlite://data/wishcast.db")
	}
	return Location{Path: path}, nil
}

// IsPostgres reports whether the location is a PostgreSQL database.
func (l Location) IsPostgres() bool { return l.URL != "" }

// String is the location without its password: the file path of a
// SQLite store, the URL of a PostgreSQL one with the password (in the
// user information or a password parameter) replaced by xxxxx.
func (l Location) String() string {
	if !l.IsPostgres() {
		return l.Path
	}
	return redactLocation(l.URL)
}

// redactLocation hides the passwords of a URL; something that is not a
// URL is not shown at all.
func redactLocation(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable address)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// secrets are the strings of the location that must not reach a log or
// an error message: the URL itself and each password, as written and
// decoded.
func (l Location) secrets() []string {
	if !l.IsPostgres() {
		return nil
	}
	out := []string{l.URL}
	u, err := url.Parse(l.URL)
	if err != nil {
		return out
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
	}
	if pw := u.Query().Get("password"); pw != "" {
		out = append(out, pw, url.QueryEscape(pw))
	}
	// As written, percent-encoding and all: the user information ends at
	// the last '@' before the path.
	_, rest, _ := strings.Cut(l.URL, "://")
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
			out = append(out, pw)
		}
	}
	return out
}

// open opens the backend at the location.
func (l Location) open(ctx context.Context, cfg Config, log *slog.Logger) (backend, error) {
	if l.IsPostgres() {
		return openPostgres(ctx, l, cfg, log)
	}
	return openSQLite(ctx, l.Path, cfg.BusyTimeout, log)
}

// scrub returns err without the location's secrets: the same error when
// its message holds none, otherwise one with the message cleaned and
// nothing to unwrap but a context error, since the errors inside could
// still print them.
func (l Location) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg, dirty := l.clean(err.Error())
	if !dirty {
		return err
	}
	return &scrubbedError{msg: msg, kind: contextKind(err)}
}

// hide is scrub for the errors of connecting, which always lose what they
// wrap: pgx keeps the connection string (password and all) in some of
// them, and redacts only what it recognises in their messages.
func (l Location) hide(err error) error {
	if err == nil {
		return nil
	}
	msg, _ := l.clean(err.Error())
	return &scrubbedError{msg: msg, kind: contextKind(err)}
}

// clean replaces the location's secrets in msg by xxxxx and says whether
// there were any.
func (l Location) clean(msg string) (string, bool) {
	dirty := false
	for _, s := range l.secrets() {
		if s != "" && strings.Contains(msg, s) {
			msg, dirty = strings.ReplaceAll(msg, s, "xxxxx"), true
		}
	}
	return msg, dirty
}

// contextKind is the context error err wraps, if any.
func contextKind(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	return nil
}

// scrubbedError is an error whose message had a password taken out.
type scrubbedError struct {
	msg  string
	kind error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.kind }
