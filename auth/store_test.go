package auth

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"
)

func TestOpenPragmasAndPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, DefaultFileName)
	s, _ := openAt(t, path, testConfig())
	ctx := context.Background()
	db := sqliteOf(t, s)

	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	} {
		var got string
		if err := db.wdb.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("writer PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
	var fk, qo string
	if err := db.rdb.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != "1" {
		t.Errorf("reader foreign_keys = %q, %v", fk, err)
	}
	if err := db.rdb.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
		t.Errorf("reader query_only = %q, %v", qo, err)
	}
	if _, err := db.rdb.ExecContext(ctx, "DELETE FROM users"); err == nil {
		t.Error("the reader pool accepted a write")
	}

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", st.Mode().Perm())
	}
	if st, err := os.Stat(path + "-wal"); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("WAL file: %v, %v", st.Mode(), err)
	}
	dst, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Mode().Perm() != 0o750 {
		t.Errorf("directory mode %v, want 0750", dst.Mode().Perm())
	}
}

func TestMigrationsAppliedOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		ms, err := loadMigrations(db.kind)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Fatal("no migrations embedded")
		}
		ctx := context.Background()
		read := func(s *Store) (n, top int) {
			rawQueryRow(t, s, []any{&n, &top}, "SELECT count(*), max(version) FROM schema_version")
			return n, top
		}

		s1, log1 := db.openLogged(t, testConfig())
		if n, top := read(s1); n != len(ms) || top != len(ms) {
			t.Fatalf("schema_version has %d rows up to %d, want %d", n, top, len(ms))
		}
		if n := strings.Count(log1.String(), "applied database migration"); n != len(ms) {
			t.Errorf("logged %d migrations, want %d", n, len(ms))
		}
		mustUser(t, s1, "keep", RoleUser)
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s1.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}

		s2, log2 := db.openLogged(t, testConfig())
		if n, top := read(s2); n != len(ms) || top != len(ms) {
			t.Errorf("reopen changed schema_version: %d rows up to %d", n, top)
		}
		if strings.Contains(log2.String(), "applied database migration") {
			t.Error("reopen applied a migration again")
		}
		if _, err := s2.GetUser(ctx, "keep"); err != nil {
			t.Errorf("data lost on reopen: %v", err)
		}
	})
}

// Both dialects have the same migration versions, so that a store can be
// copied from one to the other.
func TestMigrationVersionsMatch(t *testing.T) {
	lite, err := loadMigrations("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].name != pg[i].name {
			t.Errorf("migration %d is %s in SQLite, %s in PostgreSQL", i+1, lite[i].name, pg[i].name)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		if db.kind == "sqlite" {
			rawExec(t, s, "INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future.sql', 0)")
		} else {
			rawExec(t, s, "INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future.sql', now())")
		}
		_ = s.Close()
		_, err := db.tryOpen(testConfig())
		if err == nil || !strings.Contains(err.Error(), "newer wishcast") {
			t.Fatalf("Open of a newer schema: %v", err)
		}
	})
}

func TestOpenOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "with space?and#hash%20", DefaultFileName)
	s, _ := openAt(t, path, testConfig())
	mustUser(t, s, "odd", RoleUser)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
	var file string
	if err := sqliteOf(t, s).rdb.QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
		t.Fatal(err)
	}
	if file != path {
		t.Errorf("SQLite opened %q, want %q", file, path)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.SessionTTL.Hours() != 720 || c.LoginMaxFailures != 5 || c.LoginWindow.Minutes() != 1 ||
		c.PasswordMemory != 65536 || c.PasswordTime != 2 || c.PasswordThreads != 2 || c.AdminName != "admin" ||
		c.LoginConcurrency != 2 || c.TokenCacheTTL.Seconds() != 10 || c.BusyTimeout.Seconds() != 5 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestConfigTags(t *testing.T) {
	parsed, err := env.ParseAsWithOptions[Config](env.Options{Environment: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Config{}).withDefaults(); parsed != want {
		t.Errorf("envDefault tags and withDefaults disagree:\n env: %+v\n go:  %+v", parsed, want)
	}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Tag.Get("env") == "" || f.Tag.Get("desc") == "" {
			t.Errorf("field %s lacks an env or desc tag", f.Name)
		}
	}
}
