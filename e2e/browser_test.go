//go:build e2e

package e2e

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

//go:embed testdata
var testdata embed.FS

const (
	pollEvery = 100 * time.Millisecond
	// mediaTimeout bounds each wait for a media condition (answer, first
	// frame, ...). Warm, a first frame takes about 2 s.
	mediaTimeout = 20 * time.Second
)

// startPages serves testdata/ (index.html and wish.js) on 127.0.0.1, a
// secure context for getUserMedia, from another origin than wishcast.
func startPages(t *testing.T) *httptest.Server {
	t.Helper()
	sub, err := fs.Sub(testdata, "testdata")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.FileServerFS(sub))
	t.Cleanup(ts.Close)
	return ts
}

// harness is what one test drives: the server, the page server and the
// browser's tabs. Its fatalf adds their diagnostics to the message.
type harness struct {
	t     *testing.T
	srv   *wishcast
	pages *httptest.Server
	ctx   context.Context // the browser (first tab's context)
	tabs  []*tab
	ffox  *bidi // Firefox, once a test opened a tab in it
	// ffPrefs are Firefox's preferences beyond firefoxPrefs; nil means
	// firefoxLoopbackPrefs, for a server on 127.0.0.1.
	ffPrefs map[string]any
	shots   string // where screenshots go
	nextID  int
}

// newHarness starts the page server, the browser (with extra options, if
// any) and wishcast, in the order that makes cleanup stop wishcast first
// while the browser still holds sessions (graceful shutdown with live
// sessions), then the browser.
func newHarness(t *testing.T, extra ...chromedp.ExecAllocatorOption) *harness {
	t.Helper()
	return newHarnessSettings(t, nil, extra...)
}

// newHarnessSettings is newHarness with server settings of the test's own
// ("WISHCAST_X=v").
func newHarnessSettings(t *testing.T, settings []string, extra ...chromedp.ExecAllocatorOption) *harness {
	t.Helper()
	h := &harness{t: t}
	h.pages = startPages(t)
	h.ctx = newBrowser(t, extra...)
	h.srv = startWishcast(t, h.pages.URL, settings...)
	h.shots = os.Getenv("WISHCAST_ARTIFACTS")
	if h.shots == "" {
		h.shots = t.TempDir()
	} else if err := os.MkdirAll(h.shots, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	return h
}

// newBrowser starts one headless Chromium with fake media devices and a
// fresh profile. The returned context is the browser's first tab; it lives
// until the end of the test.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	execPath := "chromium"
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			execPath = p
			break
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Keep chromedp's defaults and hide no local IPs behind mDNS.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.WindowSize(800, 700),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser now with a context that has no deadline: the first
	// Run binds the browser's life to its context.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", execPath, err)
	}
	return ctx
}

// tab is one browser tab with the page loaded and its console recorded.
type tab struct {
	h       *harness
	name    string
	ctx     context.Context
	ff      *bidiPage // a Firefox tab (nil for Chromium's)
	mu      sync.Mutex
	console []string
}

// openTab opens the test page in a tab (the browser's first tab for the
// first call, a new one after) and waits for its module to load.
func (h *harness) openTab(name string) *tab {
	h.t.Helper()
	ctx := h.ctx
	if len(h.tabs) > 0 {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(h.ctx)
		h.t.Cleanup(cancel)
	}
	tb := &tab{h: h, name: name, ctx: ctx}
	h.tabs = append(h.tabs, tb)
	// Subscribe before the navigation so that nothing the page says is lost.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			line := fmt.Sprintf("%s %s", m.Type, m.Text)
			if m.URL != "" {
				line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			if m.IsException() && m.Stack != nil {
				for _, f := range m.Stack.CallFrames {
					line += fmt.Sprintf("\n      at %s (%s:%d)", f.FunctionName, f.URL, f.LineNumber+1)
				}
			}
			tb.mu.Lock()
			tb.console = append(tb.console, line)
			tb.mu.Unlock()
		}
	}()
	nctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(h.pages.URL+"/index.html")); err != nil {
		h.fatalf("%s: load the test page: %v", name, err)
	}
	tb.waitFor("the page's module to load", 10*time.Second, func() (bool, string, error) {
		ok, err := evaluate[bool](tb, `window.wishReady === true`)
		return ok, "", err
	})
	if _, err := evaluate[bool](tb, fmt.Sprintf(`(wish.setToken(%q), true)`, h.srv.token)); err != nil {
		h.fatalf("%s: set the token: %v", name, err)
	}
	return tb
}

// consoleText is the tab's console so far, one message a line.
func (tb *tab) consoleText() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.console) == 0 {
		return "    (nothing)"
	}
	return "    " + strings.Join(tb.console, "\n    ")
}

// diagnostics gathers what explains a failure: each tab's console and the
// end of the server's output.
func (h *harness) diagnostics() string {
	var b strings.Builder
	for _, tb := range h.tabs {
		fmt.Fprintf(&b, "\n--- console of the %s tab:\n%s\n", tb.name, tb.consoleText())
		if st, err := evaluate[json.RawMessage](tb, `window.wish ? window.wish.state : null`); err == nil {
			fmt.Fprintf(&b, "--- wish.state of the %s tab: %s\n", tb.name, st)
		}
	}
	if h.srv != nil {
		fmt.Fprintf(&b, "--- wishcast output (end):\n%s\n", h.srv.tail(60))
	}
	return b.String()
}

// fatalf fails the test with the message and the diagnostics.
func (h *harness) fatalf(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("%s\n%s", fmt.Sprintf(format, args...), h.diagnostics())
}

// evaluate runs the expression in the tab (awaiting a promise) and decodes
// its value, with a short deadline so a wedged page cannot hang the test.
func evaluate[T any](tb *tab, js string) (T, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if tb.ff != nil {
		var v T
		raw, err := tb.ff.evaluateJSON(ctx, js)
		if err != nil {
			return v, err
		}
		return v, json.Unmarshal(raw, &v)
	}
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// mustEvaluate is evaluate that fails the test on an error.
func mustEvaluate[T any](tb *tab, js string) T {
	tb.h.t.Helper()
	v, err := evaluate[T](tb, js)
	if err != nil {
		tb.h.fatalf("%s: evaluate %s: %v", tb.name, js, err)
	}
	return v
}

// waitFor polls check every pollEvery until it reports done, failing the
// test after timeout with the last detail and error it gave.
func (tb *tab) waitFor(what string, timeout time.Duration, check func() (done bool, detail string, err error)) {
	tb.h.t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		done, detail, err := check()
		if done && err == nil {
			tb.h.t.Logf("%s: %s after %d ms", tb.name, what, time.Since(start).Milliseconds())
			return
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s: timed out after %s waiting for %s", tb.name, timeout, what)
			if detail != "" {
				msg += "\n    last seen: " + detail
			}
			if err != nil {
				msg += fmt.Sprintf("\n    last error: %v", err)
			}
			tb.h.fatalf("%s", msg)
		}
		time.Sleep(pollEvery)
	}
}

// screenshot saves the tab's viewport as a PNG in the artifacts directory.
func (tb *tab) screenshot(name string) {
	tb.h.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	var png []byte
	var err error
	if tb.ff != nil {
		png, err = tb.ff.screenshot(ctx)
	} else {
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		tb.h.t.Errorf("%s: screenshot: %v", tb.name, err)
		return
	}
	path := filepath.Join(tb.h.shots, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.h.t.Errorf("%s: save screenshot: %v", tb.name, err)
		return
	}
	tb.h.t.Logf("%s: screenshot saved to %s", tb.name, path)
}
