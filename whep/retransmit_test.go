package whep

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/stream"
)

// lossyNet is the viewer's network: its UDP sockets lose chosen SRTP
// packets the first time they arrive, before decryption (as a network
// loses them: SRTP's replay protection would refuse a packet received
// twice), so that the player NACKs them.
type lossyNet struct {
	*stdnet.Net
	want func(seq uint16) bool

	mu      sync.Mutex
	first   int // the first RTP sequence number seen, -1 before
	dropped map[uint16]bool
}

// ListenUDP implements transport.Net.
func (n *lossyNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, addr)
	if err != nil {
		return nil, err
	}
	return &lossyConn{UDPConn: c, net: n}, nil
}

// lost reports whether the datagram b is to be lost, and records it.
func (n *lossyNet) lost(b []byte) bool {
	if len(b) < 12 || b[0] < 128 || b[0] > 191 || (b[1] >= 192 && b[1] <= 223) {
		return false // not RTP (STUN, DTLS, RTCP)
	}
	seq := binary.BigEndian.Uint16(b[2:])
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.first < 0 {
		n.first = int(seq)
	}
	if n.dropped[seq] || !n.want(seq-uint16(n.first)) {
		return false
	}
	n.dropped[seq] = true
	return true
}

// wasDropped reports whether packet seq was lost on its first arrival.
func (n *lossyNet) wasDropped(seq uint16) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dropped[seq]
}

type lossyConn struct {
	transport.UDPConn
	net *lossyNet
}

// ReadFrom implements net.PacketConn, the read ICE uses.
func (c *lossyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.net.lost(b[:n]) {
			return n, addr, err
		}
	}
}

// sentPayload is the payload of the publisher's packet n in
// TestRetransmission.
func sentPayload(n int) []byte {
	p := vp8Frame(n%100 == 0, n)
	binary.BigEndian.PutUint32(p[20:], uint32(n)) // every payload differs
	return p
}

// publishEvery5ms publishes a VP8 stream "cam" on e's hub whose packet n,
// made by packet(n), is written 5n ms after the start, until the test ends.
func publishEvery5ms(t *testing.T, e *testEnv, packet func(n int) *rtp.Packet) {
	t.Helper()
	pub, err := e.hub.Publish("cam", []stream.TrackInfo{{Kind: stream.Video, Codec: stream.Codec{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}}})
	if err != nil {
		t.Fatal(err)
	}
	video := pub.Track(stream.Video)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			video.Write(packet(n))
		}
	})
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		pub.Close()
	})
}

// TestRetransmission: a player that loses packets NACKs them and gets the
// very packets it lost again (same sequence number, timestamp, marker and
// payload), from the server's own retransmission history.
func TestRetransmission(t *testing.T) {
	e := newTestEnv(t, stream.Config{})
	publishEvery5ms(t, e, func(n int) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{Version: 2, Marker: n%2 == 1, SequenceNumber: uint16(n), Timestamp: uint32(n/2) * 900, SSRC: 1}, Payload: sentPayload(n)}
	})

	const lose = 12
	ln := &lossyNet{first: -1, dropped: make(map[uint16]bool), want: func(k uint16) bool {
		return k >= 20 && k%10 == 5 && k < 20+10*lose
	}}
	var err2 error
	if ln.Net, err2 = stdnet.NewNet(); err2 != nil {
		t.Fatal(err2)
	}
	got, _ := startPlayer(t, e, "cam", ln, false)

	// Offsets of the viewer's numbering from the publisher's, from the
	// first packet; a packet sent again must fit them.
	var seqOff uint16
	var tsOff uint32
	started := false
	recovered := make(map[uint16]bool)
	deadline := time.After(15 * time.Second)
	for len(recovered) < lose {
		select {
		case p := <-got:
			n := int(binary.BigEndian.Uint32(p.Payload[20:]))
			if !started {
				seqOff, tsOff, started = p.SequenceNumber-uint16(n), p.Timestamp-uint32(n/2)*900, true
			}
			if !ln.wasDropped(p.SequenceNumber) {
				continue
			}
			if p.SequenceNumber-seqOff != uint16(n) || p.Timestamp-tsOff != uint32(n/2)*900 || p.Marker != (n%2 == 1) || !bytes.Equal(p.Payload, sentPayload(n)) {
				t.Fatalf("packet %d sent again is not the one lost: payload of packet %d, timestamp %d, marker %v", p.SequenceNumber, n, p.Timestamp-tsOff, p.Marker)
			}
			recovered[p.SequenceNumber] = true
		case <-deadline:
			ln.mu.Lock()
			n := len(ln.dropped)
			ln.mu.Unlock()
			t.Fatalf("%d of %d lost packets came again (%d dropped)", len(recovered), lose, n)
		}
	}
}

// startPlayer connects a pion player of name over n and returns the video
// packets it receives (and its video SSRC, once known). A normal player
// NACKs what it lost (pion's generator) and refuses what it already has
// (SRTP replay protection); a greedy one does neither, for its test to
// NACK and count duplicates itself.
func startPlayer(t *testing.T, e *testEnv, name string, n transport.Net, greedy bool) (<-chan *rtp.Packet, *webrtc.PeerConnection) {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if !greedy {
		if err := webrtc.ConfigureNack(m, ir); err != nil {
			t.Fatal(err)
		}
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.DisableSRTPReplayProtection(greedy)
	if n != nil {
		se.SetNet(n)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	got := make(chan *rtp.Packet, 65536)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			select {
			case got <- p:
			default:
			}
		}
	})
	v := &testViewer{pc: pc}
	resp, body := v.view(t, e, name)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
		t.Fatal(err)
	}
	return got, pc
}
