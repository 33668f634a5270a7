package session

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// testHistory drives one NACK history the way pion does: packets written
// through the stream's writer, NACKs read through the RTCP reader. It
// records what reaches the network below the history.
type testHistory struct {
	t     *testing.T
	h     *history
	count *RetransmitCounts
	plen  int // payload size of the packets sent
	w     interceptor.RTPWriter
	rtcpR interceptor.RTCPReader
	clock time.Time

	// mu guards the following fields.
	mu     sync.Mutex
	sent   int            // packets written by the sender
	resent []*rtp.Packet  // packets sent again, in order
	in     [][]byte       // RTCP datagrams waiting to be read
	seen   map[uint16]int // packets the sender wrote, by sequence number
}

const testSSRC = 0x1234

func newTestHistory(t *testing.T, size uint16) *testHistory {
	t.Helper()
	count := new(RetransmitCounts)
	it, err := historyFactory{size: size, share: Config{}.withDefaults().NACKShare, count: count, lf: NewLoggerFactory(nil)}.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	th := &testHistory{t: t, h: it.(*history), count: count, plen: 100, clock: time.Unix(1_700_000_000, 0), seen: map[uint16]int{}}
	th.h.now = func() time.Time {
		th.mu.Lock()
		defer th.mu.Unlock()
		return th.clock
	}
	info := &interceptor.StreamInfo{SSRC: testSSRC, RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}}}
	th.w = th.h.BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
		th.mu.Lock()
		defer th.mu.Unlock()
		if n, ok := th.seen[h.SequenceNumber]; ok && n == th.sent {
			th.seen[h.SequenceNumber] = -1 // the write of the sender itself
			return len(payload), nil
		}
		th.resent = append(th.resent, &rtp.Packet{Header: *h, Payload: payload})
		return len(payload), nil
	}))
	th.rtcpR = th.h.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		th.mu.Lock()
		defer th.mu.Unlock()
		d := th.in[0]
		th.in = th.in[1:]
		return copy(b, d), a, nil
	}))
	t.Cleanup(func() { _ = th.h.Close() })
	return th
}

// payloadOf is the payload of the packet of extended number ext: n bytes
// that start with ext (each differs, so a resend of the wrong packet
// shows).
func payloadOf(ext, n int) []byte {
	p := make([]byte, n)
	binary.BigEndian.PutUint32(p, uint32(ext))
	return p
}

// send writes the packet of extended number ext as a sender does.
func (th *testHistory) send(ext int) {
	seq := uint16(ext)
	th.mu.Lock()
	th.sent++
	th.seen[seq] = th.sent
	th.mu.Unlock()
	h := &rtp.Header{Version: 2, SSRC: testSSRC, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(ext) * 3000, Marker: ext%3 == 0}
	if _, err := th.w.Write(h, payloadOf(ext, th.plen), nil); err != nil {
		th.t.Fatal(err)
	}
	*h = rtp.Header{} // a sender reuses its header: the history must not keep it
}

// nack reads a NACK for seqs (as PID+BLP pairs) through the history and
// returns the packets it sent again.
func (th *testHistory) nack(ssrc uint32, seqs ...uint16) []*rtp.Packet {
	b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}})
	if err != nil {
		th.t.Fatal(err)
	}
	th.mu.Lock()
	th.in = append(th.in, b)
	before := len(th.resent)
	th.mu.Unlock()
	if _, _, err := th.rtcpR.Read(make([]byte, 1500), nil); err != nil {
		th.t.Fatal(err)
	}
	th.mu.Lock()
	defer th.mu.Unlock()
	return append([]*rtp.Packet(nil), th.resent[before:]...)
}

func (th *testHistory) advance(d time.Duration) {
	th.mu.Lock()
	th.clock = th.clock.Add(d)
	th.mu.Unlock()
}

