package main

// HTTP conformance suite: one test per rule of the WHIP/WHEP conformance checklist,
// sections A and B (WHIP endpoint and session, C1…C34), C (WHEP, C35…C41),
// D (C44, C46, C47) and F (hostile inputs, H1…H18). Every test speaks real
// HTTP to newTestServer and makes its offers with real pion peers.
//
// These tests run as the test admin (see asAdmin in harness_test.go).
// Authentication and authorization (C21, C22's owner check, H9's query
// tokens) are tested in auth_test.go and permission_test.go.
// Not applicable to this server yet: C18 (no extensions), C24 (TLS belongs
// to the listener), C32 (trickle and restart are both supported), C37's
// counter-offer mode (not implemented; TestC37 checks 406 is never used
// instead), C42/C43 (no SSE), C45 (no calls). C44 is about RTSP cameras,
// which do not exist yet: TestC44 checks the same rule against a WHIP
// publisher. C23 asks for POST and DELETE limits too; only the PATCH limit
// exists and H4 tests it.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/session"
)

// ---------------------------------------------------------------------------
// Helpers (prefixed cf to stay clear of the other test files).

const (
	cfSendonly = webrtc.RTPTransceiverDirectionSendonly
	cfRecvonly = webrtc.RTPTransceiverDirectionRecvonly
	cfSendrecv = webrtc.RTPTransceiverDirectionSendrecv
	cfFragType = "application/trickle-ice-sdpfrag"
	cfOrigin   = "https://app.example"
)

// cfClient never follows redirects, so a 3xx is seen (C19).
var cfClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       15 * time.Second,
}

// cfDo sends a request (hdr are name/value pairs) and returns the response
// with its body read. Any redirect is an error (C19 holds for every request).
func cfDo(t *testing.T, method, u string, body []byte, hdr ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := cfClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		t.Errorf("%s %s redirected: %d Location %q (C19: nothing redirects)", method, u, resp.StatusCode, resp.Header.Get("Location"))
	}
	return resp, string(b)
}

// cfPost posts an SDP offer.
func cfPost(t *testing.T, u, offer string, hdr ...string) (*http.Response, string) {
	t.Helper()
	return cfDo(t, http.MethodPost, u, []byte(offer), append([]string{"Content-Type", "application/sdp"}, hdr...)...)
}

// cfStatus fails unless resp has status want.
func cfStatus(t *testing.T, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %.300s", resp.Request.Method, resp.Request.URL, resp.StatusCode, want, body)
	}
}

// cfProblem checks an error response: exactly status, an RFC 9457
// application/problem+json body whose status matches and whose detail is a
// sentence a person can act on, and never raw HTML.
func cfProblem(t *testing.T, resp *http.Response, body string, status int) {
	t.Helper()
	cfStatus(t, resp, body, status)
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/problem+json" {
		t.Errorf("%d: Content-Type %q, want application/problem+json", status, resp.Header.Get("Content-Type"))
	}
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Errorf("%d: body is not JSON (%v): %.200s", status, err, body)
		return
	}
	if p.Status != status {
		t.Errorf("problem status %d, response status %d", p.Status, status)
	}
	if len(strings.Fields(p.Detail)) < 3 {
		t.Errorf("%d: problem detail %q is not a human sentence", status, p.Detail)
	}
	if strings.Contains(body, "<") {
		t.Errorf("%d: error body contains a raw '<': %.200s", status, body)
	}
}

// cfDetail returns the problem detail of an error body.
func cfDetail(body string) string {
	var p struct{ Detail string }
	_ = json.Unmarshal([]byte(body), &p)
	return p.Detail
}

// cfRetryAfter checks that resp carries Retry-After with a positive number
// of seconds (or an HTTP-date).
func cfRetryAfter(t *testing.T, resp *http.Response) {
	t.Helper()
	ra := resp.Header.Get("Retry-After")
	if n, err := strconv.Atoi(ra); err == nil {
		if n < 1 {
			t.Errorf("Retry-After %q, want a positive number of seconds", ra)
		}
		return
	}
	if _, err := http.ParseTime(ra); err != nil {
		t.Errorf("%d without a valid Retry-After (got %q)", resp.StatusCode, ra)
	}
}

