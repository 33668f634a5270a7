package tlsx

import (
	"strings"
	"testing"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // in the error; "" for none
	}{
		{"default", Config{}, ""},
		{"none", Config{Mode: "none"}, ""},
		{"upper case", Config{Mode: "Self-Signed"}, ""},
		{"unknown mode", Config{Mode: "letsencrypt"}, `TLS_MODE "letsencrypt": want none, files, self-signed or acme`},
		{"files without files", Config{Mode: "files", CertFile: "a.crt"}, "needs both TLS_CERT_FILE and TLS_KEY_FILE"},
		{"acme without hosts", Config{Mode: "acme"}, "TLS_MODE=acme needs TLS_HOSTS"},
		{"acme with an IP", Config{Mode: "acme", Hosts: []string{"203.0.113.5"}}, "need DNS names"},
		{"acme single label", Config{Mode: "acme", Hosts: []string{"video"}}, "fully qualified"},
		{"acme http directory", Config{Mode: "acme", Hosts: []string{"v.example.org"}, ACMEDirectory: "http://ca/dir"}, "ACME_DIRECTORY"},
		{"host with scheme", Config{Mode: "self-signed", Hosts: []string{"https://v.example.org"}}, "TLS_HOSTS"},
		{"host with port", Config{Mode: "self-signed", Hosts: []string{"v.example.org:8443"}}, "no scheme, port or path"},
		{"host IP ok", Config{Mode: "self-signed", Hosts: []string{"192.168.1.9", "fd00::9", "cam.local"}}, ""},
		{"bad CIDR", Config{TrustedProxies: []string{"10.0.0.0/33"}}, `TRUSTED_PROXIES: "10.0.0.0/33" is neither an address nor a CIDR`},
		{"bad proxy", Config{TrustedProxies: []string{"proxy.local"}}, "TRUSTED_PROXIES"},
		{"proxies ok", Config{TrustedProxies: []string{"10.0.0.0/8", " 192.168.1.1", "::1", "fd00::/8"}}, ""},
		{"redirect in mode none", Config{RedirectListen: ":80"}, "HTTP_REDIRECT_LISTEN redirects to HTTPS, but TLS_MODE is none"},
		{"redirect without port", Config{Mode: "self-signed", RedirectListen: "80"}, "HTTP_REDIRECT_LISTEN"},
		{"public port out of range", Config{Mode: "self-signed", PublicPort: 70000}, "HTTPS_PUBLIC_PORT 70000"},
		{"public port ok", Config{Mode: "self-signed", RedirectListen: ":80", PublicPort: 443}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// New reports the validation errors too, and mode none needs nothing.
func TestNewModes(t *testing.T) {
	log, logs := testLog(t)
	if _, err := New(Config{Mode: "acme"}, t.TempDir(), log); err == nil {
		t.Fatal("acme without hosts started")
	}
	m, err := New(Config{Mode: "none", CertFile: "x.crt"}, t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.TLSConfig() != nil || m.Mode() != ModeNone {
		t.Fatalf("mode none: TLSConfig %v, mode %s", m.TLSConfig(), m.Mode())
	}
	if c, s := m.Fingerprints(); c != "" || s != "" {
		t.Fatalf("mode none fingerprints %q %q", c, s)
	}
	if !strings.Contains(logs.String(), "setting=TLS_CERT_FILE") {
		t.Errorf("an ignored TLS_CERT_FILE was not reported; log:\n%s", logs)
	}
	if _, err := New(Config{Mode: "acme", Hosts: []string{"v.example.org"}, ACMECAFile: "/nonexistent/ca.pem"}, t.TempDir(), log); err == nil || !strings.Contains(err.Error(), "ACME_CA_FILE") {
		t.Fatalf("missing ACME CA file: %v", err)
	}
}
