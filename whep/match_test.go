package whep

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// section is one m-line of a hand-written offer.
type section struct {
	kind   string   // "audio" or "video"
	rtpmap []string // "96 VP8/90000", in preference order
	fmtp   []string // "96 packetization-mode=1"
}

// offer builds a recvonly WHEP offer that session.ParseOffer accepts: one
// MediaStream, BUNDLE over every section, rtcp-mux.
func offer(t *testing.T, sections ...section) *session.Offer {
	t.Helper()
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:ufrg\r\na=ice-pwd:passwordpasswordpassword\r\na=fingerprint:sha-256 00:11\r\na=group:BUNDLE")
	for i := range sections {
		fmt.Fprintf(&b, " %d", i)
	}
	b.WriteString("\r\n")
	for i, s := range sections {
		var pts []string
		for _, m := range s.rtpmap {
			pt, _, _ := strings.Cut(m, " ")
			pts = append(pts, pt)
		}
		fmt.Fprintf(&b, "m=%s 9 UDP/TLS/RTP/SAVPF %s\r\nc=IN IP4 0.0.0.0\r\na=mid:%d\r\na=recvonly\r\na=rtcp-mux\r\n", s.kind, strings.Join(pts, " "), i)
		for _, m := range s.rtpmap {
			fmt.Fprintf(&b, "a=rtpmap:%s\r\n", m)
		}
		for _, f := range s.fmtp {
			fmt.Fprintf(&b, "a=fmtp:%s\r\n", f)
		}
	}
	o, err := session.ParseOffer([]byte(b.String()))
	if err != nil {
		t.Fatalf("test offer: %v\n%s", err, b.String())
	}
	return o
}

// published returns the tracks of a stream published on a fresh hub with
// the given codecs, audio then video as a lease lists them.
func published(t *testing.T, codecs ...stream.Codec) []*stream.Track {
	t.Helper()
	hub := stream.NewHub(stream.Config{}, nil)
	t.Cleanup(hub.Close)
	var infos []stream.TrackInfo
	for _, c := range codecs {
		k := stream.Audio
		if strings.HasPrefix(c.MimeType, "video/") {
			k = stream.Video
		}
		infos = append(infos, stream.TrackInfo{Kind: k, Codec: c})
	}
	pub, err := hub.Publish("live/match", infos)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	var out []*stream.Track
	for _, k := range []stream.Kind{stream.Audio, stream.Video} {
		if tr := pub.Track(k); tr != nil {
			out = append(out, tr)
		}
	}
	return out
}

var (
	opusCodec = stream.Codec{MimeType: "audio/opus", ClockRate: 48000, Channels: 2, Fmtp: "minptime=10;useinbandfec=1"}
	vp8Codec  = stream.Codec{MimeType: "video/VP8", ClockRate: 90000}
	h264Codec = stream.Codec{MimeType: "video/H264", ClockRate: 90000, Fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}

	aacCodec    = stream.Codec{MimeType: "audio/MPEG4-GENERIC", ClockRate: 48000, Channels: 2, Fmtp: "config=1190;mode=AAC-hbr"}
	opusSection = section{kind: "audio", rtpmap: []string{"111 opus/48000/2"}}
	vp8Section  = section{kind: "video", rtpmap: []string{"96 VP8/90000", "97 rtx/90000"}, fmtp: []string{"97 apt=96"}}
)

