//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// uiTimeout bounds each wait for something on screen that needs no media.
const uiTimeout = 10 * time.Second

// openApp opens the wishcast app, served by the server itself, in a new
// tab of its own browser context: its own cookies, so two tabs can be
// signed in as two people. It waits until the app has booted.
func (h *harness) openApp(name string) *tab {
	h.t.Helper()
	tb := h.openURL(name, h.srv.URL+"/")
	tb.uiWaitJS("the app to boot", uiTimeout, `document.body.dataset.ready === 'true'`)
	return tb
}

// openURL opens url in a new tab of its own browser context, recording
// its console: an exception, an error or a warning fails the test.
func (h *harness) openURL(name, url string) *tab {
	h.t.Helper()
	ctx, cancel := chromedp.NewContext(h.ctx, chromedp.WithNewBrowserContext())
	h.t.Cleanup(cancel)
	tb := &tab{h: h, name: name, ctx: ctx}
	h.tabs = append(h.tabs, tb)
	msgs := chromedp.Console(ctx)
	var noise []string // guarded by tb.mu
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			line := fmt.Sprintf("%s %s", m.Type, m.Text)
			if m.URL != "" {
				line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			quiet := m.Type == chromedp.ConsoleLog || m.Type == chromedp.ConsoleDebug || m.Type == chromedp.ConsoleInfo
			tb.mu.Lock()
			tb.console = append(tb.console, line)
			if !quiet && !strings.HasPrefix(m.Text, "Failed to load resource") {
				noise = append(noise, line)
			}
			tb.mu.Unlock()
		}
	}()
	// The app keeps the console quiet: an exception, an error or a
	// warning it logs fails the test. The browser's own lines about HTTP
	// errors (an expected 401 or 409) are not the app's.
	h.t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		if len(noise) > 0 {
			h.t.Errorf("%s: the app wrote to the console:\n    %s", name, strings.Join(noise, "\n    "))
		}
	})
	nctx, ncancel := context.WithTimeout(ctx, 15*time.Second)
	defer ncancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(url)); err != nil {
		h.fatalf("%s: load %s: %v", name, url, err)
	}
	return tb
}

// uiDo runs chromedp actions in the tab with a deadline, failing the test
// with what was being done.
func (tb *tab) uiDo(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.h.t.Helper()
	if tb.ff != nil {
		tb.h.fatalf("%s: %s: chromedp actions need Chromium", tb.name, what)
	}
	ctx, cancel := context.WithTimeout(tb.ctx, uiTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.h.fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// uiClick clicks the visible element sel (a CSS selector) like a user.
func (tb *tab) uiClick(sel string) {
	tb.h.t.Helper()
	if tb.ff != nil {
		// The app may draw the element anew between finding it and the
		// click (a list that follows presence): find it again then.
		tb.waitFor("a click on "+sel, uiTimeout, func() (bool, string, error) {
			ok, err := evaluate[bool](tb, visibleJS(sel))
			if err != nil || !ok {
				return false, "not visible", err
			}
			ctx, cancel := context.WithTimeout(context.Background(), uiTimeout)
			defer cancel()
			return true, "", tb.ff.click(ctx, sel)
		})
		return
	}
	tb.uiDo("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// uiFill types text into the visible field sel after clearing it.
func (tb *tab) uiFill(sel, text string) {
	tb.h.t.Helper()
	if tb.ff != nil {
		tb.uiWaitVisible(sel)
	} else {
		tb.uiDo("clear "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	}
	mustEvaluate[bool](tb, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true })); e.focus(); return true; })()`, sel))
	if tb.ff != nil {
		tb.ffDo("type into "+sel, func(ctx context.Context) error { return tb.ff.typeText(ctx, text) })
		return
	}
	tb.uiDo("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// uiWaitJS waits until the expression is true in the tab.
func (tb *tab) uiWaitJS(what string, timeout time.Duration, js string) {
	tb.h.t.Helper()
	tb.waitFor(what, timeout, func() (bool, string, error) {
		ok, err := evaluate[bool](tb, js)
		return ok, "", err
	})
}

// uiWaitVisible waits until sel is on screen (rendered, not hidden).
func (tb *tab) uiWaitVisible(sel string) {
	tb.h.t.Helper()
	tb.uiWaitJS(sel+" to be visible", uiTimeout, visibleJS(sel))
}

// visibleJS is an expression true when sel exists and is rendered.
func visibleJS(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.getClientRects().length > 0 && !e.closest('[hidden]'); })()`, sel)
}

// uiText returns the text of sel ("" when absent).
func (tb *tab) uiText(sel string) string {
	tb.h.t.Helper()
	return mustEvaluate[string](tb, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel))
}

