package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Several processes starting at once on a new database: the advisory
// lock lets one migrate, the others find the schema done, and exactly one
// first admin is created.
func TestPostgresConcurrentStart(t *testing.T) {
	u := pg.Database(t)
	const n = 6
	var wg sync.WaitGroup
	stores := make([]*Store, n)
	errs := make([]error, n)
	logs := make([]*syncBuffer, n)
	for i := range n {
		logs[i] = &syncBuffer{}
		wg.Go(func() {
			stores[i], errs[i] = OpenURL(context.Background(), u, testConfig(), slog.New(slog.NewTextHandler(logs[i], nil)))
		})
	}
	wg.Wait()
	created, applied := 0, 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("store %d: %v", i, errs[i])
		}
		defer stores[i].Close()
		if stores[i].Bootstrap().Created {
			created++
		}
		applied += strings.Count(logs[i].String(), "applied database migration")
	}
	ms, _ := loadMigrations("postgres")
	if applied != len(ms) {
		t.Errorf("%d migrations applied across %d stores, want %d", applied, n, len(ms))
	}
	if created != 1 {
		t.Errorf("%d stores created the first admin, want 1", created)
	}
	if us, err := stores[0].ListUsers(context.Background()); err != nil || len(us) != 1 {
		t.Errorf("users: %+v, %v", us, err)
	}
}

// The password of the database URL reaches no error and no log line,
// whatever goes wrong: a server that does not answer, a malformed
// setting, a password in the parameters.
func TestPostgresPasswordNeverShown(t *testing.T) {
	const secret = "Pa55-w0rd!secret"
	esc := url.QueryEscape(secret)
	for name, addr := range map[string]string{
		"refused":        "postgres://wishcast:" + esc + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2",
		"bad parameter":  "postgres://wishcast:" + esc + "@127.0.0.1:1/db?pool_max_conns=lots",
		"bad sslmode":    "postgres://wishcast:" + esc + "@127.0.0.1:1/db?sslmode=sometimes",
		"password param": "postgres://wishcast@127.0.0.1:1/db?password=" + esc + "&connect_timeout=2",
		"no such host":   "postgres://wishcast:" + esc + "@no-such-host.invalid/db?connect_timeout=2",
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s, err := OpenURL(context.Background(), addr, testConfig(), log)
			if err == nil {
				_ = s.Close()
				t.Fatal("opened")
			}
			for _, shown := range []string{err.Error(), logs.String()} {
				if strings.Contains(shown, secret) || strings.Contains(shown, esc) {
					t.Errorf("the password is shown: %s", shown)
				}
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), secret) || strings.Contains(e.Error(), esc) {
					t.Errorf("an error inside holds the password: %T %s", e, e)
				}
			}
			t.Logf("%s: %v", name, err)
		})
	}
	// A store whose database goes away mid-life: its errors do not show
	// the password either.
	u, _ := url.Parse(pg.Database(t))
	u.User = url.UserPassword(u.User.Username(), secret)
	s, err := OpenURL(context.Background(), u.String(), testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if loc, _ := ParseLocation(u.String()); strings.Contains(loc.String(), secret) || !strings.Contains(loc.String(), "xxxxx") {
		t.Errorf("Location.String() = %s", loc)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	dbName := strings.TrimPrefix(u.Path, "/")
	for _, q := range []string{
		"ALTER DATABASE " + dbName + " ALLOW_CONNECTIONS false",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + dbName + "'",
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { _, _ = admin.Exec(ctx, "ALTER DATABASE "+dbName+" ALLOW_CONNECTIONS true") }()
	s.db.(*pgDB).pool.Reset()
	_, key := newSecret(KeyPrefix)
	var errs []error
	for range 2 { // the first may meet a connection the server just ended, the second must connect
		errs = append(errs, s.Ping(ctx))
		_, err := s.GetUser(ctx, "admin")
		errs = append(errs, err)
		_, err = s.Authenticate(ctx, KeyPrefix+base64.RawURLEncoding.EncodeToString(key[:]))
		errs = append(errs, err)
		_, _, err = s.CreateToken(ctx, "admin", Scope{Action: ActionView, Stream: "live/x"}, "", 0)
		errs = append(errs, err)
	}
	for _, err := range errs {
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("with the database refusing connections: %v", err)
		}
	}
	t.Logf("for example: %v", errs[len(errs)-1])
}

func TestParseLocation(t *testing.T) {
	for in, want := range map[string]Location{
		"sqlite://data/wishcast.db":       {Path: "data/wishcast.db"},
		"sqlite:///var/lib/w/wishcast.db": {Path: "/var/lib/w/wishcast.db"},
		"sqlite:rel.db":                   {Path: "rel.db"},
		"postgres://u:p@h:5432/db":        {URL: "postgres://u:p@h:5432/db"},
		"postgresql://u@h/db":             {URL: "postgresql://u@h/db"},
	} {
		got, err := ParseLocation(in)
		if err != nil || got != want {
			t.Errorf("ParseLocation(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "sqlite://", "mysql://u:secretpw@h/db", "/plain/path.db", "postgres://u:secretpw@h:port/db"} {
		if _, err := ParseLocation(bad); err == nil {
			t.Errorf("ParseLocation(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("ParseLocation(%q): the error shows the password: %v", bad, err)
		}
	}
	for in, want := range map[string]string{
		"postgres://u:p%40ss@h/db?sslmode=require": "postgres://u:xxxxx@h/db?sslmode=require",
		"postgres://u@h/db?password=pw&x=1":        "postgres://u@h/db?password=xxxxx&x=1",
		"sqlite://data/w.db":                       "data/w.db",
	} {
		loc, err := ParseLocation(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := loc.String(); got != want {
			t.Errorf("%s: String() = %s, want %s", in, got, want)
		}
	}
}
