package tlsx

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

// certSource is a certificate that the manager serves and can show.
type certSource interface {
	getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	current() *tls.Certificate
}

// Manager holds the TLS state of one server: the certificate source of the
// mode, the tls.Config that serves it and, in acme mode, the ACME client.
type Manager struct {
	mode     string
	hosts    []string
	localIPs []netip.Addr
	log      *slog.Logger

	source   certSource        // files and self-signed modes
	acme     *autocert.Manager // acme mode
	acmeHTTP *http.Client      // acme mode: the client of the ACME directory
	config   *tls.Config       // nil in mode none
}

// options are the parts of New that tests replace.
type options struct {
	localIPs    func() ([]netip.Addr, error)
	now         func() time.Time
	reloadEvery time.Duration // files mode: at most one stat per interval
}

// New checks cfg and prepares the mode's certificate: loads the files,
// loads or generates the self-signed pair in dataDir/tls, or sets up ACME
// with its cache in dataDir/acme. In mode none it only validates.
func New(cfg Config, dataDir string, log *slog.Logger) (*Manager, error) {
	return newManager(cfg, dataDir, log, options{localIPs: LocalIPs, now: time.Now, reloadEvery: time.Second})
}

func newManager(cfg Config, dataDir string, log *slog.Logger, opts options) (*Manager, error) {
	mode, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	for _, name := range cfg.ignored(mode) {
		log.Warn("setting ignored in this TLS mode", "setting", name, "mode", mode)
	}
	m := &Manager{mode: mode, hosts: cfg.Hosts, log: log}
	if mode != ModeACME && mode != ModeNone {
		if m.localIPs, err = opts.localIPs(); err != nil {
			return nil, err
		}
	}
	switch mode {
	case ModeNone:
		return m, nil
	case ModeFiles:
		if m.source, err = newFilePair(cfg.CertFile, cfg.KeyFile, opts.reloadEvery, opts.now, log); err != nil {
			return nil, err
		}
	case ModeSelfSigned:
		if m.source, err = newSelfSigned(filepath.Join(dataDir, "tls"), cfg.Hosts, m.localIPs, opts.now, log); err != nil {
			return nil, err
		}
	case ModeACME:
		if err := m.setupACME(cfg, filepath.Join(dataDir, "acme")); err != nil {
			return nil, err
		}
		return m, nil
	}
	m.config = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: m.source.getCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	return m, nil
}

// Mode is the TLS mode in use: none, files, self-signed or acme.
func (m *Manager) Mode() string { return m.mode }

// TLSConfig is the configuration of the main listener, nil in mode none.
// Its NextProtos offer h2 and http/1.1, and acme-tls/1 in acme mode (the
// TLS-ALPN-01 challenge is answered on the main listener). Each call
// returns a copy.
func (m *Manager) TLSConfig() *tls.Config {
	if m.config == nil {
		return nil
	}
	return m.config.Clone()
}

// Fingerprints are the SHA-256 of the served certificate (hex pairs
// separated by colons, as browsers show it) and the base64 SHA-256 of its
// public key (SubjectPublicKeyInfo), which Chromium's
// --ignore-certificate-errors-spki-list takes and which survives the
// regeneration of a self-signed certificate. Both are empty in modes none
// and acme.
func (m *Manager) Fingerprints() (certSHA256 string, spkiSHA256Base64 string) {
	if m.source == nil {
		return "", ""
	}
	return fingerprints(m.source.current())
}

// fingerprints computes what Fingerprints returns for cert.
func fingerprints(cert *tls.Certificate) (string, string) {
	if cert == nil || cert.Leaf == nil {
		return "", ""
	}
	sum := sha256.Sum256(cert.Leaf.Raw)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hexes, ":"), SPKIHash(cert.Leaf)
}

// URLs are the addresses people can open for a listener at addr: in mode
// none http://localhost:port (browsers treat localhost as secure); else
// https:// with each configured host, plus in self-signed mode localhost
// and each local address, and in files mode (without TLS_HOSTS) the names
// and addresses of the certificate. A listener bound to one address yields
// only that address besides the names.
func (m *Manager) URLs(addr net.Addr) []string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return nil
	}
	ip, port := ap.Addr().Unmap(), ap.Port()
	url := func(scheme, host string) string {
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if (scheme == "https" && port == 443) || (scheme == "http" && port == 80) {
			return scheme + "://" + host + "/"
		}
		return fmt.Sprintf("%s://%s:%d/", scheme, host, port)
	}
	if m.mode == ModeNone {
		if ip.IsUnspecified() || ip.IsLoopback() {
			return []string{url("http", "localhost")}
		}
		return []string{url("http", ip.String())}
	}
	names, addrs := m.hosts, m.localIPs
	switch {
	case m.mode == ModeACME:
		addrs = nil
	case m.mode == ModeFiles:
		addrs = nil
		if leaf := m.source.current().Leaf; len(names) == 0 && leaf != nil {
			for _, n := range leaf.DNSNames {
				if !strings.HasPrefix(n, "*.") {
					names = append(names, n)
				}
			}
			for _, a := range leaf.IPAddresses {
				if a, ok := netip.AddrFromSlice(a); ok {
					addrs = append(addrs, a.Unmap())
				}
			}
		}
	case ip.IsUnspecified() || ip.IsLoopback():
		names = append(slices.Clone(names), "localhost")
	}
	var out []string
	for _, h := range names {
		out = append(out, url("https", h))
	}
	for _, a := range addrs {
		if a.IsLoopback() || (!ip.IsUnspecified() && a != ip) || (ip.IsUnspecified() && ip.Is4() && !a.Is4()) {
			continue
		}
		out = append(out, url("https", a.String()))
	}
	if len(out) == 0 {
		out = append(out, url("https", ip.String()))
	}
	return out
}

// Close releases what the manager holds (the ACME client's idle
// connections). The tls.Config stays usable for connections still open.
func (m *Manager) Close() {
	if m.acmeHTTP != nil {
		m.acmeHTTP.CloseIdleConnections()
	}
}
