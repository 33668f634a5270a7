package stream

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// costlySink takes a set time of the writer per packet, as a slow send
// would, and remembers the sequence numbers it got.
type costlySink struct {
	cost *atomic.Int64 // ns per packet, shared by the test's sinks
	n    atomic.Int64
	last atomic.Int64 // sequence number of the last packet, +1; 0: none
	gaps atomic.Int64 // packets whose number did not follow the last
}

func (s *costlySink) WriteRTP(p *rtp.Packet) error {
	for start := time.Now(); time.Since(start) < time.Duration(s.cost.Load()); {
	}
	if l := s.last.Load(); l != 0 && uint16(l-1)+1 != p.SequenceNumber {
		s.gaps.Add(1)
	}
	s.last.Store(int64(p.SequenceNumber) + 1)
	s.n.Add(1)
	return nil
}

// pacedWriter returns what writes n packets to each of tracks, in that
// order, 100 a second: packet seq of track i starts a keyframe when
// key(i, seq) says so.
func pacedWriter(key func(i int, seq uint16) bool, tracks ...*Track) func(n int) {
	var seq uint16
	return func(n int) {
		for range n {
			for i, tr := range tracks {
				if key(i, seq) {
					tr.Write(keyPkt(seq, uint32(seq)*3000))
				} else {
					tr.Write(interPkt(seq, uint32(seq)*3000))
				}
			}
			seq++
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// everyTenth makes every tenth packet a keyframe start.
func everyTenth(_ int, seq uint16) bool { return seq%10 == 0 }

// packetsOver returns how many packets each sink got while write(n) ran.
func packetsOver(sinks []*costlySink, write func(int), n int) []int64 {
	before := make([]int64, len(sinks))
	for i, s := range sinks {
		before[i] = s.n.Load()
	}
	write(n)
	got := make([]int64, len(sinks))
	for i, s := range sinks {
		got[i] = s.n.Load() - before[i]
	}
	return got
}

// When a stream's writer cannot send its video to every viewer, the
// viewers who joined first keep every packet and the newest lose theirs,
// new viewers are refused meanwhile, and once the writer can keep up
// again everyone is served, the shed viewers from a keyframe on with no
// gap in their sequence numbers.
func TestWriterShedsNewestViewers(t *testing.T) {
	h := newTestHub(t, Config{OverloadLag: 200 * time.Millisecond, KeyframeRequestInterval: time.Hour})
	tr := publishVideo(t, h, vp8Codec, nil)
	var cost atomic.Int64
	const viewers = 24 // one writer (sharding starts above 32)
	sinks := make([]*costlySink, viewers)
	for i := range sinks {
		sinks[i] = &costlySink{cost: &cost}
		tr.Subscribe(sinks[i])
	}
	write := pacedWriter(everyTenth, tr)
	write(50)
	for i, s := range sinks {
		if s.n.Load() == 0 {
			t.Fatalf("viewer %d got nothing before the overload", i)
		}
	}

	// 24 viewers × 1 ms × 100 packets/s: 2.4 times what the writer can do.
	cost.Store(int64(time.Millisecond))
	write(150) // the writer settles
	if h.Admit() == nil {
		t.Error("a new viewer was admitted while viewers are shed")
	}
	got := packetsOver(sinks, write, 200)
	t.Logf("packets per viewer over 200 sent, in the order they joined: %v", got)
	for i := range 3 {
		if got[i] < 170 {
			t.Errorf("viewer %d, among the first to join, got %d of 200 packets", i, got[i])
		}
	}
	for i := viewers - 3; i < viewers; i++ {
		if got[i] > 100 {
			t.Errorf("viewer %d, among the last to join, got %d of 200 packets; want it shed", i, got[i])
		}
	}
	if st := h.Overload(); st.Shed == 0 {
		t.Error("no shed packets counted")
	}

	// The load goes: everyone is served again.
	cost.Store(0)
	gaps := make([]int64, viewers)
	for i, s := range sinks {
		gaps[i] = s.gaps.Load()
	}
	write(300)
	for i, d := range packetsOver(sinks, write, 50) {
		if d < 45 {
			t.Errorf("viewer %d got %d of the last 50 packets once the load went", i, d)
		}
	}
	for i, s := range sinks {
		if g := s.gaps.Load() - gaps[i]; g != 0 {
			t.Errorf("viewer %d: %d gaps in its sequence numbers after it was shed", i, g)
		}
	}
}

// The limit moves only on a sustained lag: one late wake-up (the machine
// stalled a moment) cuts nothing; a lag that keeps growing cuts; a lag
// that falls, while still high, cuts no more; a low lag restores all.
func TestShedOnlyWhileBehind(t *testing.T) {
	const ms = int64(time.Millisecond)
	s := shedding{lagLimit: 250 * ms}
	now := 10_000 * ms
	wake := func(lag int64) bool {
		now += 10 * ms
		shed := s.adjust(now-lag, now)
		s.ran(100) // the wake-up's run: 100 video subscribers
		return shed
	}
	if wake(400 * ms) {
		t.Fatal("one late wake-up shed viewers")
	}
	for range 20 {
		if wake(5 * ms) {
			t.Fatal("a caught-up writer shed viewers")
		}
	}
	lag := 300 * ms
	for range 30 {
		lag += 5 * ms
		wake(lag)
	}
	if s.limit == 0 || s.limit >= 100 {
		t.Fatalf("limit %d after 300 ms of a growing lag", s.limit)
	}
	for range 15 { // the step that straddles the peak may still cut
		lag -= 5 * ms
		wake(lag)
	}
	cut := s.limit
	for range 15 {
		lag -= 5 * ms
		wake(lag)
	}
	if s.limit != cut {
		t.Fatalf("limit %d -> %d while the lag fell", cut, s.limit)
	}
	for range 400 {
		wake(5 * ms)
	}
	if s.limit != 0 {
		t.Fatalf("limit %d after 4 s without a lag, want all served", s.limit)
	}
}