// match pairs each stream track with the offer's section of its kind, and
// refuses with 422 naming both sides what the viewer could not play.
func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stream  []stream.Codec
		offer   []section
		want    []stream.Kind // the plan, if no error
		wantErr []string      // substrings of the 422 detail
	}{
		{name: "both kinds", stream: []stream.Codec{opusCodec, vp8Codec}, offer: []section{opusSection, vp8Section},
			want: []stream.Kind{stream.Audio, stream.Video}},
		{name: "viewer takes video only", stream: []stream.Codec{opusCodec, vp8Codec}, offer: []section{vp8Section},
			want: []stream.Kind{stream.Video}},
		{name: "H.264 offered among others", stream: []stream.Codec{h264Codec},
			offer: []section{{kind: "video", rtpmap: []string{"96 VP8/90000", "102 H264/90000"}, fmtp: []string{"102 packetization-mode=1;profile-level-id=42001f"}}},
			want:  []stream.Kind{stream.Video}},
		{name: "offer lacks the stream's codec", stream: []stream.Codec{opusCodec, h264Codec},
			offer:   []section{opusSection, {kind: "video", rtpmap: []string{"96 VP8/90000", "98 VP9/90000", "97 rtx/90000"}, fmtp: []string{"97 apt=96"}}},
			wantErr: []string{`stream "live/x" sends video H264`, "the offer's video section has VP8, VP9"}},
		{name: "H.264 in another packetization mode", stream: []stream.Codec{h264Codec},
			offer:   []section{{kind: "video", rtpmap: []string{"102 H264/90000"}, fmtp: []string{"102 packetization-mode=0;profile-level-id=42001f"}}},
			wantErr: []string{`stream "live/x" sends video H264`, "the offer's video section has H264"}},
		{name: "AAC left out without a transcoder, video plays", stream: []stream.Codec{aacCodec, vp8Codec}, offer: []section{opusSection, vp8Section},
			want: []stream.Kind{stream.Video}},
		{name: "AAC only", stream: []stream.Codec{aacCodec}, offer: []section{opusSection},
			wantErr: []string{`stream "live/x" has audio AAC; the offer asks for none of it`}},
		{name: "nothing in common", stream: []stream.Codec{opusCodec}, offer: []section{vp8Section},
			wantErr: []string{`stream "live/x" has audio opus; the offer asks for none of it`}},
		{name: "video stream, audio offer", stream: []stream.Codec{vp8Codec}, offer: []section{opusSection},
			wantErr: []string{`stream "live/x" has video VP8; the offer asks for none of it`}},
		{name: "audio section without the stream's codec", stream: []stream.Codec{opusCodec, vp8Codec},
			offer:   []section{{kind: "audio", rtpmap: []string{"0 PCMU/8000"}}},
			wantErr: []string{`stream "live/x" sends audio opus; the offer's audio section has PCMU`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := match("live/x", offer(t, tc.offer...), published(t, tc.stream...))
			if tc.wantErr != nil {
				var he *httpx.Error
				if !errors.As(err, &he) || he.Status != http.StatusUnprocessableEntity {
					t.Fatalf("match: %v, want a 422", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(he.Detail, w) {
						t.Errorf("detail %q lacks %q", he.Detail, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("match: %v", err)
			}
			var kinds []stream.Kind
			for _, tr := range plan {
				kinds = append(kinds, tr.Kind())
			}
			if fmt.Sprint(kinds) != fmt.Sprint(tc.want) {
				t.Errorf("plan %v, want %v", kinds, tc.want)
			}
		})
	}
}

// notLive turns the hub's refusals into what a WHEP player acts on: 409
// with Retry-After for a stream that is not live (WHEP §4.3.8), 400 for a
// name that can never be, 503 for anything else.
func TestNotLive(t *testing.T) {
	nle := &stream.NotLiveError{Name: "live/x", Reason: "on-demand source did not go live within 10s", RetryAfter: 7 * time.Second}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		retry  time.Duration
		detail string
	}{
		{"not live error", nle, http.StatusConflict, 7 * time.Second, `stream "live/x" is not live: on-demand source did not go live within 10s`},
		{"wrapped not live error", fmt.Errorf("acquire: %w", nle), http.StatusConflict, 7 * time.Second, "did not go live"},
		{"not live error without retry", &stream.NotLiveError{Name: "live/x", Reason: "no publisher"}, http.StatusConflict, 5 * time.Second, "is not live: no publisher"},
		{"plain not live", stream.ErrNotLive, http.StatusConflict, 5 * time.Second, `stream "live/x" is not live`},
		{"invalid name", stream.ValidateName("live/.x"), http.StatusBadRequest, 0, "invalid stream name"},
		{"hub closed", stream.ErrClosed, http.StatusServiceUnavailable, 5 * time.Second, "cannot view now"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var he *httpx.Error
			if !errors.As(notLive("live/x", tc.err), &he) {
				t.Fatalf("notLive(%v) is not an *httpx.Error", tc.err)
			}
			if he.Status != tc.status || he.RetryAfter != tc.retry {
				t.Errorf("status %d, Retry-After %s; want %d, %s", he.Status, he.RetryAfter, tc.status, tc.retry)
			}
			if !strings.Contains(he.Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", he.Detail, tc.detail)
			}
		})
	}
}

// match is plan without transcoding, on tracks: the tracks the viewer
// gets.
func match(name string, offer *session.Offer, tracks []*stream.Track) ([]*stream.Track, error) {
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	picks, err := h.plan(name, offer, statuses(tracks))
	if err != nil {
		return nil, err
	}
	out := make([]*stream.Track, len(picks))
	for i, p := range picks {
		out[i] = tracks[p.idx]
	}
	return out, nil
}
