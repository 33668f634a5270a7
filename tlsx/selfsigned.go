package tlsx

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// selfSignedValidity is how long a generated certificate is valid.
	selfSignedValidity = 365 * 24 * time.Hour
	// selfSignedRenewBefore is how close to its end a certificate found at
	// start is replaced; a running server replaces it a day before.
	selfSignedRenewBefore = 30 * 24 * time.Hour
	selfSignedRenewLive   = 24 * time.Hour
	// SelfSignedCertFile and SelfSignedKeyFile are the file names of the
	// self-signed pair, in the tls folder of the data directory.
	SelfSignedCertFile = "self-signed.crt"
	// SelfSignedKeyFile is the private key of SelfSignedCertFile (mode 0600).
	SelfSignedKeyFile = "self-signed.key"
)

// selfSigned serves a certificate it generated into dir. It keeps the
// private key across regenerations, so that a pinned public key (Chromium's
// --ignore-certificate-errors-spki-list) stays valid when the names or the
// expiry change.
type selfSigned struct {
	dir   string
	names []string     // DNS names the certificate must cover
	ips   []netip.Addr // addresses the certificate must cover
	now   func() time.Time
	log   *slog.Logger

	renewMu  sync.Mutex // serializes renewals; guards failedAt
	failedAt time.Time  // when a renewal last failed

	mu   sync.Mutex // guards cert
	cert *tls.Certificate
}

// newSelfSigned loads the pair from dir, or generates it when it is
// missing, does not parse, ends within selfSignedRenewBefore or does not
// cover every wanted name and address.
func newSelfSigned(dir string, hosts []string, local []netip.Addr, now func() time.Time, log *slog.Logger) (*selfSigned, error) {
	s := &selfSigned{dir: dir, now: now, log: log, names: []string{"localhost"}}
	for _, h := range hosts {
		if a, err := netip.ParseAddr(h); err == nil {
			s.ips = append(s.ips, a.Unmap())
		} else {
			s.names = append(s.names, strings.ToLower(strings.TrimSuffix(h, ".")))
		}
	}
	s.ips = append(s.ips, local...)
	slices.SortFunc(s.ips, netip.Addr.Compare)
	s.ips = slices.Compact(s.ips)
	slices.Sort(s.names)
	s.names = slices.Compact(s.names)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("self-signed certificate folder: %w", err)
	}
	cert, key, err := s.load()
	reason := ""
	switch {
	case err != nil && errors.Is(err, fs.ErrNotExist):
		reason = "first start"
	case err != nil:
		reason = err.Error()
	default:
		reason = s.stale(cert.Leaf, selfSignedRenewBefore)
	}
	if reason == "" {
		s.cert = cert
		return s, nil
	}
	if err := s.generate(key, reason); err != nil {
		return nil, err
	}
	return s, nil
}

// paths returns the certificate and key file names.
func (s *selfSigned) paths() (string, string) {
	return filepath.Join(s.dir, SelfSignedCertFile), filepath.Join(s.dir, SelfSignedKeyFile)
}

// load reads the pair. When the certificate is unusable but the key is a
// P-256 key, the key is still returned so that it can be kept.
func (s *selfSigned) load() (*tls.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := s.paths()
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", keyPath, err)
	}
	key := parseECKey(keyPEM)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, key, fmt.Errorf("read %s: %w", certPath, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, key, fmt.Errorf("%s and %s: %w", certPath, keyPath, err)
	}
	return &pair, key, nil
}

// parseECKey returns the P-256 key in a PKCS #8 or SEC 1 PEM block, or nil.
func parseECKey(data []byte) *ecdsa.PrivateKey {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if err != nil || !ok || ec.Curve != elliptic.P256() {
		return nil
	}
	return ec
}

// stale says why leaf must be replaced, or "" when it is still good.
func (s *selfSigned) stale(leaf *x509.Certificate, renewBefore time.Duration) string {
	if leaf == nil {
		return "no certificate"
	}
	if s.now().Add(renewBefore).After(leaf.NotAfter) {
		return fmt.Sprintf("it expires %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	for _, n := range s.names {
		if !slices.ContainsFunc(leaf.DNSNames, func(d string) bool { return strings.EqualFold(d, n) }) {
			return fmt.Sprintf("it does not cover %s", n)
		}
	}
	for _, a := range s.ips {
		if !slices.ContainsFunc(leaf.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IP(a.AsSlice())) }) {
			return fmt.Sprintf("it does not cover %s", a)
		}
	}
	return ""
}

// generate makes a new certificate (with key, or a new key when key is
// nil), writes the pair and makes it current.
func (s *selfSigned) generate(key *ecdsa.PrivateKey, reason string) error {
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return fmt.Errorf("generate key: %w", err)
		}
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("serial number: %w", err)
	}
	now := s.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "wishcast self-signed", Organization: []string{"wishcast"}},
		NotBefore:             now.Add(-time.Hour), // tolerate clients whose clock is a little behind
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              s.names,
	}
	for _, a := range s.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("create self-signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	certPath, keyPath := s.paths()
	// The key first: a certificate must never be on disk without its key.
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("parse the new certificate: %w", err)
	}
	s.mu.Lock()
	s.cert = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	s.mu.Unlock()
	s.log.Info("generated a self-signed certificate", "why", reason, "file", certPath,
		"names", strings.Join(s.names, ","), "addresses", fmt.Sprint(s.ips), "expires", leaf.NotAfter.UTC().Format(time.DateOnly))
	return nil
}

// getCertificate serves the current certificate, replacing it first when
// a long-running server has brought it to its last day.
func (s *selfSigned) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cert := s.current()
	now := s.now()
	if now.Add(selfSignedRenewLive).Before(cert.Leaf.NotAfter) {
		return cert, nil
	}
	s.renewMu.Lock()
	defer s.renewMu.Unlock()
	if cur := s.current(); cur != cert { // another handshake renewed it
		return cur, nil
	}
	if now.Sub(s.failedAt) < time.Minute {
		return cert, nil
	}
	key, _ := cert.PrivateKey.(*ecdsa.PrivateKey)
	if err := s.generate(key, "it expires within a day"); err != nil {
		s.failedAt = now
		s.log.Warn("renew the self-signed certificate; serving the old one", "err", err)
	}
	return s.current(), nil
}

// current is the certificate served now.
func (s *selfSigned) current() *tls.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cert
}

// writeFileAtomic writes data to a temporary file beside path with mode
// perm, syncs it and renames it over path, so that readers see the old or
// the new file, never half of one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	return nil
}
