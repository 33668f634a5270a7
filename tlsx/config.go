package tlsx

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// The TLS modes of Config.Mode.
const (
	ModeNone       = "none"
	ModeFiles      = "files"
	ModeSelfSigned = "self-signed"
	ModeACME       = "acme"
)

// DefaultACMEDirectory is Let's Encrypt's production directory, the
// default of Config.ACMEDirectory.
const DefaultACMEDirectory = "https://acme-v02.api.letsencrypt.org/directory"

// Config selects how the main listener serves HTTPS. cmd parses it from the
// environment with caarlos0/env; the desc tag feeds --help and the README.
type Config struct {
	Mode     string   `env:"TLS_MODE" envDefault:"none" desc:"HTTPS on the main listener: none (plain HTTP; browsers allow cameras only on localhost), files, self-signed or acme"`
	CertFile string   `env:"TLS_CERT_FILE" envDefault:"" desc:"PEM certificate chain for TLS_MODE=files; reloaded within a second when it changes"`
	KeyFile  string   `env:"TLS_KEY_FILE" envDefault:"" desc:"PEM private key for TLS_MODE=files"`
	Hosts    []string `env:"TLS_HOSTS" envSeparator:"," envDefault:"" desc:"host names (or IPs) people use to reach the server: added to the self-signed certificate, the public names for acme, shown in the start-up URLs"`

	ACMEEmail     string `env:"ACME_EMAIL" envDefault:"" desc:"contact e-mail given to the ACME CA (expiry and policy notices)"`
	ACMEDirectory string `env:"ACME_DIRECTORY" envDefault:"https://acme-v02.api.letsencrypt.org/directory" desc:"ACME directory URL (Let's Encrypt by default; its staging directory, or a private CA)"`
	ACMECAFile    string `env:"ACME_CA_FILE" envDefault:"" desc:"PEM bundle of extra CAs trusted when talking to the ACME directory (private CAs, tests)"`

	RedirectListen string   `env:"HTTP_REDIRECT_LISTEN" envDefault:"" desc:"address of a plain HTTP listener that redirects everything to HTTPS with 308 and answers ACME http-01 challenges, e.g. :80; empty disables it"`
	PublicPort     int      `env:"HTTPS_PUBLIC_PORT" envDefault:"0" desc:"port people reach HTTPS on, for the redirect's Location, when a port mapping makes it differ from LISTEN's (443 outside a container, 8443 inside); 0: LISTEN's port"`
	TrustedProxies []string `env:"TRUSTED_PROXIES" envSeparator:"," envDefault:"" desc:"addresses or CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed; from anyone else these headers are dropped"`
}

// validate checks the settings that do not need the file system and
// returns the mode in canonical form.
func (c Config) validate() (string, error) {
	mode := strings.ToLower(strings.TrimSpace(c.Mode))
	if mode == "" {
		mode = ModeNone
	}
	switch mode {
	case ModeNone, ModeFiles, ModeSelfSigned, ModeACME:
	default:
		return "", fmt.Errorf("TLS_MODE %q: want none, files, self-signed or acme", c.Mode)
	}
	if _, err := parseProxies(c.TrustedProxies); err != nil {
		return "", err
	}
	for _, h := range c.Hosts {
		if err := checkHost(h, mode == ModeACME); err != nil {
			return "", fmt.Errorf("TLS_HOSTS: %w", err)
		}
	}
	if c.PublicPort < 0 || c.PublicPort > 65535 {
		return "", fmt.Errorf("HTTPS_PUBLIC_PORT %d: want a port number, or 0 for LISTEN's", c.PublicPort)
	}
	if c.RedirectListen != "" {
		if mode == ModeNone {
			return "", errors.New("HTTP_REDIRECT_LISTEN redirects to HTTPS, but TLS_MODE is none: set TLS_MODE or leave HTTP_REDIRECT_LISTEN empty")
		}
		if _, _, err := net.SplitHostPort(c.RedirectListen); err != nil {
			return "", fmt.Errorf("HTTP_REDIRECT_LISTEN %q: want host:port or :port: %w", c.RedirectListen, err)
		}
	}
	switch mode {
	case ModeFiles:
		if c.CertFile == "" || c.KeyFile == "" {
			return "", errors.New("TLS_MODE=files needs both TLS_CERT_FILE and TLS_KEY_FILE")
		}
	case ModeACME:
		if len(c.Hosts) == 0 {
			return "", errors.New("TLS_MODE=acme needs TLS_HOSTS: the public DNS names that point at this server")
		}
		if c.ACMEDirectory != "" && !strings.HasPrefix(c.ACMEDirectory, "https://") {
			return "", fmt.Errorf("ACME_DIRECTORY %q: want an https:// URL", c.ACMEDirectory)
		}
	}
	return mode, nil
}

// ignored names the settings that are set but have no effect in mode, so
// that New can say so.
func (c Config) ignored(mode string) []string {
	var out []string
	if mode != ModeFiles && (c.CertFile != "" || c.KeyFile != "") {
		out = append(out, "TLS_CERT_FILE", "TLS_KEY_FILE")
	}
	if mode != ModeACME && (c.ACMEEmail != "" || c.ACMECAFile != "") {
		out = append(out, "ACME_EMAIL", "ACME_CA_FILE")
	}
	return out
}

// checkHost accepts a DNS name or an IP address, without scheme, port or
// path. ACME certificates are for DNS names only.
func checkHost(h string, dnsOnly bool) error {
	if h == "" {
		return errors.New("empty host name")
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if dnsOnly {
			return fmt.Errorf("%q is an IP address; ACME certificates need DNS names", h)
		}
		if ip.Zone() != "" {
			return fmt.Errorf("%q: an address with a zone cannot be in a certificate", h)
		}
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("%q is longer than 253 characters", h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a host name (no scheme, port or path)", h)
		}
		for _, r := range label {
			ok := r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			if !ok {
				return fmt.Errorf("%q is not a host name (no scheme, port or path)", h)
			}
		}
	}
	if dnsOnly && !strings.Contains(strings.Trim(h, "."), ".") {
		return fmt.Errorf("%q: ACME certificates need a fully qualified name such as video.example.org", h)
	}
	return nil
}
