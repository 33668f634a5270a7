package main

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A viewer's NACK is answered from the server's retransmission history:
// the packet comes again with the same sequence number and payload.
func TestNACKRetransmission(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/nack", 25)

	// A viewer whose SRTP replay check is off, so it can see the resent
	// packet it already has (a real receiver asks only for lost ones).
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.DisableSRTPReplayProtection(true)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	type got struct {
		p    *rtp.Packet
		ssrc uint32
	}
	pkts := make(chan got, 1024)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			pkts <- got{p, uint32(tr.SSRC())}
		}
	})
	connect(t, pc, ts.URL+"/whep/live/nack")

	// Keep the 5th packet, let five more go by, then ask for it again.
	var first got
	for i := range 10 {
		select {
		case g := <-pkts:
			if i == 4 {
				first = g
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no video")
		}
	}
	nack := &rtcp.TransportLayerNack{MediaSSRC: first.ssrc, Nacks: []rtcp.NackPair{{PacketID: first.p.SequenceNumber}}}
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	if err := pc.WriteRTCP([]rtcp.Packet{nack}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case g := <-pkts:
			if g.p.SequenceNumber == first.p.SequenceNumber {
				if !bytes.Equal(g.p.Payload, first.p.Payload) || g.p.Timestamp != first.p.Timestamp {
					t.Fatalf("retransmission differs from the original")
				}
				// The metrics count it, and the NACK that asked for it.
				f, text := scrape(t, ts)
				if value(f, "wishcast_retransmitted_packets_total", nil) < 1 || value(f, "wishcast_viewer_nacked_packets_total", nil) < 1 {
					t.Fatalf("retransmission or NACK not counted:\n%s", grep(text, "nack")+grep(text, "retransmit"))
				}
				greedyNACKs(t, ts, pc, first.ssrc, g.p.SequenceNumber)
				return
			}
		case <-tick.C:
			_ = pc.WriteRTCP([]rtcp.Packet{nack})
		case <-deadline:
			t.Fatalf("packet %d was not retransmitted after NACK", first.p.SequenceNumber)
		}
	}
}

// greedyNACKs asks, every 10 ms, for the 256 packets up to top again, until
// the metrics count retransmissions refused for the viewer's budget
// (NACK_SHARE), or fails after 10 s.
func greedyNACKs(t *testing.T, ts *testServer, pc *webrtc.PeerConnection, ssrc uint32, top uint16) {
	t.Helper()
	seqs := make([]uint16, 256)
	for i := range seqs {
		seqs[i] = top - 255 + uint16(i)
	}
	nack := &rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_ = pc.WriteRTCP([]rtcp.Packet{nack})
		time.Sleep(10 * time.Millisecond)
		if f, _ := scrape(t, ts); value(f, "wishcast_retransmissions_refused_total", nil) > 0 {
			return
		}
	}
	_, text := scrape(t, ts)
	t.Fatalf("a viewer NACKing everything had no retransmission refused:\n%s", grep(text, "retransmi"))
}
