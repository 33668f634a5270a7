//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// bidi is a WebDriver BiDi session with one Firefox process: commands go
// out as JSON with an id, answers come back with it, and events (no id)
// go to whoever subscribed to their method.
type bidi struct {
	conn   *websocket.Conn
	cmd    *exec.Cmd
	stderr *syncBuffer // what Firefox printed after its BiDi line
	exited chan struct{}

	mu       sync.Mutex
	nextID   int
	pending  map[int]chan bidiReply
	handlers map[string][]func(json.RawMessage) // event method → handlers
	readErr  error
}

// bidiReply is an answer to one command.
type bidiReply struct {
	Result json.RawMessage
	Err    error
}

// firefoxPrefs are the preferences every test profile gets: a fake camera
// and microphone without a prompt, and autoplay.
var firefoxPrefs = map[string]any{
	"media.navigator.streams.fake":               true,
	"media.navigator.permission.disabled":        true,
	"media.autoplay.default":                     0,
	"datareporting.policy.dataSubmissionEnabled": false,
	"browser.shell.checkDefaultBrowser":          false,
}

// firefoxLoopbackPrefs are added for a server that announces only
// 127.0.0.1: ICE over loopback, with plain host addresses (Firefox's
// mDNS names are not resolved over loopback).
var firefoxLoopbackPrefs = map[string]any{
	"media.peerconnection.ice.loopback":                 true,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
}

// startFirefox starts exe headless with a fresh profile in dir that has
// prefs, reads the BiDi address it prints, and opens a session. Closing
// the returned client ends the browser.
func startFirefox(ctx context.Context, exe, dir string, prefs ...map[string]any) (*bidi, error) {
	var userJS strings.Builder
	for _, set := range prefs {
		for k, v := range set {
			b, _ := json.Marshal(v)
			fmt.Fprintf(&userJS, "user_pref(%q, %s);\n", k, b)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "user.js"), []byte(userJS.String()), 0o644); err != nil {
		return nil, fmt.Errorf("write user.js: %w", err)
	}
	cmd := exec.Command(exe, "--headless", "--no-remote", "--remote-debugging-port=0", "--profile", dir, "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	b := &bidi{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{}),
		pending: map[int]chan bidiReply{}, handlers: map[string][]func(json.RawMessage){}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "WebDriver BiDi listening on "); ok {
				select {
				case addr <- strings.TrimSpace(a):
				default:
				}
				continue
			}
			fmt.Fprintln(b.stderr, line)
		}
		_, _ = io.Copy(io.Discard, pipe)
		_ = cmd.Wait()
		close(b.exited)
	}()
	var ws string
	select {
	case ws = <-addr:
	case <-b.exited:
		return nil, fmt.Errorf("%s exited before it listened for WebDriver BiDi:\n%s", exe, b.stderr)
	case <-ctx.Done():
		b.kill()
		return nil, fmt.Errorf("%s did not say where it listens for WebDriver BiDi: %w\n%s", exe, ctx.Err(), b.stderr)
	}
	conn, _, err := websocket.Dial(ctx, ws+"/session", nil)
	if err != nil {
		b.kill()
		return nil, fmt.Errorf("connect to %s/session: %w", ws, err)
	}
	conn.SetReadLimit(64 << 20) // screenshots are large
	b.conn = conn
	go b.readLoop()
	if _, err := b.call(ctx, "session.new", map[string]any{
		"capabilities": map[string]any{"alwaysMatch": map[string]any{"acceptInsecureCerts": true, "unhandledPromptBehavior": "ignore"}},
	}); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// kill ends the browser process and waits for it.
func (b *bidi) kill() {
	_ = b.cmd.Process.Kill()
	<-b.exited
}

// close ends the browser: politely first, then by force.
func (b *bidi) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, _ = b.call(ctx, "browser.close", map[string]any{})
	select {
	case <-b.exited:
	case <-ctx.Done():
		b.kill()
	}
	_ = b.conn.CloseNow()
}

