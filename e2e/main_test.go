//go:build e2e

// Package e2e runs wishcast in a real Chromium: a page publishes the fake
// camera over WHIP, another views it over WHEP. Run with
//
//	go test -tags e2e -race -count=1 -v ./e2e/
//
// It needs chromium (or Chrome) on PATH. Screenshots go to the directory in
// WISHCAST_ARTIFACTS, or to a temporary directory. The Gst tests do the same
// with GStreamer's webrtcbin on both ends (gstreamer_test.go).
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wishcast/wishcast/internal/pgtest"
)

// serverBin is the wishcast binary that TestMain builds once.
var serverBin string

// raceEnabled is set by race_test.go when the tests run with -race; the
// server binary is then built with -race too, so that a data race in the
// server under real browser traffic fails the test (the binary exits 66).
var raceEnabled bool

// pg is the PostgreSQL of the cluster tests, started when a test first
// asks for a database (runMain stops it).
var pg = pgtest.New(pgtest.Options{Required: os.Getenv("CI") != ""})

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wishcast-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBin, err = buildServer(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building wishcast:", err)
		return 1
	}
	defer pg.Stop()
	return m.Run()
}

// skipNoted skips t like t.Skipf and also appends the reason to
// skipped.txt in WISHCAST_ARTIFACTS, which CI prints at the end of its
// log: go test shows no skip of a passing package unless -v, and a test
// that skips silently guards nothing.
func skipNoted(t *testing.T, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if dir := os.Getenv("WISHCAST_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			f, err := os.OpenFile(filepath.Join(dir, "skipped.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err == nil {
				fmt.Fprintf(f, "%s: %s\n", t.Name(), reason)
				f.Close()
			}
		}
	}
	t.Skip(reason)
}

// buildServer builds ./cmd/wishcast of this module into dir.
func buildServer(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "wishcast")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/wishcast")
	start := time.Now()
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(args, " "), root, err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: built wishcast (race=%v) in %s\n", raceEnabled, time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// moduleRoot is the directory of the go.mod of this module.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := string(bytes.TrimSpace(out))
	if gomod == "" || gomod == os.DevNull {
		return filepath.Abs("..")
	}
	return filepath.Dir(gomod), nil
}
