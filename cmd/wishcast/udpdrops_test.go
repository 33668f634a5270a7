package main

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// Datagrams the kernel drops because the server does not read the ICE
// UDP socket fast enough show in the metrics, in the total and by queue:
// a flood that is not RTP overflows the control queue, not the media one.
func TestICEUDPReceiveDropsMetric(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.WebRTC.UDPReadBuffer = 4096 })
	f, _ := scrape(t, ts)
	if v := value(f, "wishcast_ice_udp_receive_drops_total", nil); v != 0 {
		t.Fatalf("drops before any traffic: %v", v)
	}
	c, err := net.DialUDP("udp", nil, ts.api.UDPAddrs[0].(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 1200)
	deadline := time.Now().Add(10 * time.Second)
	for {
		for range 5000 {
			_, _ = c.Write(b)
		}
		f, _ := scrape(t, ts)
		if total := value(f, "wishcast_ice_udp_receive_drops_total", nil); total > 0 {
			const q = "wishcast_ice_udp_receive_queue_drops_total"
			if runtime.GOOS == "linux" {
				control := value(f, q, map[string]string{"queue": "control"})
				if media := value(f, q, map[string]string{"queue": "media"}); control == 0 || media != 0 {
					t.Fatalf("a flood of zeros: %v drops on the control queue, %v on the media queue", control, media)
				}
			}
			// One scrape reads the kernel's counters once: the queues add up.
			if byQueue := value(f, q, nil); byQueue != total {
				t.Fatalf("drops by queue add up to %v, the total is %v", byQueue, total)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no drops counted after 10 s of flooding a 4 KB ICE socket")
		}
	}
}
