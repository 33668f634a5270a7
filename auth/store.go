package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Store is the accounts store: users, sessions, publish keys, devices,
// stream settings and call history, in one SQLite file (the embedded
// default, see Open) or in PostgreSQL, shared by several processes (see
// OpenURL). Both backends keep the same contract; the Store decides
// everything else (validation, password hashing, the last-admin rule, the
// token cache). It is safe for concurrent use.
type Store struct {
	cfg     Config
	log     *slog.Logger
	db      backend
	where   string // the database, for errors (no password)
	hasher  *hasher
	limits  *limiter
	cache   *tokenCache
	boot    Bootstrap
	now     func() time.Time // replaced by tests
	signIns struct{ ok, bad, disabled, limited, failed atomic.Uint64 }
	// onRevoke hears revocations by other processes (SetOnRevoke).
	onRevoke atomic.Pointer[func(Revocation)]
	// stopListening ends the listener (nil when there is none); wg
	// waits for it.
	stopListening context.CancelFunc
	wg            sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Open opens the SQLite store at path, creating the file (mode 0600) and
// its directory (mode 0750) if needed, applies the embedded schema
// migrations and, when the store has no user, creates the first admin
// (see Store.Bootstrap). A nil log discards logs.
func Open(ctx context.Context, path string, cfg Config, log *slog.Logger) (*Store, error) {
	return open(ctx, Location{Path: path}, cfg, log, true)
}

// OpenURL opens the store at address: sqlite://PATH, as Open does, or a
// postgres:// URL (see ParseLocation), where several wishcast processes
// may share one database. The password in the URL never appears in an
// error or a log line.
func OpenURL(ctx context.Context, address string, cfg Config, log *slog.Logger) (*Store, error) {
	loc, err := ParseLocation(address)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return open(ctx, loc, cfg, log, true)
}

// open opens the store at a location. A full store, one to serve from,
// gets its first admin if it has no user and, on a database that other
// processes share, hears their revocations; store copy wants neither.
func open(ctx context.Context, loc Location, cfg Config, log *slog.Logger, full bool) (*Store, error) {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := newHasher(cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{
		cfg:    cfg,
		log:    log,
		where:  loc.String(),
		hasher: h,
		limits: newLimiter(cfg.LoginMaxFailures, cfg.LoginWindow),
		cache:  newTokenCache(cfg.TokenCacheTTL),
		now:    time.Now,
	}
	if s.db, err = loc.open(ctx, cfg, log); err != nil {
		return nil, fmt.Errorf("open store %s: %w", s.where, err)
	}
	ms, err := loadMigrations(s.db.kind())
	if err == nil {
		err = s.db.migrate(ctx, ms, s.now(), log)
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open store %s: %w", s.where, err)
	}
	if full {
		if err := s.bootstrap(ctx); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("open store %s: %w", s.where, err)
		}
		s.listen()
	}
	return s, nil
}

// listen starts hearing other processes' revocations, if the backend
// can. Until it hears, and whenever it cannot, the token cache is off.
func (s *Store) listen() {
	n, ok := s.db.(notifier)
	if !ok {
		return
	}
	s.cache.pause(true)
	ctx, stop := context.WithCancel(context.Background())
	s.stopListening = stop
	s.wg.Go(func() {
		n.listen(ctx, s.heard, func(up bool) { s.cache.pause(!up) })
	})
}

// Backend names the database behind the store: "sqlite" or "postgres".
func (s *Store) Backend() string { return s.db.kind() }

// Ping checks that the database answers a query, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.ping(ctx); err != nil {
		return fmt.Errorf("account store: %w", err)
	}
	return nil
}

// Close closes the store. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stopListening != nil {
			s.stopListening()
			s.wg.Wait()
		}
		if err := s.db.close(); err != nil {
			s.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.closeErr
}

// write runs fn in a write transaction and commits it; what names the
// operation in errors, which wrap fn's error unchanged.
func (s *Store) write(ctx context.Context, what string, fn func(q queries) error) error {
	if err := s.db.write(ctx, fn); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// read returns the statements for reads outside a transaction.
func (s *Store) read() queries { return s.db.read() }