// cfList splits a comma-separated header value into lower-case tokens.
func cfList(v string) []string {
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.ToLower(strings.TrimSpace(f)); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// cfListHas fails unless the comma list in header h of resp holds every want.
func cfListHas(t *testing.T, resp *http.Response, h string, want ...string) {
	t.Helper()
	got := cfList(strings.Join(resp.Header.Values(h), ","))
	for _, w := range want {
		if !slices.Contains(got, strings.ToLower(w)) {
			t.Errorf("%s %s → %d: %s %q lacks %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, h, resp.Header.Values(h), w)
		}
	}
}

// cfURL resolves a Location against the server.
func cfURL(t *testing.T, ts *testServer, loc string) string {
	t.Helper()
	if loc == "" {
		t.Fatal("no Location")
	}
	base, _ := url.Parse(ts.URL)
	ref, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return base.ResolveReference(ref).String()
}

// cfAPI is clientAPI with short ICE timeouts, so that a peer notices within
// about two seconds that the server stopped answering consent checks, and,
// when codecs are given, only those codecs.
func cfAPI(t *testing.T, codecs ...webrtc.RTPCodecParameters) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if len(codecs) == 0 {
		if err := m.RegisterDefaultCodecs(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range codecs {
		typ := webrtc.RTPCodecTypeVideo
		if strings.HasPrefix(strings.ToLower(c.MimeType), "audio/") {
			typ = webrtc.RTPCodecTypeAudio
		}
		if err := m.RegisterCodec(c, typ); err != nil {
			t.Fatal(err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(0)
	se.SetICETimeouts(time.Second, time.Second, 200*time.Millisecond)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// Codecs for cfAPI.
var (
	cfOpus = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}
	cfH264 = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 102}
	cfMP4V = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "video/MP4V-ES", ClockRate: 90000}, PayloadType: 96}
)

// cfPC returns a peer connection of api (clientAPI if nil), closed at the end.
func cfPC(t *testing.T, api *webrtc.API) *webrtc.PeerConnection {
	t.Helper()
	if api == nil {
		api = clientAPI(t)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// cfAddTrack adds a transceiver with direction dir carrying a new local
// track of codec mime in MediaStream streamID.
func cfAddTrack(t *testing.T, pc *webrtc.PeerConnection, mime, streamID string, dir webrtc.RTPTransceiverDirection) *webrtc.TrackLocalStaticRTP {
	t.Helper()
	c := webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000}
	kind := "video"
	switch mime {
	case webrtc.MimeTypeOpus:
		c, kind = cfOpus.RTPCodecCapability, "audio"
	case webrtc.MimeTypeH264:
		c = cfH264.RTPCodecCapability
	}
	tr, err := webrtc.NewTrackLocalStaticRTP(c, kind, streamID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
		t.Fatal(err)
	}
	return tr
}

// cfOffer makes a complete pion offer with an audio (Opus) and a video
// (VP8) m-line in direction dir; sending tracks share one MediaStream.
func cfOffer(t *testing.T, api *webrtc.API, dir webrtc.RTPTransceiverDirection) (*webrtc.PeerConnection, string) {
	t.Helper()
	pc := cfPC(t, api)
	switch dir {
	case cfSendonly, cfSendrecv:
		cfAddTrack(t, pc, webrtc.MimeTypeOpus, "cf", dir)
		cfAddTrack(t, pc, webrtc.MimeTypeVP8, "cf", dir)
	default:
		addRecvonly(t, pc)
	}
	return pc, offerFor(t, pc)
}

// cfConnected waits for pc to connect.
func cfConnected(t *testing.T, pc *webrtc.PeerConnection) {
	t.Helper()
	eventually(t, 10*time.Second, "peer connection to connect", func() bool {
		return pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
}

// cfApply applies an answer to pc.
func cfApply(t *testing.T, pc *webrtc.PeerConnection, answer string) {
	t.Helper()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatalf("apply answer: %v\n%s", err, answer)
	}
}

// cfPublish connects a publisher made with api (Opus + VP8 in one stream)
// to /whip/name and sends a frame every 20 ms until the test ends.
func cfPublish(t *testing.T, ts *testServer, api *webrtc.API, name string) *peer {
	t.Helper()
	pc := cfPC(t, api)
	audio := cfAddTrack(t, pc, webrtc.MimeTypeOpus, "pub", cfSendonly)
	video := cfAddTrack(t, pc, webrtc.MimeTypeVP8, "pub", cfSendonly)
	p := connect(t, pc, ts.URL+"/whip/"+name)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(n), Timestamp: uint32(n * 1800)}, Payload: vp8Frame(n%25 == 0, n)})
			_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: uint32(n * 960)}, Payload: []byte{0xfc, 0xff, 0xfe}})
		}
	})
	t.Cleanup(func() { close(stop); wg.Wait() })
	return p
}

// cfView connects a recvonly audio+video viewer made with api to
// /whep/name; its video packets arrive on the channel.
func cfView(t *testing.T, ts *testServer, api *webrtc.API, name string) (*peer, chan *rtp.Packet) {
	t.Helper()
	pc := cfPC(t, api)
	addRecvonly(t, pc)
	video := make(chan *rtp.Packet, 1024)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				select {
				case video <- p:
				default:
				}
			}
		}
	})
	return connect(t, pc, ts.URL+"/whep/"+name), video
}

