package session

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/httpx"
)

// browserOffer is a typical WHIP offer: BUNDLE, one msid, Opus + VP8/H264.
const browserOffer = "v=0\r\n" +
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0 1\r\n" +
	"a=msid-semantic: WMS s1\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=sendonly\r\n" +
	"a=msid:s1 a1\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:1\r\n" +
	"a=sendonly\r\n" +
	"a=msid:s1 v1\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"a=rtcp-fb:96 nack pli\r\n" +
	"a=rtpmap:97 rtx/90000\r\n" +
	"a=fmtp:97 apt=96\r\n" +
	"a=rtpmap:102 H264/90000\r\n" +
	"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"

func status(err error) int {
	var he *httpx.Error
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

func TestParseOffer(t *testing.T) {
	good, err := ParseOffer([]byte(browserOffer))
	if err != nil {
		t.Fatalf("browser offer: %v", err)
	}
	if len(good.Media) != 2 || good.Media[1].Kind != "video" || good.Media[1].Direction != "sendonly" {
		t.Fatalf("parsed media: %+v", good.Media)
	}
	if got := good.Media[1].CodecNames(); strings.Join(got, ",") != "VP8,H264" {
		t.Fatalf("video codecs %v", got)
	}
	if c, ok := PickCodec(&good.Media[1]); !ok || c.MimeType != "video/VP8" || c.PayloadType != 96 {
		t.Fatalf("picked %+v %v", c, ok)
	}
	replace := func(old, new string) string { return strings.Replace(browserOffer, old, new, 1) }
	twoVideo := strings.Replace(browserOffer, "m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "m=video 9 UDP/TLS/RTP/SAVPF 111 0", 1)
	cases := []struct {
		name, sdp string
		status    int
	}{
		{"empty", "", 400},
		{"not sdp", "hello world", 400},
		{"truncated", "v=1\r\nfoo", 400},
		{"binary", "v=0\r\n\x00\x01\x02", 400},
		{"garbage line", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video\r\n", 400},
		{"two video sections (C7)", twoVideo, 422},
		{"data channel", replace("m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel"), 422},
		{"two MediaStreams (C7)", replace("a=msid:s1 v1", "a=msid:s2 v1"), 422},
		{"not bundled", replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0"), 422},
		{"no rtcp-mux", strings.Replace(browserOffer, "a=rtcp-mux\r\n", "", 1), 422},
		{"too many lines (H3)", browserOffer + strings.Repeat("a=x-filler:1\r\n", 1001), 422},
		{"long line (H3)", browserOffer + "a=x-long:" + strings.Repeat("a", 5000) + "\r\n", 422},
		{"500 m-lines (H3)", browserOffer + strings.Repeat("m=video 9 UDP/TLS/RTP/SAVPF 96\r\n", 500), 422},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseOffer([]byte(c.sdp))
			if got := status(err); got != c.status {
				t.Fatalf("status %d (%v), want %d", got, err, c.status)
			}
		})
	}
}

func TestRequireDirections(t *testing.T) {
	for _, c := range []struct {
		dir     string
		whip    bool
		whepOK  bool
		comment string
	}{
		{"sendonly", true, false, "C9/C36"},
		{"sendrecv", true, true, "C9/C36"},
		{"recvonly", false, true, "C9"},
		{"inactive", false, false, "C9/C36"},
	} {
		o, err := ParseOffer([]byte(strings.ReplaceAll(browserOffer, "a=sendonly", "a="+c.dir)))
		if err != nil {
			t.Fatal(err)
		}
		if err := o.RequireDirections("WHIP", "sendonly", "sendrecv"); (err == nil) != c.whip {
			t.Errorf("WHIP %s: err=%v", c.dir, err)
		} else if err != nil && status(err) != http.StatusUnprocessableEntity {
			t.Errorf("WHIP %s: status %d", c.dir, status(err))
		}
		if err := o.RequireDirections("WHEP", "recvonly", "sendrecv"); (err == nil) != c.whepOK {
			t.Errorf("WHEP %s: err=%v", c.dir, err)
		}
	}
}

func TestPickCodecPrefersH264Mode1(t *testing.T) {
	m := &Media{Kind: "video", Codecs: []OfferedCodec{
		{PayloadType: 100, MimeType: "video/H264", Fmtp: "packetization-mode=0;profile-level-id=42e01f"},
		{PayloadType: 101, MimeType: "video/H264", Fmtp: "packetization-mode=1;profile-level-id=42e01f"},
	}}
	if c, ok := PickCodec(m); !ok || c.PayloadType != 101 {
		t.Fatalf("picked %+v", c)
	}
	m.Codecs = m.Codecs[:1]
	if c, ok := PickCodec(m); !ok || c.PayloadType != 100 {
		t.Fatalf("mode 0 fallback: %+v", c)
	}
	m.Codecs = []OfferedCodec{{PayloadType: 100, MimeType: "video/MP4V-ES"}}
	if _, ok := PickCodec(m); ok {
		t.Fatal("picked a codec wishcast cannot forward")
	}
}

func TestParseFragment(t *testing.T) {
	f, err := ParseFragment([]byte("a=ice-ufrag:u\r\na=ice-pwd:p\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Ufrag != "u" || f.Pwd != "p" || len(f.Candidates) != 1 || f.Candidates[0].Mid != "0" || !f.EndOfCandidates {
		t.Fatalf("parsed %+v", f)
	}
	for _, bad := range []string{"\x00\x01", "hello", "a=candidate:garbage", "a=ice-ufrag:u\r\n"} {
		if _, err := ParseFragment([]byte(bad)); status(err) != http.StatusBadRequest {
			t.Errorf("%q: %v, want 400", bad, err)
		}
	}
}

func TestUsableCandidates(t *testing.T) {
	for c, want := range map[string]bool{
		"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host":             true,
		"candidate:1 1 udp 2130706431 192.168.1.9 5000 typ host":           true,
		"candidate:1 1 udp 2130706431 169.254.169.254 80 typ host":         false,
		"candidate:1 1 udp 2130706431 fe80::1 5000 typ host":               false,
		"candidate:1 1 udp 2130706431 abcd-1234.local 5000 typ host":       false,
		"candidate:1 1 udp 2130706431 example.com 5000 typ host":           false,
		"candidate:1 1 tcp 2130706431 127.0.0.1 9 typ host tcptype active": false,
	} {
		if got := usable(Candidate{Value: c}, false); got != want {
			t.Errorf("%s: usable=%v, want %v", c, got, want)
		}
	}
}

func FuzzParseOffer(f *testing.F) {
	f.Add([]byte(browserOffer))
	f.Add([]byte("v=0\r\n"))
	f.Add([]byte(strings.ReplaceAll(browserOffer, "a=sendonly", "a=recvonly")))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOffer(b)
		if err != nil {
			if s := status(err); s != 400 && s != 422 {
				t.Fatalf("status %d for a bad offer: %v", s, err)
			}
			return
		}
		if len(o.Media) == 0 || len(o.Media) > 2 {
			t.Fatalf("accepted %d media sections", len(o.Media))
		}
		for i := range o.Media {
			PickCodec(&o.Media[i])
		}
		_ = o.RequireDirections("WHIP", "sendonly", "sendrecv")
		// What the checks let through must not upset pion either.
		pc, err := fuzzAPI.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		_ = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP})
	})
}

