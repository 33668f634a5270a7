package whep

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/stream"
)

// slowSink is a stream.Sink that takes d per packet.
type slowSink struct{ d time.Duration }

func (s slowSink) WriteRTP(*rtp.Packet) error {
	time.Sleep(s.d)
	return nil
}

// While the fan-out cannot keep up, a new viewer gets 503 with
// Retry-After and a sentence saying why, and is counted; the stream is
// left as it was.
func TestOverloadedServerRefusesViewers(t *testing.T) {
	e := newTestEnv(t, stream.Config{OverloadLag: 20 * time.Millisecond})
	pub, err := e.hub.Publish("cam", []stream.TrackInfo{{Kind: stream.Video, Codec: stream.Codec{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	video := pub.Track(stream.Video)
	sub := video.Subscribe(slowSink{2 * time.Millisecond})
	t.Cleanup(sub.Close)
	deadline := time.Now().Add(5 * time.Second)
	for n := 0; !e.hub.Overloaded(); n++ {
		if time.Now().After(deadline) {
			t.Fatal("the hub is not overloaded after 5 s of packets faster than its one viewer takes them")
		}
		video.Write(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: uint32(n) * 900, SSRC: 1}, Payload: vp8Frame(n == 0, n)})
		if n%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	v := newTestViewer(t, webrtc.RTPTransceiverDirectionRecvonly)
	resp, body := v.view(t, e, "cam")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" || !strings.Contains(body, "too busy") {
		t.Fatalf("viewer of an overloaded server: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if st := e.hub.Overload(); st.Refused != 1 {
		t.Fatalf("overload stats %+v, want one refusal", st)
	}
	if n := e.hub.Viewers("cam"); n != 0 {
		t.Fatalf("the refused viewer left %d leases", n)
	}
}
