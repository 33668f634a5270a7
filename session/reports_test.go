package session

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// rtcpSink records what an interceptor writes as RTCP.
type rtcpSink struct {
	mu  sync.Mutex
	got []*rtcp.SenderReport
}

func (s *rtcpSink) Write(pkts []rtcp.Packet, _ interceptor.Attributes) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pkts {
		if sr, ok := p.(*rtcp.SenderReport); ok {
			s.got = append(s.got, sr)
		}
	}
	return 0, nil
}

func (s *rtcpSink) reports() []*rtcp.SenderReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*rtcp.SenderReport(nil), s.got...)
}

// A stream's sender report counts what was sent and maps the RTP clock to
// the wall clock: its RTP time is the newest frame's timestamp moved on
// by the time since that frame, and its NTP time is now. Nothing is
// reported before the first packet nor after Close, and the shared loop
// ends with the last connection.
func TestSenderReports(t *testing.T) {
	lf := NewLoggerFactory(nil)
	f := newSenderReports(20*time.Millisecond, lf)
	var mu sync.Mutex
	clock := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	it, err := f.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	sink := &rtcpSink{}
	it.BindRTCPWriter(sink)
	w := it.BindLocalStream(&interceptor.StreamInfo{SSRC: 1234, ClockRate: 90000}, interceptor.RTPWriterFunc(
		func(*rtp.Header, []byte, interceptor.Attributes) (int, error) { return 0, nil }))

	time.Sleep(60 * time.Millisecond) // intervals without a packet: no report
	if n := len(sink.reports()); n != 0 {
		t.Fatalf("%d reports before the first packet", n)
	}
	// Three frames of 3600 ticks (40 ms), 2 packets each, 100 bytes.
	for i := range 6 {
		h := &rtp.Header{SequenceNumber: uint16(65534 + i), Timestamp: uint32(4294967000 + 3600*(i/2))}
		if _, err := w.Write(h, make([]byte, 100), nil); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			advance(40 * time.Millisecond)
		}
	}
	// A late packet of an older frame is counted, and moves nothing.
	if _, err := w.Write(&rtp.Header{SequenceNumber: 65533, Timestamp: 4294964000}, make([]byte, 50), nil); err != nil {
		t.Fatal(err)
	}
	advance(100 * time.Millisecond)
	// The loop may have reported before the last advance: take a report
	// made at the clock's final time.
	final := ntp64(clock)
	var sr *rtcp.SenderReport
	waitUntil(t, 5*time.Second, "a sender report", func() bool {
		for _, r := range sink.reports() {
			if r.NTPTime == final {
				sr = r
			}
		}
		return sr != nil
	})
	if sr.SSRC != 1234 || sr.PacketCount != 7 || sr.OctetCount != 650 {
		t.Errorf("report: SSRC %d, %d packets, %d bytes; want 1234, 7, 650", sr.SSRC, sr.PacketCount, sr.OctetCount)
	}
	// The newest frame (4294967000+7200, wrapped) went out 40 + 100 ms
	// before the report: 3600 + 9000 ticks later.
	if want := uint32(4294967000 + 7200 + 3600 + 9000 - 1<<32); sr.RTPTime != want {
		t.Errorf("RTP time %d, want %d", sr.RTPTime, want)
	}
	if want := ntp64(clock); sr.NTPTime != want {
		t.Errorf("NTP time %x, want %x", sr.NTPTime, want)
	}
	if got := ntp32(clock); uint32(sr.NTPTime>>16) != got {
		t.Errorf("the report's middle 32 bits %x are not what the NACK history reads as LSR %x", uint32(sr.NTPTime>>16), got)
	}

	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the loop to end with the last connection", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return !f.running
	})
	n := len(sink.reports())
	time.Sleep(60 * time.Millisecond)
	if m := len(sink.reports()); m != n {
		t.Errorf("%d reports after Close", m-n)
	}
}

// waitUntil polls cond until it holds, failing t after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A connection closed while its first stream is being bound is not left
// in the shared loop, which would then never end.
func TestSenderReportsCloseWhileBinding(t *testing.T) {
	f := newSenderReports(time.Hour, NewLoggerFactory(nil))
	nop := interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) { return 0, nil })
	for i := range 20000 {
		it, err := f.NewInterceptor("")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); it.BindLocalStream(&interceptor.StreamInfo{SSRC: uint32(i)}, nop) }()
		go func() { defer wg.Done(); _ = it.Close() }()
		wg.Wait()
		f.mu.Lock()
		n := len(f.conns)
		f.mu.Unlock()
		if n != 0 {
			t.Fatalf("after %d tries, a closed connection is still reported", i+1)
		}
	}
}

// A report a day and more after a stream's last packet still extrapolates
// its RTP time (modulo 2^32), where nanoseconds times the clock rate
// would overflow.
func TestSenderReportLongAfterLastPacket(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s := &reportStream{ssrc: 1, clockRate: 90000}
	s.sent(&rtp.Header{SequenceNumber: 1, Timestamp: 1000}, 100, func() time.Time { return at })
	later := 30 * time.Hour
	sr := s.report(at.Add(later))
	if want := uint32(1000 + uint64(later/time.Second)*90000); sr.RTPTime != want {
		t.Fatalf("RTP time %d after %s, want %d", sr.RTPTime, later, want)
	}
}