// cfFresh empties ch and waits for a fresh packet.
func cfFresh(t *testing.T, ch chan *rtp.Packet) {
	t.Helper()
	for len(ch) > 0 {
		<-ch
	}
	next(t, ch, 5*time.Second)
}

// cfSections splits an SDP into its session-level lines and its media
// sections (each starting with its m= line), without line ends.
func cfSections(sdp string) (sess []string, media [][]string) {
	for l := range strings.SplitSeq(sdp, "\n") {
		l = strings.TrimRight(l, "\r")
		switch {
		case l == "":
		case strings.HasPrefix(l, "m="):
			media = append(media, []string{l})
		case len(media) > 0:
			media[len(media)-1] = append(media[len(media)-1], l)
		default:
			sess = append(sess, l)
		}
	}
	return sess, media
}

// cfValues returns what follows prefix on the lines that start with it.
func cfValues(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			out = append(out, v)
		}
	}
	return out
}

// cfDirections returns the direction attributes of an m-section.
func cfDirections(m []string) []string {
	var out []string
	for _, l := range m {
		switch l {
		case "a=sendonly", "a=recvonly", "a=sendrecv", "a=inactive":
			out = append(out, l)
		}
	}
	return out
}

// cfAll returns the lines of an SDP.
func cfAll(sdp string) []string {
	sess, media := cfSections(sdp)
	for _, m := range media {
		sess = append(sess, m...)
	}
	return sess
}

// cfStrongETag matches a strong entity-tag (RFC 9110 §8.8.3).
var cfStrongETag = regexp.MustCompile(`^"[\x21\x23-\x7e\x80-\xff]*"$`)

func cfCheckETag(t *testing.T, etag string) {
	t.Helper()
	if !cfStrongETag.MatchString(etag) || strings.HasPrefix(etag, "W/") {
		t.Errorf("ETag %q is not a strong entity-tag (quoted, no W/)", etag)
	}
}

// cfSess is a session resource seen by a client.
type cfSess struct {
	url, etag, offer string
}

func cfSessOf(t *testing.T, ts *testServer, p *peer) cfSess {
	t.Helper()
	return cfSess{url: cfURL(t, ts, p.location), etag: p.etag, offer: p.pc.LocalDescription().SDP}
}

// cfCreate posts offer to u, expects 201 and returns the session.
func cfCreate(t *testing.T, ts *testServer, u, offer string) (cfSess, string) {
	t.Helper()
	resp, body := cfPost(t, u, offer)
	cfStatus(t, resp, body, http.StatusCreated)
	return cfSess{url: cfURL(t, ts, resp.Header.Get("Location")), etag: resp.Header.Get("ETag"), offer: offer}, body
}

// cfFrag builds a trickle-ice-sdpfrag (RFC 8840) for the ICE session of
// offer: its ufrag and pwd, its first m-line, then cands ("candidate:…").
func cfFrag(offer string, cands []string, end bool) string {
	lines := cfAll(offer)
	first := func(p string) string {
		if v := cfValues(lines, p); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	kind, _, _ := strings.Cut(first("m="), " ")
	var b strings.Builder
	fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\nm=%s 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:%s\r\n", first("a=ice-ufrag:"), first("a=ice-pwd:"), kind, first("a=mid:"))
	for _, c := range cands {
		b.WriteString("a=" + c + "\r\n")
	}
	if end {
		b.WriteString("a=end-of-candidates\r\n")
	}
	return b.String()
}

// cfOwnCandidates returns the candidates of offer ("candidate:…").
func cfOwnCandidates(offer string) []string {
	var out []string
	for _, c := range cfValues(cfAll(offer), "a=candidate:") {
		out = append(out, "candidate:"+c)
	}
	return out
}

// cfPatch sends a PATCH; empty ct or ifMatch leave the header out.
func cfPatch(t *testing.T, s cfSess, body, ct, ifMatch string) (*http.Response, string) {
	t.Helper()
	var hdr []string
	if ct != "" {
		hdr = append(hdr, "Content-Type", ct)
	}
	if ifMatch != "" {
		hdr = append(hdr, "If-Match", ifMatch)
	}
	return cfDo(t, http.MethodPatch, s.url, []byte(body), hdr...)
}

// cfNoNewSession fails if sessions were created or are running since before.
func cfNoNewSession(t *testing.T, ts *testServer, before session.Stats) {
	t.Helper()
	if st := ts.sessions.Stats(); st.Active != before.Active || st.Created != before.Created {
		t.Errorf("a rejected request created a session: sessions created %d → %d, active %d → %d",
			before.Created, st.Created, before.Active, st.Active)
	}
}
