package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv makes the test binary run the server instead of the tests.
const crashChildEnv = "WISHCAST_TEST_CRASH_CHILD"

// TestMain lets a test start this binary as a wishcast server process.
func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(run([]string{"serve"}, environ(), nil, os.Stdout, os.Stderr))
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// startChild runs the server as a child process on dataDir and waits for
// it to answer; env adds or overrides settings (NAME=value).
func startChild(t *testing.T, dataDir, addr string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), crashChildEnv+"=1",
		"WISHCAST_LISTEN="+addr, "WISHCAST_METRICS_LISTEN=127.0.0.1:0", "WISHCAST_DATA_DIR="+dataDir,
		"WISHCAST_ICE_UDP_PORT=0", "WISHCAST_ICE_TCP_PORT=-1", "WISHCAST_DEMO_CAMERA=false",
		"WISHCAST_ADMIN_PASSWORD="+testAdminPassword, "WISHCAST_PASSWORD_TIME=1", "WISHCAST_PASSWORD_MEMORY_KIB=8192",
		"WISHCAST_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("server output:\n%s", out.String())
		}
	})
	eventually(t, 15*time.Second, "the server to answer", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return cmd
}

// A server killed (SIGKILL) while it creates accounts keeps, after a
// restart, every account it confirmed, and sign-in still works: on SQLite
// and on PostgreSQL.
func TestKillAndRestartKeepsAccounts(t *testing.T) {
	forEachStore(t, killAndRestart)
}

func killAndRestart(t *testing.T, st testStore) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	dbEnv := "WISHCAST_DATABASE_URL=" + st.url
	child := startChild(t, st.dir, addr, dbEnv)
	tok := signInAs(t, base, "admin", testAdminPassword)

	var confirmed []string
	stop := time.After(700 * time.Millisecond)
loop:
	for i := 0; ; i++ {
		select {
		case <-stop:
			break loop
		default:
		}
		name := fmt.Sprintf("u%03d", i)
		body := fmt.Sprintf(`{"name":%q,"password":"password-%s"}`, name, name)
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/users", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: %d", name, resp.StatusCode)
		}
		confirmed = append(confirmed, name)
	}
	// Kill it in the middle of the next writes.
	go func() {
		for i := 0; i < 50; i++ {
			body := fmt.Sprintf(`{"name":"late%02d","password":"password-late"}`, i)
			req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/users", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if len(confirmed) == 0 {
		t.Fatal("no account was confirmed before the kill")
	}

	startChild(t, st.dir, addr, dbEnv)
	tok = signInAs(t, base, "admin", testAdminPassword)
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/users", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Users []struct {
			Name string `json:"name"`
		} `json:"users"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("user list: %v", err)
	}
	have := map[string]bool{}
	for _, u := range list.Users {
		have[u.Name] = true
	}
	for _, n := range confirmed {
		if !have[n] {
			t.Fatalf("confirmed account %s lost after the kill (%d confirmed, %d listed)", n, len(confirmed), len(list.Users))
		}
	}
	signInAs(t, base, confirmed[len(confirmed)-1], "password-"+confirmed[len(confirmed)-1])
	t.Logf("%d accounts confirmed before SIGKILL, all present after restart", len(confirmed))
}

// signInAs signs in over HTTP and returns the token.
func signInAs(t *testing.T, base, name, password string) string {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"password":%q}`, name, password)
	resp, err := http.Post(base+"/api/v1/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in as %s: %d %v", name, resp.StatusCode, err)
	}
	return out.Token
}
