package session

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// flood sends n datagrams of size bytes to addr as fast as it can.
func flood(t *testing.T, addr net.Addr, n, size int) {
	t.Helper()
	c, err := net.DialUDP("udp", nil, addr.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, size)
	for range n {
		_, _ = c.Write(b) // loopback: a full receiver drops, the sender does not see it
	}
}

// TestUDPSocketDrops: datagrams the kernel drops on an ICE socket whose
// buffer is full are counted.
func TestUDPSocketDrops(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-socket drop counts are Linux's")
	}
	u, err := newUDPSockets(4096, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := u.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := u.drops(); d != 0 {
		t.Fatalf("drops before any traffic: %d", d)
	}
	const sent = 500
	flood(t, c.LocalAddr(), sent, 1000) // never read
	d := u.drops()
	// A 4 KB buffer holds a handful of 1000-byte datagrams.
	if d < sent/2 || d > sent {
		t.Fatalf("drops after %d datagrams to an unread socket with a 4 KB buffer: %d", sent, d)
	}
}

// TestUDPReadBuffer: the receive buffer asked for is obtained, past the
// kernel's limit with CAP_NET_ADMIN, and a capped one is logged.
func TestUDPReadBuffer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("buffer sizes read back on Linux only")
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	const want = 64 << 20 // above any default net.core.rmem_max
	u, err := newUDPSockets(want, log)
	if err != nil {
		t.Fatal(err)
	}
	c, err := u.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := setReadBuffer(c.(*BatchConn).UDPConn, want)
	if err != nil {
		t.Fatal(err)
	}
	capped := strings.Contains(logs.String(), "capped by the kernel")
	if os.Geteuid() == 0 {
		if got < want || capped {
			t.Fatalf("as root: %d bytes of %d, log: %s", got, want, logs.String())
		}
	} else if got < want && !capped {
		t.Fatalf("%d bytes of %d and nothing logged: %s", got, want, logs.String())
	}
}

// TestAPIReceiveDrops: a flood the ICE socket cannot keep up with shows in
// the server's drop count.
func TestAPIReceiveDrops(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-socket drop counts are Linux's")
	}
	api, err := NewAPI(Config{UDPPort: 0, TCPPort: -1, Loopback: true, HostIPs: []string{"127.0.0.1"}, UDPReadBuffer: 4096}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	if d := api.ReceiveDrops(); d != 0 {
		t.Fatalf("drops before any traffic: %d", d)
	}
	deadline := time.Now().Add(10 * time.Second)
	for api.ReceiveDrops() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no drops counted after 10 s of flooding a 4 KB socket")
		}
		flood(t, api.UDPAddrs[0], 5000, 1200)
	}
}