// fuzzAPI is a socket-free pion API for fuzzing offers into pion.
var fuzzAPI = func() *webrtc.API {
	m := &webrtc.MediaEngine{}
	_ = m.RegisterDefaultCodecs()
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(0)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}()

func FuzzParseFragment(f *testing.F) {
	f.Add([]byte("a=ice-ufrag:u\r\na=ice-pwd:p\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n"))
	f.Add([]byte("a=end-of-candidates\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		frag, err := ParseFragment(b)
		if err != nil {
			if s := status(err); s != 400 {
				t.Fatalf("status %d: %v", s, err)
			}
			return
		}
		for _, c := range frag.Candidates {
			usable(c, true)
		}
	})
}

func TestSameCodecParameters(t *testing.T) {
	for _, c := range []struct {
		offered, stream string
		mime            string
		want            bool
	}{
		{"packetization-mode=1;profile-level-id=42e01f", "packetization-mode=1;profile-level-id=640c1f", "video/H264", true},
		{"packetization-mode=0", "packetization-mode=1", "video/H264", false},
		{"", "packetization-mode=0", "video/H264", true},
		{"level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST", "level-id=153;profile-id=1;tier-flag=0;tx-mode=SRST", "video/H265", true},
		{"level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST", "level-id=93;profile-id=2;tier-flag=0;tx-mode=SRST", "video/H265", false},
		{"profile-id=0", "", "video/VP9", true},
		{"profile-id=2", "profile-id=0", "video/VP9", false},
		{"minptime=10", "minptime=10;useinbandfec=1", "audio/opus", true},
	} {
		got := sameCodec(OfferedCodec{MimeType: c.mime, Fmtp: c.offered}, c.mime, c.stream)
		if got != c.want {
			t.Errorf("%s offered %q for stream %q: %v, want %v", c.mime, c.offered, c.stream, got, c.want)
		}
	}
}

