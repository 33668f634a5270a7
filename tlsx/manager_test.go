package tlsx

import (
	"net"
	"slices"
	"testing"
	"time"
)

func TestURLs(t *testing.T) {
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	for _, tc := range []struct {
		name  string
		mode  string
		hosts []string
		addr  string
		want  []string
	}{
		{"none", "none", nil, "[::]:8080", []string{"http://localhost:8080/"}},
		{"none on one address", "none", nil, "192.0.2.7:8080", []string{"http://192.0.2.7:8080/"}},
		{"self-signed everywhere", "self-signed", []string{"cam.home.arpa"}, "[::]:8443",
			[]string{"https://cam.home.arpa:8443/", "https://localhost:8443/", "https://192.0.2.7:8443/", "https://[fd00::7]:8443/"}},
		{"self-signed IPv4 only", "self-signed", nil, "0.0.0.0:443", []string{"https://localhost/", "https://192.0.2.7/"}},
		{"self-signed one address", "self-signed", nil, "192.0.2.7:8443", []string{"https://192.0.2.7:8443/"}},
		{"acme", "acme", []string{"v.example.org"}, "[::]:443", []string{"https://v.example.org/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, _ := testLog(t)
			cfg := Config{Mode: tc.mode, Hosts: tc.hosts}
			m, err := newManager(cfg, t.TempDir(), log, options{localIPs: fixedIPs("127.0.0.1", "::1", "192.0.2.7", "fd00::7"), now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if got := m.URLs(tcp(tc.addr)); !slices.Equal(got, tc.want) {
				t.Errorf("URLs(%s) = %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
}

// LocalIPs finds at least the loopback address and no link-local one.
func TestLocalIPs(t *testing.T) {
	ips, err := LocalIPs()
	if err != nil {
		t.Fatal(err)
	}
	loop := false
	for _, a := range ips {
		loop = loop || a.IsLoopback()
		if a.IsLinkLocalUnicast() {
			t.Errorf("link-local %s listed", a)
		}
	}
	if !loop {
		t.Errorf("no loopback address in %v", ips)
	}
}

// In files mode the URLs name what the certificate is for.
func TestURLsFiles(t *testing.T) {
	dir := t.TempDir()
	crt, key := dir+"/tls.crt", dir+"/tls.key"
	writePair(t, crt, key, "A") // localhost and 127.0.0.1
	addr, _ := net.ResolveTCPAddr("tcp", "[::]:8443")
	for _, tc := range []struct {
		hosts []string
		want  []string
	}{
		{nil, []string{"https://localhost:8443/"}},
		{[]string{"v.example.org"}, []string{"https://v.example.org:8443/"}},
	} {
		log, _ := testLog(t)
		m, err := newManager(Config{Mode: "files", CertFile: crt, KeyFile: key, Hosts: tc.hosts}, dir, log,
			options{localIPs: fixedIPs("192.0.2.7"), now: time.Now, reloadEvery: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.URLs(addr); !slices.Equal(got, tc.want) {
			t.Errorf("hosts %v: URLs %q, want %q", tc.hosts, got, tc.want)
		}
	}
}
