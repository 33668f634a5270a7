package whep

import (
	"flag"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/stream"
)

var (
	viewerHeapProfile = flag.String("viewerheap.profile", "", "write a heap profile with the viewers of TestViewerHeap connected to this file")
	viewerGoroutines  = flag.String("viewerheap.goroutines", "", "write the goroutines with the viewers of TestViewerHeap connected to this file")
)

// countingViewer is a testViewer that counts the packets it receives.
type countingViewer struct {
	testViewer
	packets atomic.Int64
}

// plainViewer returns a recvonly audio+video pion viewer without
// interceptors, so that what a connected viewer costs is mostly the
// server's side of it.
func plainViewer(t *testing.T) *countingViewer {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	v := &countingViewer{testViewer: testViewer{pc: pc}}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			v.videoSSRC.Store(uint32(tr.SSRC()))
		}
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
			v.packets.Add(1)
		}
	})
	return v
}

// TestViewerHeap connects viewers to one live stream and reports the Go
// heap each connected viewer adds (the server's session and the plain
// pion client's peer connection together), once media flows to all of
// them. Issue 16 bounds a viewer's resident memory at 250 KB; the heap of
// both ends must stay well under that.
func TestViewerHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("connects many viewers")
	}
	if raceEnabled {
		t.Skip("the race detector enlarges what is measured")
	}
	const viewers = 60
	if *viewerHeapProfile != "" {
		// Fine sampling, so that the profile tells apart what each
		// viewer holds.
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 2048
		t.Cleanup(func() { runtime.MemProfileRate = old })
	}
	e := newTestEnv(t, stream.Config{})
	publish(t, e.hub, "live/cam")
	cached(t, e.hub, "live/cam")
	// One viewer first, so that what every session shares exists before
	// the measurement starts.
	warm := plainViewer(t)
	resp, body := warm.view(t, e, "live/cam")
	warm.answered(t, resp, body)
	eventually(t, 10*time.Second, "video at the first viewer", func() bool { return warm.videoSSRC.Load() != 0 })

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	vs := make([]*countingViewer, viewers)
	for i := range vs {
		vs[i] = plainViewer(t)
		resp, body := vs[i].view(t, e, "live/cam")
		vs[i].answered(t, resp, body)
	}
	for _, v := range vs {
		eventually(t, 20*time.Second, "video at every viewer", func() bool { return v.videoSSRC.Load() != 0 })
	}
	// Steady state: handshakes over, buffers at their working size; every
	// viewer has had about 2 s more of audio and video.
	from := make([]int64, viewers)
	for i, v := range vs {
		from[i] = v.packets.Load()
	}
	for i, v := range vs {
		eventually(t, 20*time.Second, "2 s more media at every viewer", func() bool { return v.packets.Load() >= from[i]+200 })
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / viewers
	stacks := float64(int64(after.StackInuse)-int64(before.StackInuse)) / viewers
	t.Logf("per connected viewer (server and client): heap %.0f B, goroutine stacks %.0f B; goroutines %d", per, stacks, runtime.NumGoroutine())
	if *viewerHeapProfile != "" {
		f, err := os.Create(*viewerHeapProfile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	if *viewerGoroutines != "" {
		f, err := os.Create(*viewerGoroutines)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("goroutine").WriteTo(f, 1); err != nil {
			t.Fatal(err)
		}
	}
	if per > 370<<10 {
		t.Errorf("a connected viewer holds %.0f B of heap, want at most %d", per, 370<<10)
	}
	runtime.KeepAlive(vs)
}
