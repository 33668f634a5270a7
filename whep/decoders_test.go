package whep

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/stream"
)

// decodersSource is an on-demand source that records what the viewer who
// started it decodes, and cannot start.
type decodersSource struct {
	mu  sync.Mutex
	got [][]string
}

func (s *decodersSource) Start(ctx context.Context, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, stream.Decoders(ctx))
	return errors.New("nobody publishes here")
}

func (s *decodersSource) Stop(string) {}

// An on-demand source started by a viewer learns the video codecs of the
// viewer's offer, in the viewer's order, without RTX and FEC: a person's
// page can then send one the viewer decodes (a browser without H.264).
func TestViewerDecodersReachTheSource(t *testing.T) {
	e := newTestEnv(t, stream.Config{})
	src := &decodersSource{}
	e.hub.AddSource("users/", src)

	m := &webrtc.MediaEngine{}
	for i, c := range []webrtc.RTPCodecCapability{
		{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"},
		{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"},
	} {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: c, PayloadType: webrtc.PayloadType(96 + i)}, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	v := &testViewer{pc: pc}
	resp, body := v.view(t, e, "users/bob")
	if resp.StatusCode == http.StatusCreated {
		t.Fatalf("a stream nobody publishes answered %d %s", resp.StatusCode, body)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.got) != 1 || !slices.Equal(src.got[0], []string{"VP9", "VP8"}) {
		t.Fatalf("the source learned %q; want [[VP9 VP8]] (the viewer's offer, in its order)", src.got)
	}
}
