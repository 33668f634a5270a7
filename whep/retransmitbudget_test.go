package whep

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/stdnet"

	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// budgetPayload is the size of the packets of TestRetransmissionBudget:
// 200 a second of them are about 1.8 Mbit/s.
const budgetPayload = 1100

// A player that NACKs every recent packet, 50 times a second, gets no
// more than NACK_SHARE of what the server sends it (plus the burst) sent
// again, and the refusals are counted; a player on the same stream whose
// network loses one packet in 20 still gets every lost packet back.
func TestRetransmissionBudget(t *testing.T) {
	e := newTestEnv(t, stream.Config{})
	publishEvery5ms(t, e, func(n int) *rtp.Packet {
		p := make([]byte, budgetPayload)
		copy(p, vp8Frame(n%100 == 0, n))
		binary.BigEndian.PutUint32(p[20:], uint32(n))
		return &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(n), Timestamp: uint32(n) * 450, SSRC: 1}, Payload: p}
	})

	const lose = 20
	ln := &lossyNet{first: -1, dropped: make(map[uint16]bool), want: func(k uint16) bool {
		return k >= 20 && k%20 == 7 && k < 20+20*lose
	}}
	var err error
	if ln.Net, err = stdnet.NewNet(); err != nil {
		t.Fatal(err)
	}
	lossy, _ := startPlayer(t, e, "cam", ln, false)
	greedy, gpc := startPlayer(t, e, "cam", nil, true)

	// The greedy player asks for the 64 packets before the newest it has,
	// every 20 ms, for 4 s from its first packet.
	var first, top uint16
	var ssrc uint32
	started := false
	seen := map[uint16]bool{}
	extra := 0 // bytes received more than once
	recovered := map[uint16]bool{}
	ask := time.NewTicker(20 * time.Millisecond)
	defer ask.Stop()
	var end <-chan time.Time
	deadline := time.After(20 * time.Second)
	checked := false
	for !checked || len(recovered) < lose {
		select {
		case p := <-greedy:
			if !started {
				first, top, ssrc, started = p.SequenceNumber, p.SequenceNumber, p.SSRC, true
				end = time.After(4 * time.Second)
			}
			if seen[p.SequenceNumber] {
				extra += 12 + len(p.Payload)
			}
			seen[p.SequenceNumber] = true
			if p.SequenceNumber-top < 0x8000 {
				top = p.SequenceNumber
			}
		case p := <-lossy:
			if ln.wasDropped(p.SequenceNumber) {
				recovered[p.SequenceNumber] = true
			}
		case <-ask.C:
			if !started {
				continue
			}
			seqs := make([]uint16, 64)
			for i := range seqs {
				seqs[i] = top - 64 + uint16(i)
			}
			if err := gpc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}}); err != nil {
				t.Fatal(err)
			}
		case <-end:
			ask.Stop()
			checked, end = true, nil // stop asking, wait for the lossy player
			sent := int(top-first+1) * (12 + budgetPayload)
			share := session.Config{}.NACKShare
			if share == 0 {
				share = 20 // the default
			}
			limit := sent*share/100 + 64<<10 + 12 + budgetPayload
			t.Logf("greedy player: %d bytes sent, %d sent again (limit %d), %d refused", sent, extra, limit, e.sessions.RetransmissionsRefused())
			if extra > limit {
				t.Fatalf("the greedy player got %d bytes again for %d sent: over %d %% plus 64 KiB", extra, sent, share)
			}
			if extra <= 64<<10 || e.sessions.RetransmissionsRefused() == 0 {
				t.Fatalf("the greedy player got only %d bytes again, %d refused", extra, e.sessions.RetransmissionsRefused())
			}
		case <-deadline:
			t.Fatalf("%d of %d packets the lossy player lost came again", len(recovered), lose)
		}
	}
}