// readLoop hands each message to its command or event handlers until the
// connection ends, then fails every pending command.
func (b *bidi) readLoop() {
	for {
		_, data, err := b.conn.Read(context.Background())
		if err != nil {
			b.mu.Lock()
			b.readErr = fmt.Errorf("WebDriver BiDi connection: %w", err)
			for id, ch := range b.pending {
				ch <- bidiReply{Err: b.readErr}
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var msg struct {
			Type    string          `json:"type"`
			ID      *int            `json:"id"`
			Method  string          `json:"method"`
			Params  json.RawMessage `json:"params"`
			Result  json.RawMessage `json:"result"`
			Error   string          `json:"error"`
			Message string          `json:"message"`
		}
		if err := json.Unmarshal(data, &msg); err != nil {
			continue
		}
		b.mu.Lock()
		if msg.ID != nil {
			if ch := b.pending[*msg.ID]; ch != nil {
				delete(b.pending, *msg.ID)
				r := bidiReply{Result: msg.Result}
				if msg.Type == "error" {
					r.Err = fmt.Errorf("%s: %s", msg.Error, msg.Message)
				}
				ch <- r
			}
			b.mu.Unlock()
			continue
		}
		hs := b.handlers[msg.Method]
		b.mu.Unlock()
		for _, h := range hs {
			h(msg.Params)
		}
	}
}

// call sends a command and waits for its answer.
func (b *bidi) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	ch := make(chan bidiReply, 1)
	b.mu.Lock()
	if b.readErr != nil {
		b.mu.Unlock()
		return nil, b.readErr
	}
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()
	data, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if err := b.conn.Write(ctx, websocket.MessageText, data); err != nil {
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, fmt.Errorf("%s: %w", method, r.Err)
		}
		return r.Result, nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// on calls h with the params of every event of method (after subscribing
// to it with session.subscribe).
func (b *bidi) on(method string, h func(json.RawMessage)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handlers[method] = append(b.handlers[method], h)
}

// bidiPage is one browsing context (a tab) of the session.
type bidiPage struct {
	b       *bidi
	context string
}

// newPage opens a tab in a user context of its own (its own cookies), so
// that two tabs can be signed in as two people.
func (b *bidi) newPage(ctx context.Context) (*bidiPage, error) {
	res, err := b.call(ctx, "browser.createUserContext", map[string]any{})
	if err != nil {
		return nil, err
	}
	var uc struct {
		UserContext string `json:"userContext"`
	}
	if err := json.Unmarshal(res, &uc); err != nil {
		return nil, err
	}
	res, err = b.call(ctx, "browsingContext.create", map[string]any{"type": "tab", "userContext": uc.UserContext})
	if err != nil {
		return nil, err
	}
	var c struct {
		Context string `json:"context"`
	}
	if err := json.Unmarshal(res, &c); err != nil {
		return nil, err
	}
	return &bidiPage{b: b, context: c.Context}, nil
}

// navigate loads url and waits for the page's load event.
func (p *bidiPage) navigate(ctx context.Context, url string) error {
	_, err := p.b.call(ctx, "browsingContext.navigate", map[string]any{"context": p.context, "url": url, "wait": "complete"})
	return err
}

// reload reloads the page and waits for its load event.
func (p *bidiPage) reload(ctx context.Context) error {
	_, err := p.b.call(ctx, "browsingContext.reload", map[string]any{"context": p.context, "wait": "complete"})
	return err
}

// evaluateJSON evaluates the expression in the page, awaits it if it is
// a promise, and returns its value as JSON (null for undefined).
func (p *bidiPage) evaluateJSON(ctx context.Context, js string) (json.RawMessage, error) {
	wrapped := "(async () => { const v = await (" + js + "\n); return v === undefined ? 'null' : JSON.stringify(v); })()"
	v, err := p.evaluateRaw(ctx, wrapped)
	if err != nil {
		return nil, err
	}
	var s struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	if err := json.Unmarshal(v, &s); err != nil || s.Type != "string" {
		return nil, fmt.Errorf("evaluate: unexpected result %s", v)
	}
	return json.RawMessage(s.Value), nil
}

// evaluateRaw evaluates the expression, awaiting a promise, and returns
// the BiDi remote value; an exception in the page is an error.
func (p *bidiPage) evaluateRaw(ctx context.Context, js string) (json.RawMessage, error) {
	res, err := p.b.call(ctx, "script.evaluate", map[string]any{
		"expression":      js,
		"target":          map[string]any{"context": p.context},
		"awaitPromise":    true,
		"resultOwnership": "none",
		"userActivation":  true,
	})
	if err != nil {
		return nil, err
	}
	var r struct {
		Type             string          `json:"type"`
		Result           json.RawMessage `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return nil, err
	}
	if r.Type == "exception" {
		return nil, errors.New("exception: " + r.ExceptionDetails.Text)
	}
	return r.Result, nil
}

// click moves the mouse to the middle of the element sel and clicks it,
// as a user would.
func (p *bidiPage) click(ctx context.Context, sel string) error {
	v, err := p.evaluateRaw(ctx, fmt.Sprintf(`document.querySelector(%q)`, sel))
	if err != nil {
		return err
	}
	var node struct {
		Type     string `json:"type"`
		SharedID string `json:"sharedId"`
	}
	if err := json.Unmarshal(v, &node); err != nil || node.Type != "node" {
		return fmt.Errorf("no element %s", sel)
	}
	if _, err := p.evaluateRaw(ctx, fmt.Sprintf(`document.querySelector(%q).scrollIntoView({block: 'center'})`, sel)); err != nil {
		return err
	}
	_, err = p.b.call(ctx, "input.performActions", map[string]any{
		"context": p.context,
		"actions": []any{map[string]any{
			"type": "pointer", "id": "mouse", "parameters": map[string]any{"pointerType": "mouse"},
			"actions": []any{
				map[string]any{"type": "pointerMove", "x": 0, "y": 0, "origin": map[string]any{"type": "element", "element": map[string]any{"sharedId": node.SharedID}}},
				map[string]any{"type": "pointerDown", "button": 0},
				map[string]any{"type": "pointerUp", "button": 0},
			},
		}},
	})
	return err
}

// typeText types text with the keyboard into the focused element.
func (p *bidiPage) typeText(ctx context.Context, text string) error {
	var keys []any
	for _, r := range text {
		keys = append(keys, map[string]any{"type": "keyDown", "value": string(r)}, map[string]any{"type": "keyUp", "value": string(r)})
	}
	_, err := p.b.call(ctx, "input.performActions", map[string]any{
		"context": p.context,
		"actions": []any{map[string]any{"type": "key", "id": "keyboard", "actions": keys}},
	})
	return err
}

// screenshot captures the page's viewport as a PNG.
func (p *bidiPage) screenshot(ctx context.Context) ([]byte, error) {
	res, err := p.b.call(ctx, "browsingContext.captureScreenshot", map[string]any{"context": p.context})
	if err != nil {
		return nil, err
	}
	var r struct {
		Data []byte `json:"data"` // base64 in JSON
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return nil, err
	}
	return r.Data, nil
}

// onConsole calls f with each console message and uncaught error of the
// page: its level ("debug", "info", "warn", "error"), its text, and
// whether it is an exception.
func (p *bidiPage) onConsole(ctx context.Context, f func(level, text string, exception bool)) error {
	p.b.on("log.entryAdded", func(params json.RawMessage) {
		var e struct {
			Type   string `json:"type"`
			Level  string `json:"level"`
			Text   string `json:"text"`
			Source struct {
				Context string `json:"context"`
			} `json:"source"`
		}
		if json.Unmarshal(params, &e) == nil && e.Source.Context == p.context {
			f(e.Level, e.Text, e.Type == "javascript")
		}
	})
	_, err := p.b.call(ctx, "session.subscribe", map[string]any{"events": []string{"log.entryAdded"}, "contexts": []string{p.context}})
	return err
}