// checkResent fails unless got are the packets of extended numbers want,
// each whole: sequence number, timestamp, marker, payload type, SSRC and
// payload of the original.
func checkResent(t *testing.T, got []*rtp.Packet, want []int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("sent again %d packets, want %d", len(got), len(want))
	}
	for i, p := range got {
		ext := want[i]
		if p.SequenceNumber != uint16(ext) || p.Timestamp != uint32(ext)*3000 || p.Marker != (ext%3 == 0) ||
			p.PayloadType != 96 || p.SSRC != testSSRC || p.Version != 2 || len(p.Payload) < 4 || binary.BigEndian.Uint32(p.Payload) != uint32(ext) {
			t.Fatalf("packet %d sent again as seq %d ts %d marker %v pt %d ssrc %x payload of %d",
				uint16(ext), p.SequenceNumber, p.Timestamp, p.Marker, p.PayloadType, p.SSRC, binary.BigEndian.Uint32(p.Payload))
		}
	}
}

// Across the 16-bit wrap, a NACK whose bitmap spans 65535 → 0 gets back
// every packet the ring's size covers, the newest ones included, whatever
// the size (one that does not divide 65536 too), and nothing older.
func TestHistoryWrap(t *testing.T) {
	for _, size := range []uint16{256, 300, 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			th := newTestHistory(t, size)
			th.plen = 40                                  // the whole ring at once within the burst budget
			const first, last = 65536 - 1000, 65536 + 200 // the last 200 after the wrap
			for ext := first; ext < last; ext++ {
				th.send(ext)
			}
			var seqs []uint16
			var want []int
			for ext := last - int(size); ext < last; ext++ {
				seqs = append(seqs, uint16(ext))
				want = append(want, ext)
			}
			checkResent(t, th.nack(testSSRC, seqs...), want)
			if got := th.nack(testSSRC, uint16(last-int(size)-1)); len(got) != 0 {
				t.Fatalf("a packet older than the ring came again: seq %d", got[0].SequenceNumber)
			}
		})
	}
}

// Packets that were never sent (a gap in the numbering, one not sent yet)
// or belong to another stream are not answered; the others in the same
// NACK are.
func TestHistoryUnknown(t *testing.T) {
	th := newTestHistory(t, 256)
	for ext := 100; ext < 200; ext++ {
		if ext != 150 {
			th.send(ext)
		}
	}
	checkResent(t, th.nack(testSSRC, 149, 150, 151, 200, 201, 99), []int{149, 151})
	if got := th.nack(testSSRC+1, 120); len(got) != 0 {
		t.Fatalf("a NACK for another SSRC got %d packets", len(got))
	}
	// After 2^16 packets the ring holds other packets with the numbers
	// of the first ones: asking for the gap again gives nothing.
	for ext := 200; ext < 65536+150; ext++ {
		th.send(ext)
	}
	th.advance(time.Second)
	checkResent(t, th.nack(testSSRC, 149, 150), []int{65536 + 149})
}

// A packet is sent again at most once per round trip (plus minResend),
// however often the player asks.
func TestHistorySpacing(t *testing.T) {
	th := newTestHistory(t, 256)
	for ext := range 50 {
		th.send(ext)
	}
	checkResent(t, th.nack(testSSRC, 10), []int{10})
	checkResent(t, th.nack(testSSRC, 10, 11), []int{11})
	th.advance(minResend)
	checkResent(t, th.nack(testSSRC, 10, 11), []int{10, 11})
}

// A sender writing while NACKs are answered on another goroutine: every
// packet sent again is whole and the one asked for (run with -race).
func TestHistoryConcurrent(t *testing.T) {
	th := newTestHistory(t, 128)
	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ext := range n {
			th.send(65000 + ext)
		}
	}()
	var got int
	for k := 0; ; k++ {
		select {
		case <-done:
			if got == 0 {
				t.Fatal("no NACK was answered while the sender wrote")
			}
			return
		default:
		}
		th.mu.Lock()
		top := 65000 + th.sent - 1
		th.mu.Unlock()
		th.advance(time.Second)
		var seqs []uint16
		for ext := top - 40; ext <= top; ext += 3 {
			seqs = append(seqs, uint16(ext))
		}
		for _, p := range th.nack(testSSRC, seqs...) {
			ext := int(binary.BigEndian.Uint32(p.Payload))
			checkResent(t, []*rtp.Packet{p}, []int{ext})
			got++
		}
	}
}

