package main

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
)

// udpRelay carries every packet of one test publisher's ICE connection,
// so a test can lose the packets a real network or a real client loses.
// The publisher knows the server only through the relay's client-facing
// socket (its answer's candidates are rewritten to point there); the
// relay sends on to the server from a second socket, which the server
// learns as the publisher's peer-reflexive address.
//
// Packets are told apart by their first byte (RFC 7983): 0-3 STUN,
// 20-63 DTLS, 128-191 RTP and RTCP.
type udpRelay struct {
	client *net.UDPConn // faces the publisher
	server *net.UDPConn // faces wishcast
	// target is the server's ICE address, taken from its answer.
	target atomic.Pointer[net.UDPAddr]
	// peer is the publisher's address, learnt from its packets.
	peer atomic.Pointer[net.UDPAddr]

	// dropDTLS is how many DTLS packets toward the publisher are still
	// to be dropped.
	dropDTLS atomic.Int32
	// quiet drops the server's STUN toward the publisher and the
	// publisher's STUN answers: the server's ICE checks go unanswered.
	quiet atomic.Bool
	// quieted counts the STUN packets quiet dropped.
	quieted atomic.Int64
	// pausedUntil (Unix nanoseconds) drops everything before it.
	pausedUntil atomic.Int64
	// stopped drops everything, for good.
	stopped atomic.Bool
	// lastUp (Unix nanoseconds) is when the latest packet went on to the
	// server.
	lastUp atomic.Int64

	// mu guards all following fields.
	mu      sync.Mutex
	dropped int           // DTLS packets dropped
	dropAt  time.Time     // when the first was dropped
	resent  time.Duration // from that drop to the next DTLS packet toward the publisher

	wg sync.WaitGroup
}

// newUDPRelay opens the relay's two sockets on loopback; it stops at the
// end of the test.
func newUDPRelay(t *testing.T) *udpRelay {
	t.Helper()
	r := &udpRelay{}
	var err error
	if r.client, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	if r.server, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		_ = r.client.Close()
		t.Fatal(err)
	}
	r.wg.Go(r.up)
	r.wg.Go(r.down)
	t.Cleanup(func() {
		_ = r.client.Close()
		_ = r.server.Close()
		r.wg.Wait()
	})
	return r
}

// up forwards the publisher's packets to the server.
func (r *udpRelay) up() {
	buf := make([]byte, 2048)
	for {
		n, from, err := r.client.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.peer.Store(from)
		dst := r.target.Load()
		if dst == nil || !r.pass(buf[:n], false) {
			continue
		}
		if _, err := r.server.WriteToUDP(buf[:n], dst); err == nil {
			r.lastUp.Store(time.Now().UnixNano())
		}
	}
}

// down forwards the server's packets to the publisher.
func (r *udpRelay) down() {
	buf := make([]byte, 2048)
	for {
		n, _, err := r.server.ReadFromUDP(buf)
		if err != nil {
			return
		}
		dst := r.peer.Load()
		if dst == nil || !r.pass(buf[:n], true) {
			continue
		}
		_, _ = r.client.WriteToUDP(buf[:n], dst)
	}
}

// pass decides whether a packet goes on; toClient is its direction.
func (r *udpRelay) pass(p []byte, toClient bool) bool {
	if len(p) == 0 || r.stopped.Load() || time.Now().UnixNano() < r.pausedUntil.Load() {
		return false
	}
	switch {
	case p[0] <= 3: // STUN; the C1 bit (0x0100) of the type marks responses
		if r.quiet.Load() && (toClient || p[0]&0x01 != 0) {
			r.quieted.Add(1)
			return false
		}
	case p[0] >= 20 && p[0] <= 63 && toClient: // DTLS
		r.mu.Lock()
		defer r.mu.Unlock()
		if n := r.dropDTLS.Load(); n > 0 {
			r.dropDTLS.Store(n - 1)
			if r.dropped == 0 {
				r.dropAt = time.Now()
			}
			r.dropped++
			return false
		}
		if r.dropped > 0 && r.resent == 0 {
			r.resent = time.Since(r.dropAt)
		}
	}
	return true
}

