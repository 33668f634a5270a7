//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// firefoxNames are the executables tried for Firefox, Debian's first.
var firefoxNames = []string{"firefox-esr", "firefox"}

// requireFirefox returns Firefox's executable. Without one the test skips,
// noting why, or fails under CI, whose script installs firefox-esr.
func requireFirefox(t *testing.T) string {
	t.Helper()
	for _, name := range firefoxNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	reason := fmt.Sprintf("no Firefox on PATH (tried %s)", strings.Join(firefoxNames, ", "))
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, and .ci/run installs firefox-esr)", reason)
	}
	skipNoted(t, "%s; install firefox-esr", reason)
	return ""
}

// firefox is the harness's Firefox, started on first use with a fresh
// profile (firefoxPrefs and h.ffPrefs, or the loopback ones) and closed
// at the end of the test.
func (h *harness) firefox() *bidi {
	h.t.Helper()
	if h.ffox != nil {
		return h.ffox
	}
	exe := requireFirefox(h.t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	prefs := h.ffPrefs
	if prefs == nil {
		prefs = firefoxLoopbackPrefs
	}
	b, err := startFirefox(ctx, exe, h.t.TempDir(), firefoxPrefs, prefs)
	if err != nil {
		h.fatalf("start Firefox: %v", err)
	}
	h.t.Logf("Firefox started in %s", time.Since(start).Round(time.Millisecond))
	h.ffox = b
	h.t.Cleanup(func() {
		start := time.Now()
		b.close()
		h.t.Logf("Firefox closed in %s", time.Since(start).Round(time.Millisecond))
		if h.t.Failed() {
			h.t.Logf("Firefox's output:\n%s", b.stderr)
		}
	})
	return b
}

// openFirefoxApp is openApp in Firefox: the wishcast app in a tab with
// cookies of its own, its console recorded (an exception, an error or a
// warning of the app fails the test), booted.
func (h *harness) openFirefoxApp(name string) *tab {
	h.t.Helper()
	tb := h.openFirefoxURL(name, h.srv.URL+"/")
	tb.uiWaitJS("the app to boot", uiTimeout, `document.body.dataset.ready === 'true'`)
	return tb
}

// openFirefoxURL opens url in a new Firefox tab with cookies of its own.
func (h *harness) openFirefoxURL(name, url string) *tab {
	h.t.Helper()
	b := h.firefox()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	page, err := b.newPage(ctx)
	if err != nil {
		h.fatalf("%s: open a Firefox tab: %v", name, err)
	}
	tb := &tab{h: h, name: name + " (Firefox)", ctx: context.Background(), ff: page}
	h.tabs = append(h.tabs, tb)
	var noise []string // guarded by tb.mu
	err = page.onConsole(ctx, func(level, text string, exception bool) {
		line := level + " " + text
		if exception {
			line = "exception " + text
		}
		tb.mu.Lock()
		defer tb.mu.Unlock()
		tb.console = append(tb.console, line)
		if exception || level == "error" || level == "warn" {
			noise = append(noise, line)
		}
	})
	if err != nil {
		h.fatalf("%s: record the console: %v", name, err)
	}
	h.t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		if len(noise) > 0 {
			h.t.Errorf("%s: the app wrote to the console:\n    %s", tb.name, strings.Join(noise, "\n    "))
		}
	})
	if err := page.navigate(ctx, url); err != nil {
		h.fatalf("%s: load %s: %v", name, url, err)
	}
	return tb
}

// ffDo runs one BiDi step in the Firefox tab with a deadline, failing the
// test with what was being done.
func (tb *tab) ffDo(what string, f func(ctx context.Context) error) {
	tb.h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), uiTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		tb.h.fatalf("%s: %s: %v", tb.name, what, err)
	}
}
