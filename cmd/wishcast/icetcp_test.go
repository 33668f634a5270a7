package main

import (
	"net"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// A viewer that can reach the server only over ICE-TCP gets the media
// too: the fan-out's batched sends are the UDP socket's, and leave the
// TCP path as it was.
func TestICETCPViewerGetsMedia(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/tcp", 30)

	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	se.SetICEMulticastDNSMode(0)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := watchPC(t, pc)
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	connect(t, pc, ts.URL+"/whep/live/tcp")
	next(t, v.video, 10*time.Second)
	for range 30 { // media keeps flowing, not just a first packet
		next(t, v.video, 5*time.Second)
	}
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("selected pair: %v, %v", pair, err)
	}
	if pair.Local.Protocol != webrtc.ICEProtocolTCP {
		t.Fatalf("media over %s, want tcp", pair.Local.Protocol)
	}
}
