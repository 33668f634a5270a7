//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Firefox with its default ICE settings (no loopback candidates, host
// addresses hidden behind mDNS names) watches the demo camera, transcoded
// to VP8, on a server that listens on and announces an address of a
// network interface the test makes, as a server on a LAN would.
func TestFirefoxDefaultICEOnLANAddress(t *testing.T) {
	requireFirefox(t)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		skipNoted(t, "ffmpeg not installed")
	}
	ip := lanInterface(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("find a free port on %s: %v", ip, err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := launchWishcast(t, "http://"+addr,
		"WISHCAST_LISTEN="+addr,
		"WISHCAST_ICE_HOST_IPS="+ip,
		"WISHCAST_DEMO_CAMERA_ADDR=127.0.0.1:0",
	)
	srv.waitHealthy(t)
	// No preferences beyond the fake devices: ICE keeps Firefox's defaults.
	h := &harness{t: t, srv: srv, shots: os.Getenv("WISHCAST_ARTIFACTS"), ffPrefs: map[string]any{}}
	if h.shots == "" {
		h.shots = t.TempDir()
	} else if err := os.MkdirAll(h.shots, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	app, _ := watchDemoInFirefox(h, keepPeerConnectionsJS)
	app.screenshot(t.Name() + ".png")
	ice := mustEvaluate[pageICE](app, pageICEJS)
	t.Logf("Firefox's ICE: %+v", ice)
	if !ice.MDNS || ice.PlainHost {
		t.Fatalf("Firefox's offer %+v; want host candidates as mDNS names only (its default)", ice)
	}
	if ice.Remote != ip {
		t.Fatalf("media flows to %q; want the server's address %s", ice.Remote, ip)
	}
}

// keepPeerConnectionsJS makes the page keep its RTCPeerConnections in
// window.testPCs.
const keepPeerConnectionsJS = `(() => {
  const Native = window.RTCPeerConnection;
  window.testPCs = [];
  window.RTCPeerConnection = function (...args) { const pc = new Native(...args); window.testPCs.push(pc); return pc; };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
  return true;
})()`

// pageICE is what the page's last connected peer connection offered and
// the remote address of its selected candidate pair.
type pageICE struct {
	MDNS      bool   // a host candidate named *.local
	PlainHost bool   // a host candidate with an IP address
	Remote    string // the selected pair's remote address
}

// pageICEJS reads a pageICE from the page (see keepPeerConnectionsJS).
const pageICEJS = `(async () => {
  const pc = window.testPCs.filter((p) => p.connectionState === 'connected').pop();
  if (!pc) return { MDNS: false, PlainHost: false, Remote: '' };
  const hosts = pc.localDescription.sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:') && / typ host/.test(l)).map((l) => l.split(' ')[4]);
  const out = { MDNS: hosts.some((a) => a.endsWith('.local')), PlainHost: hosts.some((a) => !a.endsWith('.local')), Remote: '' };
  const stats = await pc.getStats();
  stats.forEach((s) => {
    if (s.type === 'candidate-pair' && s.state === 'succeeded' && (s.nominated || s.selected)) {
      const r = stats.get(s.remoteCandidateId);
      if (r) out.Remote = r.address;
    }
  });
  return out;
})()`

// lanInterface makes a network interface of its own (one end of a veth
// pair, whose other end is up too; kernels without the dummy device have
// veth) with a 10.x address and returns the address; the test removes it
// at its end. Without the rights to (not root), the test skips, noting
// why, or fails under CI, which runs as root.
func lanInterface(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("wcfx%d", os.Getpid()%1000000)
	ip := fmt.Sprintf("10.%d.%d.1", 200+rand.IntN(50), rand.IntN(250))
	ipCmd := func(args ...string) error {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := ipCmd("link", "add", name, "type", "veth", "peer", "name", name+"p"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("make a network interface (CI runs as root): %v", err)
		}
		skipNoted(t, "cannot make a network interface (as root, with veth in the kernel): %v", err)
	}
	t.Cleanup(func() {
		if err := ipCmd("link", "del", name); err != nil {
			t.Errorf("remove the test's interface: %v", err)
		}
	})
	for _, args := range [][]string{{"addr", "add", ip + "/24", "dev", name}, {"link", "set", name + "p", "up"}, {"link", "set", name, "up"}} {
		if err := ipCmd(args...); err != nil {
			t.Fatalf("set up the test's interface: %v", err)
		}
	}
	return ip
}
