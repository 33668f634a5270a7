//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// shutdownGrace is how long wishcast may take to exit after SIGTERM;
// WISHCAST_E2E_SHUTDOWN_GRACE (a Go duration) overrides it, to measure a
// slow shutdown. WISHCAST_E2E_SERVER_LOG=1 logs the server's output even
// when the test passes; WISHCAST_E2E_SERVER_ENV adds server settings.
var shutdownGrace = 5 * time.Second

func init() {
	if v := os.Getenv("WISHCAST_E2E_SHUTDOWN_GRACE"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			shutdownGrace = d
		}
	}
}

// wishcast is one running server process.
type wishcast struct {
	URL    string // http://127.0.0.1:PORT
	cmd    *exec.Cmd
	output *syncBuffer // stdout and stderr
	exited chan struct{}
	err    error  // of cmd.Wait, valid after exited closes
	token  string // a session token of the first admin
	// client talks to it from the test (nil: http.DefaultClient; a
	// certificate-pinning one for a self-signed server).
	client *http.Client
}

// httpClient is the client for requests from the test.
func (s *wishcast) httpClient() *http.Client {
	if s.client != nil {
		return s.client
	}
	return http.DefaultClient
}

// adminPassword is the password of the server's first admin.
const adminPassword = "e2e admin password"

// startWishcast starts the server on a free loopback port with ICE kept on
// loopback, lets pages of allowedOrigin call it, and waits for /healthz.
// At the end of the test it sends SIGTERM and checks that the process exits
// 0 within shutdownGrace; the server's output goes to the test log when the
// test failed.
func startWishcast(t *testing.T, allowedOrigin string, settings ...string) *wishcast {
	t.Helper()
	addr := freeTCPAddr(t)
	s := launchWishcast(t, "http://"+addr, append([]string{
		"WISHCAST_LISTEN=" + addr,
		"WISHCAST_ICE_LOOPBACK=true",
		"WISHCAST_ICE_HOST_IPS=127.0.0.1",
		"WISHCAST_ALLOWED_ORIGINS=" + allowedOrigin,
		"WISHCAST_DEMO_CAMERA_ADDR=127.0.0.1:0",
	}, settings...)...)
	s.waitHealthy(t)
	return s
}

// waitHealthy waits for /healthz and, if the admin's password is the
// test's, signs in as the admin.
func (s *wishcast) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	client := &http.Client{Timeout: time.Second}
	var lastErr error
	for {
		select {
		case <-s.exited:
			t.Fatalf("wishcast exited before it was healthy (%v); its output:\n%s", s.err, s.output)
		default:
		}
		resp, err := client.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if !strings.Contains(s.output.String(), "generated password") {
					s.token = signIn(t, s.URL)
				}
				return
			}
			err = fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("wishcast not healthy at %s after 15s: %v; its output:\n%s", s.URL, lastErr, s.output)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// launchWishcast starts the server binary with the test defaults (free
// ICE and metrics ports, debug logs, the test admin password, a fresh data
// directory) plus settings, without the caller's own WISHCAST_ variables;
// url is where it will answer. It stops the server at the end of the test.
func launchWishcast(t *testing.T, url string, settings ...string) *wishcast {
	t.Helper()
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WISHCAST_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"WISHCAST_METRICS_LISTEN=127.0.0.1:0",
		"WISHCAST_ICE_UDP_PORT=0",
		"WISHCAST_ICE_TCP_PORT=0",
		"WISHCAST_LOG_LEVEL=debug",
		"WISHCAST_ADMIN_PASSWORD="+adminPassword,
		"WISHCAST_DATA_DIR="+t.TempDir(),
	)
	env = append(env, settings...)
	// WISHCAST_E2E_SERVER_ENV adds or overrides server settings for a
	// debugging run: "WISHCAST_ICE_TCP_PORT=-1 WISHCAST_LOG_LEVEL=info".
	env = append(env, strings.Fields(os.Getenv("WISHCAST_E2E_SERVER_ENV"))...)
	s := &wishcast{URL: url, output: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(serverBin)
	s.cmd.Env = env
	s.cmd.Stdout = s.output
	s.cmd.Stderr = s.output
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start wishcast: %v", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends SIGTERM and checks for a clean exit: status 0 within
// shutdownGrace. A server that died on its own before is an error too.
func (s *wishcast) stop(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
		t.Errorf("wishcast exited during the test (%v)", s.err)
	default:
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM wishcast: %v", err)
		}
		start := time.Now()
		select {
		case <-s.exited:
			t.Logf("wishcast exited %.0f ms after SIGTERM (%v)", float64(time.Since(start).Microseconds())/1000, exitText(s.err))
			if s.err != nil {
				t.Errorf("wishcast did not exit 0 after SIGTERM: %v", exitText(s.err))
			}
		case <-time.After(shutdownGrace):
			// SIGQUIT makes the Go runtime print every goroutine's stack,
			// which shows where the shutdown is stuck.
			t.Errorf("wishcast still running %s after SIGTERM (graceful shutdown hangs); sending SIGQUIT for a goroutine dump (in its output below)", shutdownGrace)
			_ = s.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-s.exited:
			case <-time.After(3 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
	}
	if t.Failed() || os.Getenv("WISHCAST_E2E_SERVER_LOG") != "" {
		t.Logf("wishcast output:\n%s", s.output)
	}
}

func exitText(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.String()
	default:
		return err.Error()
	}
}

// tail returns the last n lines of the server's output.
func (s *wishcast) tail(n int) string {
	lines := strings.Split(strings.TrimRight(s.output.String(), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d earlier lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// do sends one request to the server (not from the browser) and returns
// the status code.
func (s *wishcast) do(t *testing.T, method, path string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// freeTCPAddr returns a loopback address with a port that was free a moment
// ago.
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// signIn signs in as the first admin and returns the session token.
func signIn(t *testing.T, base string) string {
	t.Helper()
	body := strings.NewReader(fmt.Sprintf(`{"name":"admin","password":%q}`, adminPassword))
	resp, err := http.Post(base+"/api/v1/login", "application/json", body)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		t.Fatalf("sign in: %s (%v)", resp.Status, err)
	}
	return out.Token
}
