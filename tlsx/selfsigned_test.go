package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newSelfSignedManager(t *testing.T, dataDir string, hosts []string, now time.Time) *Manager {
	t.Helper()
	log, _ := testLog(t)
	m, err := newManager(Config{Mode: "self-signed", Hosts: hosts}, dataDir, log, options{
		localIPs: fixedIPs("127.0.0.1", "::1", "192.0.2.7"),
		now:      func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// A generated certificate serves HTTPS that a client verifies by the
// printed fingerprint, and by the generated file as its only root.
func TestSelfSignedServesPinnedHTTPS(t *testing.T) {
	dir := t.TempDir()
	m := newSelfSignedManager(t, dir, []string{"cam.home.arpa", "198.51.100.4"}, time.Now())
	certHash, spki := m.Fingerprints()
	if len(certHash) != 32*3-1 || spki == "" {
		t.Fatalf("fingerprints %q %q", certHash, spki)
	}
	cfg := m.TLSConfig()
	if cfg == nil || !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1"}) {
		t.Fatalf("TLSConfig %+v", cfg)
	}
	addr := serveTLS(t, cfg)

	leaf, body, err := get(t, addr, "", pinned(certHash))
	if err != nil {
		t.Fatalf("pinned client: %v", err)
	}
	if body != "hello HTTP/2.0" {
		t.Errorf("body %q, want HTTP/2 through the h2 ALPN", body)
	}
	if got := SPKIHash(leaf); got != spki {
		t.Errorf("served SPKI hash %s, Fingerprints says %s", got, spki)
	}
	if _, _, err := get(t, addr, "", pinned(strings.Repeat("00:", 31)+"00")); err == nil {
		t.Error("a client pinning another fingerprint connected")
	}

	// The file on disk is the served certificate, usable as a trust anchor
	// for every name and address it was made for.
	crtPath := filepath.Join(dir, "tls", SelfSignedCertFile)
	onDisk := readCert(t, crtPath)
	if !onDisk.Equal(leaf) {
		t.Fatal("served certificate differs from", crtPath)
	}
	pool := x509.NewCertPool()
	pool.AddCert(onDisk)
	for _, name := range []string{"localhost", "cam.home.arpa", "127.0.0.1", "198.51.100.4", "192.0.2.7", "::1"} {
		if _, _, err := get(t, addr, "", &tls.Config{RootCAs: pool, ServerName: name}); err != nil {
			t.Errorf("verify as %s: %v", name, err)
		}
	}
	if _, _, err := get(t, addr, "", &tls.Config{RootCAs: pool, ServerName: "other.example"}); err == nil {
		t.Error("verified for a name the certificate does not cover")
	}
	if d := onDisk.NotAfter.Sub(onDisk.NotBefore); d < 360*24*time.Hour || d > 400*24*time.Hour {
		t.Errorf("validity %s, want about a year", d)
	}
	fi, err := os.Stat(filepath.Join(dir, "tls", SelfSignedKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
}

// A restart keeps the certificate; new names, or an expiry near, make a new
// certificate with the same key, so the SPKI pin holds.
func TestSelfSignedKeptOrRegenerated(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first := newSelfSignedManager(t, dir, []string{"a.home.arpa"}, now)
	c1, s1 := first.Fingerprints()

	same := newSelfSignedManager(t, dir, []string{"a.home.arpa"}, now.Add(24*time.Hour))
	if c, s := same.Fingerprints(); c != c1 || s != s1 {
		t.Fatalf("restart with the same names regenerated: %s %s, was %s %s", c, s, c1, s1)
	}

	renamed := newSelfSignedManager(t, dir, []string{"a.home.arpa", "b.home.arpa"}, now)
	c2, s2 := renamed.Fingerprints()
	if c2 == c1 {
		t.Fatal("a new host name did not regenerate the certificate")
	}
	if s2 != s1 {
		t.Errorf("regeneration changed the key: SPKI %s, was %s", s2, s1)
	}
	if leaf := readCert(t, filepath.Join(dir, "tls", SelfSignedCertFile)); !slices.Contains(leaf.DNSNames, "b.home.arpa") {
		t.Errorf("regenerated certificate names %v", leaf.DNSNames)
	}

	later := newSelfSignedManager(t, dir, []string{"a.home.arpa", "b.home.arpa"}, now.Add(340*24*time.Hour))
	c3, s3 := later.Fingerprints()
	if c3 == c2 || s3 != s1 {
		t.Fatalf("near expiry: cert %s (was %s), SPKI %s (was %s)", c3, c2, s3, s1)
	}
	if leaf := readCert(t, filepath.Join(dir, "tls", SelfSignedCertFile)); leaf.NotAfter.Before(now.Add(700 * 24 * time.Hour)) {
		t.Errorf("regenerated certificate ends %s", leaf.NotAfter)
	}
}

// A corrupt certificate file is replaced at start.
func TestSelfSignedCorruptFileReplaced(t *testing.T) {
	dir := t.TempDir()
	m := newSelfSignedManager(t, dir, nil, time.Now())
	_, spki := m.Fingerprints()
	if err := os.WriteFile(filepath.Join(dir, "tls", SelfSignedCertFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	again := newSelfSignedManager(t, dir, nil, time.Now())
	if c, s := again.Fingerprints(); c == "" || s != spki {
		t.Fatalf("after corruption: %q %q, want a new certificate for the kept key %s", c, s, spki)
	}
}

// A server running into the last day of its certificate renews it at the
// next handshake.
func TestSelfSignedRenewsWhileRunning(t *testing.T) {
	dir := t.TempDir()
	log, _ := testLog(t)
	var clock atomicTime
	clock.set(time.Now())
	m, err := newManager(Config{Mode: "self-signed"}, dir, log, options{localIPs: fixedIPs("127.0.0.1"), now: clock.get})
	if err != nil {
		t.Fatal(err)
	}
	c1, s1 := m.Fingerprints()
	clock.set(time.Now().Add(365*24*time.Hour - time.Hour))
	cert, err := m.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	c2, s2 := m.Fingerprints()
	if c2 == c1 || s2 != s1 || !cert.Leaf.NotAfter.After(clock.get().Add(300*24*time.Hour)) {
		t.Fatalf("not renewed: %s -> %s, SPKI %s -> %s, ends %s", c1, c2, s1, s2, cert.Leaf.NotAfter)
	}
}
