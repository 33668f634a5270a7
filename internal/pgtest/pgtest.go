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
// root: when the tests run as root, initdb and pg_ctl run as the postgres
// user (runuser). When the binaries are missing, Database skips the test,
// or fails it when the CI environment variable is set, since CI installs
// them.
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
}

// Server is a PostgreSQL server for one test package.
type Server struct {
	opts Options
	glob string // where to look for the binaries
	once sync.Once

	// Set by start.
	err   error  // why the server is not there
	dir   string // data directory, also the socket directory
	port  int
	bin   string // directory of initdb, pg_ctl, postgres
	runAs string // "postgres" when the tests run as root

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
// not installed, or failed if CI is set in the environment.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	s.once.Do(s.start)
	if s.err != nil {
		if os.Getenv("CI") != "" {
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
	if os.Geteuid() == 0 {
		s.runAs = "postgres"
	}
	if s.dir, s.err = os.MkdirTemp("", "wishcast-pg-"); s.err != nil {
		return
	}
	if s.runAs != "" {
		if s.err = chownTo(s.dir, s.runAs); s.err != nil {
			return
		}
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", User, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		s.err = fmt.Errorf("initdb: %v: %s", err, out)
		return
	}
	for range 3 { // a free port can be taken between finding and using it
		if s.port, s.err = freePort(); s.err != nil {
			return
		}
		opts := []string{"-p", strconv.Itoa(s.port), "-k", s.dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=400"}
		if !s.opts.Durable {
			opts = append(opts, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
		}
		out, err := s.run("pg_ctl", "-D", data, "-l", filepath.Join(s.dir, "log"), "-o", strings.Join(opts, " "), "-w", "-t", "60", "start")
		if err == nil {
			return
		}
		s.err = fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
}

// Stop stops the server and removes its directory. It is safe to call
// when the server never started, and more than once.
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
	_, _ = s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(s.dir)
}

// run runs one of the PostgreSQL programs, as the postgres user if need
// be, and returns its output.
func (s *Server) run(program string, args ...string) (string, error) {
	path := filepath.Join(s.bin, program)
	cmd := exec.Command(path, args...)
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	}
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
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

// chownTo gives dir to a user.
func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
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
