package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// pebble is an in-process Pebble ACME server (Let's Encrypt's test CA)
// whose validation authority resolves every name to 127.0.0.1 and
// connects to the given ports for http-01 and tls-alpn-01.
type pebble struct {
	directory string         // the ACME directory URL
	caFile    string         // PEM of the directory's HTTPS certificate
	roots     *x509.CertPool // the CA's root, to verify issued certificates
}

func startPebble(t *testing.T, httpPort, tlsPort int) *pebble {
	t.Helper()
	// Pebble reads these itself: no random validation delay, no nonces
	// rejected on purpose, no reuse of an earlier authorization.
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	out := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble:\n%s", out)
		}
	})
	logger := log.New(out, "pebble ", log.Ltime)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, startDNS(t), store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	ts := httptest.NewUnstartedServer(front.Handler())
	ts.Config.ErrorLog = logger
	ts.StartTLS()
	t.Cleanup(ts.Close)

	caFile := filepath.Join(t.TempDir(), "acme-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(authority.GetRootCert(0).Cert)
	return &pebble{directory: ts.URL + wfe.DirectoryPath, caFile: caFile, roots: roots}
}

// startDNS serves DNS over TCP on loopback, answering 127.0.0.1 for every
// A question and nothing else, and returns its address.
func startDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			if qq.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{Listener: ln, Handler: mux}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ActivateAndServe()
	}()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return ln.Addr().String()
}

// recorder counts the paths a handler was asked for.
type recorder struct {
	mu    sync.Mutex
	paths []string
	next  http.Handler
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.paths = append(rec.paths, r.URL.Path)
	rec.mu.Unlock()
	rec.next.ServeHTTP(w, r)
}

func (rec *recorder) challenges() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, p := range rec.paths {
		if strings.HasPrefix(p, "/.well-known/acme-challenge/") {
			n++
		}
	}
	return n
}

// freePort returns a loopback TCP port that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// ACME mode gets a certificate from a real ACME server (Pebble), answering
// the TLS-ALPN-01 challenge on the main listener, or, when that port is
// unreachable for the CA, the HTTP-01 challenge on the redirect listener.
func TestACME(t *testing.T) {
	for _, tc := range []struct {
		name, host string
		tlsALPN    bool // the CA can reach the main listener
	}{
		{"tls-alpn-01", "alpn.wishcast.test", true},
		{"http-01", "http.wishcast.test", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mainLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			redirLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			tlsPort := mainLn.Addr().(*net.TCPAddr).Port
			if !tc.tlsALPN {
				tlsPort = freePort(t)
			}
			p := startPebble(t, redirLn.Addr().(*net.TCPAddr).Port, tlsPort)
			dataDir := t.TempDir()
			log, _ := testLog(t)
			m, err := New(Config{
				Mode: "acme", Hosts: []string{tc.host}, ACMEEmail: "ops@wishcast.test",
				ACMEDirectory: p.directory, ACMECAFile: p.caFile, RedirectListen: redirLn.Addr().String(),
			}, dataDir, log)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			cfg := m.TLSConfig()
			if !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1", "acme-tls/1"}) {
				t.Fatalf("NextProtos %v", cfg.NextProtos)
			}
			serveOn(t, mainLn, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) }))
			rec := &recorder{next: m.RedirectHandler(mainLn.Addr().String())}
			serveOn(t, redirLn, nil, rec)

			leaf, body, err := get(t, mainLn.Addr().String(), tc.host, &tls.Config{RootCAs: p.roots})
			if err != nil {
				t.Fatalf("HTTPS with the ACME certificate: %v", err)
			}
			if body != "hello" || !slices.Contains(leaf.DNSNames, tc.host) {
				t.Fatalf("body %q, certificate for %v", body, leaf.DNSNames)
			}
			if got := rec.challenges(); tc.tlsALPN && got != 0 || !tc.tlsALPN && got == 0 {
				t.Errorf("%d http-01 challenge requests on the redirect listener", got)
			}
			for _, name := range []string{tc.host, "acme_account+key"} {
				if _, err := os.Stat(filepath.Join(dataDir, "acme", name)); err != nil {
					t.Errorf("ACME cache: %v", err)
				}
			}
			// Other names get no certificate.
			if _, _, err := get(t, mainLn.Addr().String(), "other.wishcast.test", &tls.Config{RootCAs: p.roots}); err == nil {
				t.Error("a name outside TLS_HOSTS got a certificate")
			}
			// A restart uses the cached certificate: no CA needed.
			m2, err := New(Config{Mode: "acme", Hosts: []string{tc.host}, ACMEDirectory: "https://127.0.0.1:1/dir"}, dataDir, log)
			if err != nil {
				t.Fatal(err)
			}
			defer m2.Close()
			addr := serveTLS(t, m2.TLSConfig())
			if again, _, err := get(t, addr, tc.host, &tls.Config{RootCAs: p.roots}); err != nil || !again.Equal(leaf) {
				t.Fatalf("after restart: %v (same certificate: %v)", err, err == nil && again.Equal(leaf))
			}
		})
	}
}

// serveOn serves h on ln (over TLS when cfg is set) until the test ends.
func serveOn(t *testing.T, ln net.Listener, cfg *tls.Config, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second, ErrorLog: quiet(t)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if cfg != nil {
			_ = srv.ServeTLS(ln, "", "")
		} else {
			_ = srv.Serve(ln)
		}
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
}
