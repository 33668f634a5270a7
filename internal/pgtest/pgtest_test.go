package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestMissingChild asks a server without binaries, which it requires, for
// a database; run by TestMissingBinaries, it must fail.
func TestMissingChild(t *testing.T) {
	if os.Getenv(missingEnv) == "" {
		t.Skip("only runs as the child of TestMissingBinaries")
	}
	(&Server{glob: "/nonexistent/*/bin", opts: Options{Required: true}}).Database(t)
}

// Without PostgreSQL's binaries a test is skipped, saying why, unless
// PostgreSQL is required (in CI); then it fails.
func TestMissingBinaries(t *testing.T) {
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
	cmd.Env = append(os.Environ(), missingEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "PostgreSQL is needed in CI") {
		t.Errorf("in CI a test without PostgreSQL did not fail: %v\n%s", err, out)
	}
}

// orphanEnv makes the test binary run TestOrphanChild alone; its value is
// the file where the child writes its server's port and directory.
const orphanEnv = "WISHCAST_PGTEST_ORPHAN_CHILD"

// TestOrphanChild starts a server and dies without stopping it, as a
// panicking test binary would.
func TestOrphanChild(t *testing.T) {
	out := os.Getenv(orphanEnv)
	if out == "" {
		t.Skip("only runs as the child of TestServerDiesWithTests")
	}
	s := New(Options{})
	s.Database(t)
	if err := os.WriteFile(out, []byte(fmt.Sprintf("%d %s", s.Port(), s.dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Exit(3)
}

// A test binary that dies without Stop leaves no server running, and its
// directory goes at the next start.
func TestServerDiesWithTests(t *testing.T) {
	if _, err := findBin("/usr/lib/postgresql/*/bin"); err != nil {
		t.Skip(err)
	}
	out := filepath.Join(t.TempDir(), "child")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOrphanChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), orphanEnv+"="+out)
	if b, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("the child did not die: %s", b)
	}
	var port int
	var dir string
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(string(b), "%d %s", &port, &dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server of a dead test binary still runs")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the dead binary's directory: %v", err)
	}
	sweep()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the dead binary's directory was not swept: %v", err)
	}
}