// resentBytes is the RTP bytes (header and payload) of pkts.
func resentBytes(pkts []*rtp.Packet) int {
	n := 0
	for _, p := range pkts {
		n += rtpHeaderSize + len(p.Payload)
	}
	return n
}

// A viewer that asks for every packet the ring holds, again and again,
// gets no more than NACK_SHARE of the stream's bytes (plus the burst),
// and the refusals are counted; yet it does get that much: the budget is
// spent, not withheld.
func TestHistoryBudgetGreedy(t *testing.T) {
	th := newTestHistory(t, 256)
	th.plen = 1000
	share := Config{}.withDefaults().NACKShare
	var resent int
	const n = 6000
	for ext := range n {
		th.send(ext)
		if ext%10 != 9 {
			continue
		}
		th.advance(10 * time.Millisecond)
		var seqs []uint16
		for k := max(0, ext-255); k <= ext; k++ {
			seqs = append(seqs, uint16(k))
		}
		resent += resentBytes(th.nack(testSSRC, seqs...))
	}
	sent := n * (rtpHeaderSize + th.plen)
	limit := sent*share/100 + resendBurst
	t.Logf("sent %d bytes, sent again %d (limit %d), %d packets refused", sent, resent, limit, th.count.Refused.Load())
	if resent > limit {
		t.Fatalf("sent again %d bytes for %d sent: over %d %% plus %d", resent, sent, share, resendBurst)
	}
	if resent < limit*9/10 {
		t.Fatalf("sent again only %d bytes of a %d budget", resent, limit)
	}
	if th.count.Refused.Load() == 0 {
		t.Fatal("no refused retransmission was counted")
	}
}

// A viewer on a network that loses one packet in twenty (and one
// retransmission in twenty) gets every lost packet back, none refused.
func TestHistoryBudgetLossy(t *testing.T) {
	th := newTestHistory(t, 256)
	th.plen = 1000
	const n = 6000
	lost := map[uint16]bool{}
	got := 0
	for ext := range n {
		th.send(ext)
		th.advance(5 * time.Millisecond) // 200 packets a second
		if ext%20 == 7 {
			lost[uint16(ext)] = true
		}
		if ext%5 != 0 {
			continue
		}
		// The player asks for what it still lacks every 25 ms.
		var seqs []uint16
		for seq := range lost {
			seqs = append(seqs, seq)
		}
		if len(seqs) == 0 {
			continue
		}
		for i, p := range th.nack(testSSRC, seqs...) {
			if (got+i)%20 == 13 {
				continue // the retransmission is lost too
			}
			delete(lost, p.SequenceNumber)
		}
		got += len(seqs)
	}
	if len(lost) > 0 || th.count.Refused.Load() != 0 {
		t.Fatalf("%d lost packets never came back, %d retransmissions refused", len(lost), th.count.Refused.Load())
	}
}

// A packet sent again carries the CSRCs it was first sent with (a mixer's
// contributing sources), and one sent without carries none.
func TestHistoryKeepsCSRC(t *testing.T) {
	th := newTestHistory(t, 256)
	for ext := 10; ext < 20; ext++ {
		h := &rtp.Header{Version: 2, SSRC: testSSRC, PayloadType: 96, SequenceNumber: uint16(ext), Timestamp: uint32(ext) * 3000}
		if ext%2 == 0 {
			h.CSRC = []uint32{0xa0 + uint32(ext), 0xb0}
		}
		if _, err := th.w.Write(h, payloadOf(ext, th.plen), nil); err != nil {
			t.Fatal(err)
		}
		*h = rtp.Header{}
	}
	got := th.nack(testSSRC, 12, 13)
	if len(got) != 2 {
		t.Fatalf("sent again %d packets, want 2", len(got))
	}
	for _, p := range got {
		var want []uint32
		if p.SequenceNumber == 12 {
			want = []uint32{0xa0 + 12, 0xb0}
		}
		if fmt.Sprint(p.CSRC) != fmt.Sprint(want) {
			t.Errorf("packet %d sent again with CSRCs %v, want %v", p.SequenceNumber, p.CSRC, want)
		}
	}
}
