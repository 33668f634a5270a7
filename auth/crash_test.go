package auth

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashEnv switches the test binary into the writer child of
// TestCrashSafety; its value is the store's address (sqlite://PATH or a
// postgres:// URL). crashPrefixEnv is the prefix of the child's user
// names, crashLogEnv the file where it notes what it committed.
const (
	crashEnv       = "WISHCAST_AUTH_CRASH_WRITER"
	crashPrefixEnv = "WISHCAST_AUTH_CRASH_PREFIX"
	crashLogEnv    = "WISHCAST_AUTH_CRASH_LOG"
)

// TestCrashWriter is the child: it creates users in a loop and appends
// each name to a file once CreateUser has returned (committed). It does
// nothing in a normal run.
func TestCrashWriter(t *testing.T) {
	addr := os.Getenv(crashEnv)
	if addr == "" {
		t.Skip("only runs as the child of TestCrashSafety")
	}
	s, err := OpenURL(context.Background(), addr, testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	prefix := os.Getenv(crashPrefixEnv)
	log, err := os.OpenFile(os.Getenv(crashLogEnv), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := s.CreateUser(ctx, NewUser{Name: name, Password: "crash-password"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateToken(ctx, name, Scope{Action: ActionPublish, Stream: "users/" + name}, "", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := log.WriteString(name + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashSafety kills a writing process with SIGKILL mid-stream and checks
// that the store opens and holds every user the child saw committed, on
// each backend.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	forEachBackend(t, func(t *testing.T, db *testDB) {
		addr := "sqlite://" + db.loc.Path
		if db.loc.IsPostgres() {
			addr = db.loc.URL
		}
		for round := range 3 {
			prefix := fmt.Sprintf("crash%d", round)
			committed := filepath.Join(t.TempDir(), prefix)
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashEnv+"="+addr, crashPrefixEnv+"="+prefix, crashLogEnv+"="+committed)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for len(readLines(t, committed)) < 40+round*17 {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatal("the child did not commit enough users in time")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup, mid-write
				t.Fatal(err)
			}
			_ = cmd.Wait()

			s, err := OpenURL(context.Background(), addr, testConfig(), nil)
			if err != nil {
				t.Fatalf("round %d: Open after SIGKILL: %v", round, err)
			}
			if db.kind == "sqlite" {
				var check string
				if err := sqliteOf(t, s).rdb.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
					t.Errorf("round %d: integrity_check = %q, %v", round, check, err)
				}
			}
			names := readLines(t, committed)
			for _, name := range names {
				if _, err := s.GetUser(context.Background(), name); err != nil {
					t.Errorf("round %d: committed user %s lost: %v", round, name, err)
				}
				if ks, err := s.ListTokens(context.Background(), name); err != nil || len(ks) != 1 {
					t.Errorf("round %d: key of %s lost: %v", round, name, err)
				}
			}
			us, _ := s.ListUsers(context.Background())
			t.Logf("round %d: %d users reported committed, %d in the store", round, len(names), len(us))
			_ = s.Close()
		}
	})
}

// readLines returns the complete (newline-terminated) lines of a file, none
// if it is missing.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	return lines[:len(lines)-1] // the last is empty or a line still being written
}
