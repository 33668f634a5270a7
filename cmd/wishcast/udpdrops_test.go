package main

import (
	"net"
	"testing"
	"time"
)

// Datagrams the kernel drops because the server does not read the ICE
// UDP socket fast enough show in the metrics.
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
		if value(f, "wishcast_ice_udp_receive_drops_total", nil) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no drops counted after 10 s of flooding a 4 KB ICE socket")
		}
	}
}