// pause drops every packet, both ways, for d from now.
func (r *udpRelay) pause(d time.Duration) {
	r.pausedUntil.Store(time.Now().Add(d).UnixNano())
}

// stop drops every packet from now on, as if the publisher had vanished.
func (r *udpRelay) stop() { r.stopped.Store(true) }

// lastToServer is when the server was last sent a packet.
func (r *udpRelay) lastToServer() time.Time { return time.Unix(0, r.lastUp.Load()) }

// dtlsDrops reports how many DTLS packets toward the publisher were
// dropped, and how long after the first one the server sent DTLS again
// (0 if it has not).
func (r *udpRelay) dtlsDrops() (int, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped, r.resent
}

// rewriteAnswer points the answer's UDP candidates at the relay, drops
// its TCP candidates and makes the server's UDP address the relay's
// target. This is the publisher's own edit of what it received: the
// server sends its answer unchanged.
func (r *udpRelay) rewriteAnswer(t *testing.T, answer string) string {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(answer); err != nil {
		t.Fatalf("parse answer: %v", err)
	}
	relay, ok := r.client.LocalAddr().(*net.UDPAddr)
	if !ok {
		t.Fatal("relay socket is not UDP")
	}
	for _, md := range sd.MediaDescriptions {
		attrs := md.Attributes[:0:0]
		for _, a := range md.Attributes {
			if a.Key != "candidate" {
				attrs = append(attrs, a)
				continue
			}
			c, err := ice.UnmarshalCandidate(a.Value)
			if err != nil {
				t.Fatalf("answer candidate %q: %v", a.Value, err)
			}
			if c.NetworkType().IsTCP() {
				continue
			}
			r.target.CompareAndSwap(nil, &net.UDPAddr{IP: net.ParseIP(c.Address()), Port: c.Port()})
			h, err := ice.NewCandidateHost(&ice.CandidateHostConfig{
				Network: "udp", Address: relay.IP.String(), Port: relay.Port,
				Component: c.Component(), Priority: c.Priority(), Foundation: c.Foundation(),
			})
			if err != nil {
				t.Fatal(err)
			}
			attrs = append(attrs, sdp.Attribute{Key: "candidate", Value: h.Marshal()})
		}
		md.Attributes = attrs
	}
	if r.target.Load() == nil {
		t.Fatalf("answer has no UDP candidate:\n%s", answer)
	}
	out, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// setAttr sets the value of every attribute key in attrs, and reports
// whether there was one.
func setAttr(attrs []sdp.Attribute, key, value string) bool {
	found := false
	for i := range attrs {
		if attrs[i].Key == key {
			attrs[i].Value, found = value, true
		}
	}
	return found
}

// withoutAttrs returns attrs without the attributes named in keys.
func withoutAttrs(attrs []sdp.Attribute, keys ...string) []sdp.Attribute {
	out := attrs[:0:0]
	for _, a := range attrs {
		drop := false
		for _, k := range keys {
			drop = drop || a.Key == k
		}
		if !drop {
			out = append(out, a)
		}
	}
	return out
}

// renameMid renames the media section mid from to, in its a=mid and in
// the BUNDLE group.
func renameMid(t *testing.T, desc, from, to string) string {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(desc); err != nil {
		t.Fatalf("parse SDP: %v", err)
	}
	for _, md := range sd.MediaDescriptions {
		if v, _ := md.Attribute("mid"); v == from {
			setAttr(md.Attributes, "mid", to)
		}
	}
	for i, a := range sd.Attributes {
		if f := strings.Fields(a.Value); a.Key == "group" && len(f) > 0 && f[0] == "BUNDLE" {
			for j := range f[1:] {
				if f[j+1] == from {
					f[j+1] = to
				}
			}
			sd.Attributes[i].Value = strings.Join(f, " ")
		}
	}
	out, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
