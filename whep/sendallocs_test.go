package whep

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/stream"
)

// allocsUnder returns the allocations recorded so far (MemProfileRate 1)
// whose stack passes through a function named one of fns, except refills
// of a sync.Pool (which the race detector empties on purpose).
func allocsUnder(fns ...string) int64 {
	// The profile is as of two collections ago.
	runtime.GC()
	runtime.GC()
	n, _ := runtime.MemProfile(nil, true)
	recs := make([]runtime.MemProfileRecord, n+64)
	n, _ = runtime.MemProfile(recs, true)
	var sum int64
	for _, r := range recs[:n] {
		frames := runtime.CallersFrames(r.Stack())
		pooled, under := false, false
		for {
			f, more := frames.Next()
			pooled = pooled || f.Function == "sync.(*Pool).Get"
			for _, fn := range fns {
				under = under || strings.HasSuffix(f.Function, fn)
			}
			if !more {
				break
			}
		}
		if under && !pooled {
			sum += r.AllocObjects
		}
	}
	return sum
}

// sendPath names the functions that sending a packet to a viewer runs
// under: the viewer's sink, and the batched socket's flush (the writer
// flushes after the sinks, outside them).
var sendPath = []string{".(*sendTrack).WriteRTP", "session.(*BatchConn).flushLocked"}

// TestSendAllocatesNothing: once a viewer is connected, sending it packets
// allocates nothing, all the way from its sendTrack through pion's
// interceptors, SRTP, DTLS/ICE plumbing and UDP mux to the batched socket
// and its sendmmsg.
func TestSendAllocatesNothing(t *testing.T) {
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	runtime.MemProfileRate = 1
	// A busy machine's pause (profiling every allocation, under -race) is
	// not a stalled viewer: a stalled one sends without batches.
	e := newTestEnv(t, stream.Config{StallTimeout: 10 * time.Second})
	pub, err := e.hub.Publish("cam", []stream.TrackInfo{{Kind: stream.Video, Codec: stream.Codec{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}}})
	if err != nil {
		t.Fatal(err)
	}
	video := pub.Track(stream.Video)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			video.Write(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(n), Timestamp: uint32(n) * 900, SSRC: 1},
				Payload: append(vp8Frame(n%500 == 0, n), make([]byte, 1000)...)})
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
		pub.Close()
	}()
	v := newTestViewer(t, webrtc.RTPTransceiverDirectionRecvonly)
	resp, body := v.view(t, e, "cam")
	v.answered(t, resp, body)
	next(t, v.video, 10*time.Second, "video")
	for len(v.video) < 500 { // the connection's first packets (pools, states) are made
		time.Sleep(10 * time.Millisecond)
	}
	for len(v.video) > 0 { // count only packets sent from here on
		<-v.video
	}
	before := allocsUnder(sendPath...)
	sends := e.api.Batcher().Stats()
	const packets = 1000
	deadline := time.Now().Add(20 * time.Second)
	for got := 0; got < packets; {
		select {
		case <-v.video:
			got++
		case <-time.After(time.Until(deadline)):
			t.Fatalf("%d of %d packets", got, packets)
		}
	}
	n := allocsUnder(sendPath...) - before
	if n > packets/20 {
		t.Fatalf("sending %d packets allocated %d objects", packets, n)
	}
	// Packets in flight when sends was read count as received, not sent.
	if got := e.api.Batcher().Stats().Batched - sends.Batched; got < packets*9/10 {
		t.Fatalf("%d of %d packets went out through sendmmsg", got, packets)
	}
	t.Logf("%d packets sent, %d allocations on their way", packets, n)
}
