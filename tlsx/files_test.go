package tlsx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Files mode serves the pair on disk and picks up a new pair within the
// reload interval; a broken pair keeps the old one serving.
func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, crt, key, "pair A")
	log, logs := testLog(t)
	m, err := newManager(Config{Mode: "files", CertFile: crt, KeyFile: key}, t.TempDir(), log, options{
		localIPs:    fixedIPs("127.0.0.1"),
		now:         time.Now,
		reloadEvery: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	addr := serveTLS(t, m.TLSConfig())

	cn := func() (string, string) {
		certHash, _ := m.Fingerprints()
		leaf, _, err := get(t, addr, "localhost", pinned(certHash))
		if err != nil {
			// Between the swap of the pair and Fingerprints the pin
			// can miss; the caller polls.
			return "", err.Error()
		}
		return leaf.Subject.CommonName, ""
	}
	if got, detail := cn(); got != "pair A" {
		t.Fatalf("serves %q (%s), want pair A", got, detail)
	}

	writePair(t, crt, key, "pair B")
	waitFor(t, "pair B to be served", 5*time.Second, func() (bool, string) {
		got, detail := cn()
		return got == "pair B", got + " " + detail
	})

	// A certificate without its key (a renewal half done) is refused.
	if err := os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the warning about the broken pair", 5*time.Second, func() (bool, string) {
		_, _ = cn()
		return strings.Contains(logs.String(), "do not load; serving the old pair"), ""
	})
	if got, detail := cn(); got != "pair B" {
		t.Fatalf("after a broken write serves %q (%s), want pair B still", got, detail)
	}

	writePair(t, crt, key, "pair C")
	waitFor(t, "pair C to be served after the fix", 5*time.Second, func() (bool, string) {
		got, detail := cn()
		return got == "pair C", got + " " + detail
	})
}

// New fails clearly when the files are missing or do not match.
func TestFilesStartErrors(t *testing.T) {
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	log, _ := testLog(t)
	if _, err := New(Config{Mode: "files", CertFile: crt, KeyFile: key}, dir, log); err == nil || !strings.Contains(err.Error(), "a.crt") {
		t.Errorf("missing files: %v", err)
	}
	writePair(t, crt, key, "A")
	writePair(t, filepath.Join(dir, "b.crt"), filepath.Join(dir, "b.key"), "B")
	_, err := New(Config{Mode: "files", CertFile: crt, KeyFile: filepath.Join(dir, "b.key")}, dir, log)
	if err == nil || !strings.Contains(err.Error(), "TLS_CERT_FILE") {
		t.Errorf("mismatched pair: %v", err)
	}
	m, err := New(Config{Mode: "files", CertFile: crt, KeyFile: key}, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if c, s := m.Fingerprints(); c == "" || s == "" {
		t.Errorf("files mode fingerprints %q %q", c, s)
	}
}
