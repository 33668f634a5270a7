// Package pgtest starts a throwaway PostgreSQL server for tests, from the
// binaries of Debian's postgresql package (/usr/lib/postgresql/*/bin),
// and hands each test a database of its own on it.
//
// One Server serves a whole test package: declare it next to TestMain,
// which stops it after the tests.
//
//	var pg = pgtest.New(pgtest.Options{})
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pg.Stop()
//		os.Exit(code)
//	}
//
// The server starts on the first call of Database (about two seconds), in
// a temporary directory on a free loopback port, so that packages that
// never ask for PostgreSQL pay nothing. PostgreSQL refuses to run as
// root: when the tests run as root, initdb and postgres run as the
// postgres user. The server is a child of the test binary that the kernel
// stops (PostgreSQL's immediate shutdown) if the binary dies without
// calling Stop, a panicking test say, and a later start removes the
// directory such a binary left behind. When the binaries are missing,
// Database skips the test, or fails it when the CI environment variable
// is set, since CI installs them.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options shape a Server.
type Options struct {
	// Durable keeps PostgreSQL's own durability settings (fsync,
	// synchronous commit), for benchmarks that should cost what
	// production does. By default the server skips fsync: a test's data
	// need not survive a power cut, and the tests run several times
	// faster.
	Durable bool
	// Statements loads pg_stat_statements (Debian's package has it), so
	// that a measurement can tell which queries the load is made of: each
	// database that wants its view runs CREATE EXTENSION
	// pg_stat_statements. It costs a little shared memory and time per
	// query, so only measurements ask for it.
	Statements bool
	// Required fails a test, instead of skipping it, when PostgreSQL
	// cannot start: CI installs it, so there its absence is an error.
	// Test packages set it from the CI environment variable.
	Required bool
}

// Server is a PostgreSQL server for one test package.
type Server struct {
	opts Options
	glob string // where to look for the binaries
	once sync.Once

	// Set by start.
	err    error  // why the server is not there
	dir    string // holds the data directory, the socket and the log
	port   int
	bin    string        // directory of initdb and postgres
	cred   *credential   // the postgres user's, when the tests run as root
	proc   *exec.Cmd     // the postmaster
	exited chan struct{} // closed when proc has exited

	// mu guards all following fields.
	mu      sync.Mutex
	n       int       // databases made so far
	admin   *pgx.Conn // to the postgres database, for CREATE DATABASE
	stopped bool
}

// User is the superuser of the test servers; it signs in without a
// password (trust authentication on loopback).
const User = "wishcast"

// New returns a server that starts on first use.
func New(opts Options) *Server { return &Server{opts: opts, glob: "/usr/lib/postgresql/*/bin"} }

// Database creates a fresh, empty database for the test (a copy of
// template0) and returns its URL. The test is skipped when PostgreSQL is
// not installed, or failed if the server's options say it is required.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	s.once.Do(s.start)
	if s.err != nil {
		if s.opts.Required {
			t.Fatalf("PostgreSQL is needed in CI and did not start: %v", s.err)
		}
		t.Skipf("PostgreSQL not available (%v); install Debian's postgresql package to run these tests", s.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil || s.admin.IsClosed() {
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err != nil {
			t.Fatalf("connect to the test PostgreSQL: %v", err)
		}
		s.admin = conn
	}
	s.n++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.n)
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return s.URL(name)
}

// URL is the address of a database on the server.
func (s *Server) URL(database string) string {
	u := url.URL{Scheme: "postgres", User: url.User(User), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// Port is the server's TCP port on 127.0.0.1 (0 before it started).
func (s *Server) Port() int { return s.port }

// start initialises a data directory and starts the server in it.
func (s *Server) start() {
	s.bin, s.err = findBin(s.glob)
	if s.err != nil {
		return
	}
	sweep()
	if s.dir, s.err = os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid())); s.err != nil {
		return
	}
	if os.Geteuid() == 0 {
		if s.cred, s.err = credentialOf("postgres"); s.err != nil {
			return
		}
		if s.err = os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); s.err != nil {
			return
		}
	}
	data := filepath.Join(s.dir, "data")
	initdb := s.command("initdb", "-D", data, "-U", User, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		s.err = fmt.Errorf("initdb: %v: %s", err, out)
		return
	}
	for range 3 { // a free port can be taken between finding and using it
		if s.err = s.startPostmaster(data); s.err == nil {
			return
		}
	}
}

// startPostmaster runs postgres on a free port as a child process that
// the kernel stops (SIGQUIT, PostgreSQL's immediate shutdown) if the test
// binary dies without calling Stop, and waits until it takes connections.
func (s *Server) startPostmaster(data string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	args := []string{"-D", data, "-p", strconv.Itoa(port), "-k", s.dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=400"}
	if !s.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	if s.opts.Statements {
		args = append(args, "-c", "shared_preload_libraries=pg_stat_statements")
	}
	logPath := filepath.Join(s.dir, "log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := s.command("postgres", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	stopWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.proc, s.exited, s.port = cmd, exited, port
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres exited: %s", out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("postgres did not take connections within a minute: %v", err)
		}
	}
}

// command is one of PostgreSQL's programs, run as the postgres user when
// the tests run as root.
func (s *Server) command(program string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, program), args...)
	cmd.Dir = s.dir
	runAs(cmd, s.cred)
	return cmd
}

// Stop stops the server (a fast shutdown) and removes its directory. It
// is safe to call when the server never started, and more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.dir == "" {
		s.stopped = true
		return
	}
	s.stopped = true
	if s.admin != nil {
		_ = s.admin.Close(context.Background())
	}
	s.kill()
	_ = os.RemoveAll(s.dir)
}

// kill stops the postmaster, fast (SIGINT) or, if it lingers, at once.
func (s *Server) kill() {
	if s.proc == nil {
		return
	}
	_ = s.proc.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.proc.Process.Kill()
		<-s.exited
	}
}

// dirPrefix starts the name of every server's directory, followed by the
// process id of the test binary that made it.
const dirPrefix = "wishcast-pg-"

// sweep removes the directories that test binaries no longer running
// left behind (a test that panicked never reaches Stop; its postmaster
// was stopped by the kernel, its files stay).
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*-*"))
	for _, dir := range dirs {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), dirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if gone(pid) {
			_ = os.RemoveAll(dir)
		}
	}
}

// findBin returns the bin directory of the newest PostgreSQL installed
// where glob says (/usr/lib/postgresql/N/bin).
func findBin(glob string) (string, error) {
	dirs, _ := filepath.Glob(glob)
	slices.SortFunc(dirs, func(a, b string) int { return version(a) - version(b) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", fmt.Errorf("no initdb in %s", glob)
}

// version is the major version in a /usr/lib/postgresql/N/bin path.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// credentialOf returns the user and group ids of a user.
func credentialOf(name string) (*credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q", name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q", name, u.Gid)
	}
	return &credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort returns a TCP port free on 127.0.0.1 at the moment.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
