package tlsx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// setupACME prepares autocert for the configured hosts: the account and
// certificates are cached in cacheDir, the directory is cfg.ACMEDirectory
// and is trusted through the system's CAs plus cfg.ACMECAFile. Setting
// TLS_MODE=acme accepts the CA's terms of service.
func (m *Manager) setupACME(cfg Config, cacheDir string) error {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if cfg.ACMECAFile != "" {
		data, err := os.ReadFile(cfg.ACMECAFile)
		if err != nil {
			return fmt.Errorf("ACME_CA_FILE: %w", err)
		}
		if !pool.AppendCertsFromPEM(data) {
			return fmt.Errorf("ACME_CA_FILE %s: no PEM certificate in it", cfg.ACMECAFile)
		}
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return fmt.Errorf("ACME cache folder: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	m.acmeHTTP = &http.Client{Transport: transport, Timeout: time.Minute}
	dir := cfg.ACMEDirectory
	if dir == "" {
		dir = DefaultACMEDirectory
	}
	hosts := make([]string, len(cfg.Hosts))
	for i, h := range cfg.Hosts {
		hosts[i] = strings.ToLower(strings.TrimSuffix(h, "."))
	}
	m.acme = &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cacheDir),
		HostPolicy: autocert.HostWhitelist(hosts...),
		Email:      cfg.ACMEEmail,
		Client:     &acme.Client{DirectoryURL: dir, HTTPClient: m.acmeHTTP, UserAgent: "wishcast"},
	}
	get := m.acme.GetCertificate
	log := m.log
	m.config = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			cert, err := get(hello)
			if err != nil {
				// Scanners ask for names that are not ours: those are
				// noise; a failure for one of our names is not.
				level := slog.LevelDebug
				name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
				if slices.Contains(hosts, name) && !slices.Contains(hello.SupportedProtos, acme.ALPNProto) {
					level = slog.LevelWarn
				}
				log.Log(context.Background(), level, "no ACME certificate", "host", hello.ServerName, "err", err)
			}
			return cert, err
		},
		NextProtos: []string{"h2", "http/1.1", acme.ALPNProto},
	}
	log.Info("ACME certificates", "directory", dir, "hosts", strings.Join(hosts, ","), "cache", cacheDir)
	return nil
}
