package whep

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/stream"
)

// fakeTranscoder is a Transcoder of func fields.
type fakeTranscoder struct {
	targets func(stream.Codec) []stream.Codec
	check   func(name string) error
}

func (f fakeTranscoder) Targets(c stream.Codec) []stream.Codec { return f.targets(c) }
func (f fakeTranscoder) Name(source string, _, target stream.Codec) (string, bool) {
	return "transcode/" + strings.ToLower(codecName(target.MimeType)) + "/" + source, true
}
func (f fakeTranscoder) Check(name string) error { return f.check(name) }

// A track the offer lacks goes through the first transcode whose codec
// the offer has; when transcoding cannot start, the 422 says why.
func TestPlanTranscodes(t *testing.T) {
	h265 := stream.Codec{MimeType: "video/H265", ClockRate: 90000}
	tc := fakeTranscoder{
		targets: func(c stream.Codec) []stream.Codec {
			switch c.MimeType {
			case "video/H265":
				return []stream.Codec{h264Codec, vp8Codec}
			case "audio/MPEG4-GENERIC":
				return []stream.Codec{opusCodec}
			}
			return nil
		},
		check: func(string) error { return nil },
	}
	h264Section := section{kind: "video", rtpmap: []string{"102 H264/90000"}, fmtp: []string{"102 packetization-mode=1;profile-level-id=42e01f"}}
	for _, tc2 := range []struct {
		name    string
		stream  []stream.Codec
		offer   []section
		check   error
		want    []string // via of each pick
		wantErr []string
	}{
		{name: "H.265 to H.264", stream: []stream.Codec{h265}, offer: []section{h264Section}, want: []string{"transcode/h264/live/x"}},
		{name: "H.265 to VP8 without H.264", stream: []stream.Codec{h265}, offer: []section{vp8Section}, want: []string{"transcode/vp8/live/x"}},
		{name: "AAC to Opus, VP8 as it is", stream: []stream.Codec{aacCodec, vp8Codec}, offer: []section{opusSection, vp8Section},
			want: []string{"transcode/opus/live/x", ""}},
		{name: "FFmpeg missing", stream: []stream.Codec{h265}, offer: []section{vp8Section}, check: errors.New("FFmpeg is not installed"),
			wantErr: []string{"sends video H265", "cannot be transcoded to VP8: FFmpeg is not installed"}},
		{name: "no transcode to VP9", stream: []stream.Codec{h265}, offer: []section{{kind: "video", rtpmap: []string{"98 VP9/90000"}}},
			wantErr: []string{"sends video H265; the offer's video section has VP9"}},
	} {
		t.Run(tc2.name, func(t *testing.T) {
			f := tc
			f.check = func(string) error { return tc2.check }
			h := &Handler{log: slog.New(slog.DiscardHandler), tc: f}
			picks, err := h.plan("live/x", offer(t, tc2.offer...), statuses(published(t, tc2.stream...)))
			if tc2.wantErr != nil {
				var he *httpx.Error
				if !errors.As(err, &he) || he.Status != http.StatusUnprocessableEntity {
					t.Fatalf("plan: %v, want a 422", err)
				}
				for _, w := range tc2.wantErr {
					if !strings.Contains(he.Detail, w) {
						t.Errorf("detail %q lacks %q", he.Detail, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range picks {
				got = append(got, p.via)
			}
			if strings.Join(got, ",") != strings.Join(tc2.want, ",") {
				t.Errorf("picks %q, want %q", got, tc2.want)
			}
		})
	}
}
