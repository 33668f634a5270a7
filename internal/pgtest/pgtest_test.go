package pgtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

var pg = New(Options{})

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// Each call gives a separate, empty database that answers queries.
func TestDatabase(t *testing.T) {
	ctx := context.Background()
	seen := map[string]bool{}
	for range 3 {
		url := pg.Database(t)
		if seen[url] {
			t.Fatalf("database %s handed out twice", url)
		}
		seen[url] = true
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil || n != 0 {
			t.Errorf("fresh database has %d tables (%v)", n, err)
		}
		_ = conn.Close(ctx)
	}
}

func TestStopTwice(t *testing.T) {
	s := New(Options{})
	s.Stop()
	s.Stop()
}

// missingEnv makes the test binary run TestMissingChild alone.
const missingEnv = "WISHCAST_PGTEST_MISSING_CHILD"

// TestMissingChild asks a server without binaries for a database; run by
// TestMissingBinaries with CI set, it must fail.
func TestMissingChild(t *testing.T) {
	if os.Getenv(missingEnv) == "" {
		t.Skip("only runs as the child of TestMissingBinaries")
	}
	(&Server{glob: "/nonexistent/*/bin"}).Database(t)
}

// Without PostgreSQL's binaries a test is skipped, saying why, outside
// CI; in CI it fails.
func TestMissingBinaries(t *testing.T) {
	t.Setenv("CI", "")
	s := &Server{glob: "/nonexistent/*/bin"}
	var skipped bool
	t.Run("outside CI", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		s.Database(t)
	})
	if !skipped {
		t.Error("a test without PostgreSQL was not skipped")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), missingEnv+"=1", "CI=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "PostgreSQL is needed in CI") {
		t.Errorf("in CI a test without PostgreSQL did not fail: %v\n%s", err, out)
	}
}