// uiWaitText waits until sel's text contains want (case-insensitive).
func (tb *tab) uiWaitText(sel, want string, timeout time.Duration) string {
	tb.h.t.Helper()
	var got string
	tb.waitFor(fmt.Sprintf("%s to say %q", sel, want), timeout, func() (bool, string, error) {
		s, err := evaluate[string](tb, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel))
		got = s
		return strings.Contains(strings.ToLower(s), strings.ToLower(want)), fmt.Sprintf("%q", s), err
	})
	return got
}

// uiSignIn signs in through the form and waits for the home page.
func (tb *tab) uiSignIn(name, password string) {
	tb.h.t.Helper()
	tb.uiWaitVisible("#login-name")
	tb.uiFill("#login-name", name)
	tb.uiFill("#login-password", password)
	tb.uiClick("#login-submit")
	tb.uiWaitVisible("#people")
	tb.uiWaitJS("the live event feed", uiTimeout, `document.getElementById('conn').dataset.state === 'open'`)
}

// appSession mirrors one entry of window.wishcast.stats().
type appSession struct {
	Kind               string              `json:"kind"`
	Stream             string              `json:"stream"`
	Resource           string              `json:"resource"`
	Senders            []appSender         `json:"senders"`
	ConnectionState    string              `json:"connectionState"`
	ICEConnectionState string              `json:"iceConnectionState"`
	Inbound            map[string]rtpStats `json:"inbound"`
	Outbound           map[string]rtpStats `json:"outbound"`
	Layers             []appLayer          `json:"layers"`
}

// appLayer is one simulcast layer a publishing session sends.
type appLayer struct {
	RID string `json:"rid"`
	rtpStats
}

// appSender is what one sender of a session sends.
type appSender struct {
	Kind    string `json:"kind"`
	Label   string `json:"label"`
	Surface string `json:"surface"` // "monitor", "window", "browser" for a screen
}

// appSessions returns the page's live WebRTC sessions.
func (tb *tab) appSessions() ([]appSession, error) {
	return evaluate[[]appSession](tb, `window.wishcast.stats()`)
}

// waitAppDecoding waits until the page views a stream whose name starts with
// prefix, decodes its video, and the <video> sel shows it with a size.
func (tb *tab) waitAppDecoding(prefix, sel string) appSession {
	tb.h.t.Helper()
	var found appSession
	tb.waitFor(fmt.Sprintf("decoded video of %s* in %s", prefix, sel), mediaTimeout, func() (bool, string, error) {
		list, err := tb.appSessions()
		if err != nil {
			return false, "", err
		}
		w, err := evaluate[int](tb, fmt.Sprintf(`(document.querySelector(%q) || {}).videoWidth || 0`, sel))
		if err != nil {
			return false, "", err
		}
		for _, s := range list {
			if s.Kind == "view" && strings.HasPrefix(s.Stream, prefix) && s.Inbound["video"].FramesDecoded > 0 && w > 0 {
				found = s
				return true, "", nil
			}
		}
		b, _ := json.Marshal(list)
		return false, fmt.Sprintf("videoWidth %d, sessions %s", w, b), nil
	})
	return found
}

// waitAppPublishing waits until the page sends video on a stream whose name
// starts with prefix.
func (tb *tab) waitAppPublishing(prefix string) appSession {
	tb.h.t.Helper()
	var found appSession
	tb.waitFor("publishing video on "+prefix+"*", mediaTimeout, func() (bool, string, error) {
		list, err := tb.appSessions()
		if err != nil {
			return false, "", err
		}
		for _, s := range list {
			if s.Kind == "publish" && strings.HasPrefix(s.Stream, prefix) && s.Outbound["video"].Packets > 0 {
				found = s
				return true, "", nil
			}
		}
		b, _ := json.Marshal(list)
		return false, string(b), nil
	})
	return found
}

// apiJSON sends a JSON request to the server as the first admin and returns
// the status and body.
func (s *wishcast) apiJSON(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// apiCreateUser adds an account through the API.
func (s *wishcast) apiCreateUser(t *testing.T, name, display, password string) {
	t.Helper()
	code, body := s.apiJSON(t, http.MethodPost, "/api/v1/users", map[string]string{
		"name": name, "display_name": display, "password": password, "role": "user",
	})
	if code != http.StatusCreated {
		t.Fatalf("create user %s: %d %s", name, code, body)
	}
}

// apiNames GETs path and returns the "name" (or "id") of each element of
// the list under key.
func (s *wishcast) apiNames(t *testing.T, path, key string) []string {
	t.Helper()
	code, body := s.apiJSON(t, http.MethodGet, path, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	var out map[string][]map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	var names []string
	for _, e := range out[key] {
		for _, k := range []string{"name", "label"} {
			if v, ok := e[k].(string); ok && v != "" {
				names = append(names, v)
				break
			}
		}
	}
	return names
}

// uiColorScheme makes the tab prefer a dark or light colour scheme.
func (tb *tab) uiColorScheme(scheme string) {
	tb.h.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, uiTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	if err != nil {
		tb.h.fatalf("%s: emulate prefers-color-scheme %s: %v", tb.name, scheme, err)
	}
}