// The answer's first H.264 payload type, the one the viewer is sent, names
// the stream's own profile when the offer has it.
func TestMatchingPrefersStreamProfile(t *testing.T) {
	m := &Media{Kind: "video", Codecs: []OfferedCodec{
		{PayloadType: 102, MimeType: "video/H264", Fmtp: "packetization-mode=1;profile-level-id=42001f"},
		{PayloadType: 103, MimeType: "video/rtx", Fmtp: "apt=102"},
		{PayloadType: 106, MimeType: "video/H264", Fmtp: "packetization-mode=1;profile-level-id=42e01f"},
		{PayloadType: 108, MimeType: "video/H264", Fmtp: "packetization-mode=1;profile-level-id=4d001f"},
		{PayloadType: 112, MimeType: "video/H264", Fmtp: "packetization-mode=1;profile-level-id=64001f"},
		{PayloadType: 127, MimeType: "video/H264", Fmtp: "packetization-mode=0;profile-level-id=640c1f"},
	}}
	for stream, first := range map[string]int{
		"packetization-mode=1;profile-level-id=640c1f": 112, // High
		"packetization-mode=1;profile-level-id=42c01e": 106, // Constrained Baseline
		"packetization-mode=1;profile-level-id=4d0029": 108, // Main
		"packetization-mode=1;profile-level-id=42001e": 102, // Baseline
		"packetization-mode=1":                         102, // unknown: offer order
	} {
		got := m.Matching("video/H264", stream)
		if len(got) != 5 || int(got[0].PayloadType) != first || got[4].MimeType != "video/rtx" {
			var pts []int
			for _, c := range got {
				pts = append(pts, int(c.PayloadType))
			}
			t.Errorf("stream %q: payload types %v, want %d first, four H.264 then the RTX", stream, pts, first)
		}
	}
}

// ffmpegVideoOnly is the shape of FFmpeg 8's WHIP offer without an audio
// input: a BUNDLE group naming a mid (0) that no section has.
const ffmpegVideoOnly = "v=0\r\n" +
	"o=FFmpeg 4489045141692799359 2 IN IP4 127.0.0.1\r\n" +
	"s=FFmpegPublishSession\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0 1\r\n" +
	"a=extmap-allow-mixed\r\n" +
	"a=msid-semantic: WMS\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 106\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:a0c4\r\n" +
	"a=ice-pwd:0d4a2f76c9a43e8e6bde1f0d\r\n" +
	"a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n" +
	"a=setup:passive\r\n" +
	"a=mid:1\r\n" +
	"a=sendonly\r\n" +
	"a=msid:FFmpeg video\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:106 H264/90000\r\n" +
	"a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n" +
	"a=ssrc:2216165337 cname:FFmpeg\r\n" +
	"a=ssrc:2216165337 msid:FFmpeg video\r\n"

// A BUNDLE group that names a mid no section has is read leniently: the
// unknown mid is dropped, the rest of the offer stays as sent.
func TestBundleNamesMissingMid(t *testing.T) {
	o, err := ParseOffer([]byte(ffmpegVideoOnly))
	if err != nil {
		t.Fatalf("FFmpeg's video-only offer: %v", err)
	}
	if !strings.Contains(o.SDP, "a=group:BUNDLE 1\r\n") || strings.Contains(o.SDP, "BUNDLE 0") {
		t.Fatalf("BUNDLE group not pruned:\n%s", o.SDP)
	}
	if len(o.Media) != 1 || o.Media[0].Mid != "1" || o.Media[0].Codecs[0].PayloadType != 106 {
		t.Fatalf("media %+v", o.Media)
	}
	// Nothing to prune: the offer is kept byte for byte.
	o, err = ParseOffer([]byte(browserOffer))
	if err != nil || o.SDP != browserOffer {
		t.Fatalf("a well-formed offer was rewritten (%v)", err)
	}
}

// An offer pion would refuse with "called with no ice-ufrag" is refused
// with a sentence about the offer itself.
func TestOfferMissingICECredentials(t *testing.T) {
	for _, key := range []string{"ice-ufrag", "ice-pwd", "fingerprint"} {
		var b strings.Builder
		for line := range strings.SplitSeq(ffmpegVideoOnly, "\r\n") {
			if line != "" && !strings.HasPrefix(line, "a="+key+":") {
				b.WriteString(line + "\r\n")
			}
		}
		_, err := ParseOffer([]byte(b.String()))
		if status(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "a="+key) {
			t.Errorf("offer without a=%s: %v; want 400 naming it", key, err)
		}
	}
}
