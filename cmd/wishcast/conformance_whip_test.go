package main

import (
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// ---------------------------------------------------------------------------
// A. WHIP endpoint

// C1: POST E with an SDP offer → 201, application/sdp answer, Location;
// the media type is matched case-insensitively with parameters allowed.
func TestC01_WHIPPostCreated(t *testing.T) {
	ts := newTestServer(t)
	for i, ct := range []string{"application/sdp", "Application/SDP; charset=utf-8"} {
		t.Run(ct, func(t *testing.T) {
			pc, offer := cfOffer(t, nil, cfSendonly)
			resp, body := cfDo(t, http.MethodPost, ts.URL+"/whip/live/c01-"+strconv.Itoa(i), []byte(offer), "Content-Type", ct)
			cfStatus(t, resp, body, http.StatusCreated)
			if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
				t.Errorf("answer Content-Type %q, want application/sdp", resp.Header.Get("Content-Type"))
			}
			if !strings.HasPrefix(body, "v=0\r\n") {
				t.Errorf("answer is not SDP: %.100q", body)
			}
			loc := cfURL(t, ts, resp.Header.Get("Location"))
			if r, b := cfDo(t, http.MethodGet, loc, nil); r.StatusCode/100 != 2 {
				t.Errorf("GET Location %s: %d %s", loc, r.StatusCode, b)
			}
			cfApply(t, pc, body)
			cfConnected(t, pc)
		})
	}
}

// C2: the WHIP answer is recvonly in every m-section, has one BUNDLE group
// over all mids, and a=rtcp-mux plus a=rtcp-mux-only in every m-section.
func TestC02_AnswerRecvonlyBundleRtcpMuxOnly(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	_, answer := cfCreate(t, ts, ts.URL+"/whip/live/c02", offer)
	sess, media := cfSections(answer)
	if _, om := cfSections(offer); len(media) != len(om) {
		t.Fatalf("answer has %d m-sections, offer %d", len(media), len(om))
	}
	groups := cfValues(sess, "a=group:BUNDLE")
	if len(groups) != 1 {
		t.Fatalf("answer has %d BUNDLE groups, want 1:\n%s", len(groups), answer)
	}
	bundled := strings.Fields(groups[0])
	var mids []string
	for i, m := range media {
		if f := strings.Fields(m[0]); len(f) < 2 || f[1] == "0" {
			t.Errorf("m-section %d is rejected (port 0): %s", i, m[0])
		}
		mid := cfValues(m, "a=mid:")
		if len(mid) != 1 {
			t.Fatalf("m-section %d has mids %q", i, mid)
		}
		mids = append(mids, mid[0])
		if d := cfDirections(m); len(d) != 1 || d[0] != "a=recvonly" {
			t.Errorf("m-section %q direction %q, want exactly a=recvonly", mid[0], d)
		}
		if !slices.Contains(m, "a=rtcp-mux") {
			t.Errorf("m-section %q lacks a=rtcp-mux", mid[0])
		}
		if !slices.Contains(m, "a=rtcp-mux-only") {
			t.Errorf("m-section %q lacks a=rtcp-mux-only", mid[0])
		}
	}
	slices.Sort(mids)
	slices.Sort(bundled)
	if !slices.Equal(mids, bundled) {
		t.Errorf("BUNDLE group %q does not cover exactly the mids %q", groups[0], mids)
	}
}

// C3: the answer holds every server candidate and a=end-of-candidates; the
// client connects without any trickle from the server.
func TestC03_AnswerHasCandidatesAndEndOfCandidates(t *testing.T) {
	ts := newTestServer(t)
	pc, offer := cfOffer(t, nil, cfSendonly)
	_, answer := cfCreate(t, ts, ts.URL+"/whip/live/c03", offer)
	lines := cfAll(answer)
	if len(cfValues(lines, "a=candidate:")) == 0 {
		t.Errorf("answer has no candidates:\n%s", answer)
	}
	if !slices.Contains(lines, "a=end-of-candidates") {
		t.Errorf("answer lacks a=end-of-candidates:\n%s", answer)
	}
	cfApply(t, pc, answer)
	cfConnected(t, pc)
}

// C4: the 201 carries a strong entity-tag.
func TestC04_StrongETag(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	resp, body := cfPost(t, ts.URL+"/whip/live/c04", offer)
	cfStatus(t, resp, body, http.StatusCreated)
	if len(resp.Header.Values("ETag")) != 1 {
		t.Fatalf("ETag headers %q, want one", resp.Header.Values("ETag"))
	}
	cfCheckETag(t, resp.Header.Get("ETag"))
}

// C5: POST with text/plain or no Content-Type → 415 with Accept-Post.
func TestC05_WrongContentType415(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	before := ts.sessions.Stats()
	for _, ct := range []string{"text/plain", "", "application/json", "application/sdpfoo"} {
		var hdr []string
		if ct != "" {
			hdr = []string{"Content-Type", ct}
		}
		resp, body := cfDo(t, http.MethodPost, ts.URL+"/whip/live/c05", []byte(offer), hdr...)
		cfProblem(t, resp, body, http.StatusUnsupportedMediaType)
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Accept-Post")); mt != "application/sdp" {
			t.Errorf("Content-Type %q: Accept-Post %q, want application/sdp", ct, resp.Header.Get("Accept-Post"))
		}
	}
	cfNoNewSession(t, ts, before)
}

// cfCut cuts s at the first marker after the first from, plus skip bytes.
// With nextLine, it cuts skip bytes into the line after the marker's line.
func cfCut(t *testing.T, s, from, marker string, skip int, nextLine bool) string {
	t.Helper()
	f := strings.Index(s, from)
	m := strings.Index(s[max(f, 0):], marker)
	if f < 0 || m < 0 {
		t.Fatalf("offer lacks %q after %q", marker, from)
	}
	at := f + m
	if nextLine {
		at += strings.Index(s[at:], "\n") + 1
	}
	return s[:at+skip]
}

// C6: malformed SDP bodies → 400, no 5xx, no session.
func TestC06_MalformedOffer400(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	binary := make([]byte, 1024)
	for i := range binary {
		binary[i] = byte(i*37 + 11)
	}
	cases := map[string]string{
		"v=1 foo": "v=1\r\nfoo",
		// Cut inside the video m= line.
		"truncated in m=video": cfCut(t, offer, "m=video", "m=video", len("m=video 9"), false),
		// Cut inside the first rtpmap: "a=rtpmap:111".
		"truncated in a=rtpmap": cfCut(t, offer, "m=audio", "a=rtpmap:", len("a=rtpmap:111"), false),
		// Cut a few bytes into the line after the video section's first
		// rtpmap.
		"truncated after first video rtpmap": cfCut(t, offer, "m=video", "a=rtpmap:", 5, true),
		// Cut at the end of that rtpmap line: the m=video line then lists
		// payload types that nothing describes.
		"truncated at end of first video rtpmap": cfCut(t, offer, "m=video", "a=rtpmap:", 0, true),
		"binary":                                 string(binary),
		"v=0 then binary":                        "v=0\r\n" + string(binary),
		"empty":                                  "",
		"whitespace":                             "\r\n \r\n",
		"no m-line end":                          "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=vid",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			before := ts.sessions.Stats()
			resp, rb := cfDo(t, http.MethodPost, ts.URL+"/whip/live/c06", []byte(body), "Content-Type", "application/sdp")
			cfProblem(t, resp, rb, http.StatusBadRequest)
			cfNoNewSession(t, ts, before)
			t.Logf("%q → %s", body[max(0, len(body)-40):], cfDetail(rb))
		})
	}
}

// Errors carry an RFC 9457 problem body with a detail a person can act on.
func TestC06_EveryErrorIsProblemJSON(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	_, view := cfOffer(t, nil, cfRecvonly)
	s, _ := cfCreate(t, ts, ts.URL+"/whip/live/c06p", offer)
	type req struct {
		method, path string
		body         string
		hdr          []string
		status       int
	}
	for _, r := range []req{
		{"POST", "/whip/live/x", offer, []string{"Content-Type", "text/plain"}, 415},
		{"POST", "/whip/live/x", "v=1\r\n", []string{"Content-Type", "application/sdp"}, 400},
		{"POST", "/whip/live/c06p", offer, []string{"Content-Type", "application/sdp"}, 409},
		{"POST", "/whip/live/x", strings.Repeat("a", 100<<10), []string{"Content-Type", "application/sdp"}, 413},
		{"POST", "/whip/..", offer, []string{"Content-Type", "application/sdp"}, 400},
		{"PUT", "/whip/live/x", "", nil, 405},
		{"POST", "/whep/live/nobody", view, []string{"Content-Type", "application/sdp"}, 409},
		{"PATCH", strings.TrimPrefix(s.url, ts.URL), "a=end-of-candidates\r\n", []string{"Content-Type", cfFragType}, 428},
		{"PATCH", strings.TrimPrefix(s.url, ts.URL), "a=end-of-candidates\r\n", []string{"Content-Type", cfFragType, "If-Match", `"stale"`}, 412},
		{"PATCH", strings.TrimPrefix(s.url, ts.URL), "a=end-of-candidates\r\n", []string{"Content-Type", "application/sdp", "If-Match", s.etag}, 415},
		{"DELETE", "/sessions/AAAAAAAAAAAAAAAAAAAAAA", "", nil, 404},
		{"GET", "/no/such/thing", "", nil, 404},
	} {
		t.Run(fmt.Sprintf("%s %s %d", r.method, r.path, r.status), func(t *testing.T) {
			resp, body := cfDo(t, r.method, ts.URL+r.path, []byte(r.body), r.hdr...)
			cfProblem(t, resp, body, r.status)
		})
	}
}

// C7: one MediaStream only: two video, two audio, different msids or a
// data channel → 422, and no session is created.
func TestC07_OneMediaStreamOnly(t *testing.T) {
	ts := newTestServer(t)
	cases := map[string]func(pc *webrtc.PeerConnection){
		"two video m-lines": func(pc *webrtc.PeerConnection) {
			cfAddTrack(t, pc, webrtc.MimeTypeVP8, "s", cfSendonly)
			cfAddTrack(t, pc, webrtc.MimeTypeVP8, "s", cfSendonly)
		},
		"two audio m-lines": func(pc *webrtc.PeerConnection) {
			cfAddTrack(t, pc, webrtc.MimeTypeOpus, "s", cfSendonly)
			cfAddTrack(t, pc, webrtc.MimeTypeOpus, "s", cfSendonly)
		},
		"different msid": func(pc *webrtc.PeerConnection) {
			cfAddTrack(t, pc, webrtc.MimeTypeOpus, "stream-a", cfSendonly)
			cfAddTrack(t, pc, webrtc.MimeTypeVP8, "stream-b", cfSendonly)
		},
		"data channel": func(pc *webrtc.PeerConnection) {
			cfAddTrack(t, pc, webrtc.MimeTypeVP8, "s", cfSendonly)
			if _, err := pc.CreateDataChannel("chat", nil); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			pc := cfPC(t, nil)
			build(pc)
			offer := offerFor(t, pc)
			before := ts.sessions.Stats()
			resp, body := cfPost(t, ts.URL+"/whip/live/c07", offer)
			cfProblem(t, resp, body, http.StatusUnprocessableEntity)
			cfNoNewSession(t, ts, before)
		})
	}
}

// C8: a video m-line offering only a codec wishcast cannot forward makes the
// whole POST fail with 422 (never an answer with a rejected m-line).
func TestC08_UnsupportedCodecRejectsWholeOffer(t *testing.T) {
	ts := newTestServer(t)
	pc := cfPC(t, cfAPI(t, cfOpus, cfMP4V))
	cfAddTrack(t, pc, webrtc.MimeTypeOpus, "s", cfSendonly)
	cfAddTrack(t, pc, "video/MP4V-ES", "s", cfSendonly)
	offer := offerFor(t, pc)
	if !strings.Contains(offer, "MP4V-ES/90000") || strings.Contains(offer, "VP8") {
		t.Fatalf("test offer does not offer MP4V-ES only:\n%s", offer)
	}
	before := ts.sessions.Stats()
	resp, body := cfPost(t, ts.URL+"/whip/live/c08", offer)
	cfProblem(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(cfDetail(body), "MP4V-ES") {
		t.Errorf("detail does not name the offered codec: %q", cfDetail(body))
	}
	cfNoNewSession(t, ts, before)
	// Nothing was published, not even the audio.
	_, view := cfOffer(t, nil, cfRecvonly)
	resp, body = cfPost(t, ts.URL+"/whep/live/c08", view)
	cfProblem(t, resp, body, http.StatusConflict)
}

// C9: a recvonly or inactive WHIP offer → 422; sendrecv is accepted and
// answered recvonly.
func TestC09_WHIPOfferDirections(t *testing.T) {
	ts := newTestServer(t)
	t.Run("recvonly", func(t *testing.T) {
		_, offer := cfOffer(t, nil, cfRecvonly)
		before := ts.sessions.Stats()
		resp, body := cfPost(t, ts.URL+"/whip/live/c09a", offer)
		cfProblem(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(cfDetail(body), "recvonly") {
			t.Errorf("detail does not say what is wrong: %q", cfDetail(body))
		}
		cfNoNewSession(t, ts, before)
	})
	t.Run("inactive", func(t *testing.T) {
		_, offer := cfOffer(t, nil, cfSendonly)
		offer = strings.ReplaceAll(offer, "a=sendonly", "a=inactive")
		before := ts.sessions.Stats()
		resp, body := cfPost(t, ts.URL+"/whip/live/c09b", offer)
		cfProblem(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(cfDetail(body), "inactive") {
			t.Errorf("detail does not say what is wrong: %q", cfDetail(body))
		}
		cfNoNewSession(t, ts, before)
	})
	t.Run("sendrecv", func(t *testing.T) {
		pc, offer := cfOffer(t, nil, cfSendrecv)
		_, answer := cfCreate(t, ts, ts.URL+"/whip/live/c09c", offer)
		_, media := cfSections(answer)
		for _, m := range media {
			if d := cfDirections(m); len(d) != 1 || d[0] != "a=recvonly" {
				t.Errorf("%s: direction %q, want a=recvonly", m[0], d)
			}
		}
		cfApply(t, pc, answer)
		cfConnected(t, pc)
	})
}

// C10: an offer with a=setup:active is answered a=setup:passive, one with
// a=setup:passive is answered a=setup:active (the server is then the DTLS
// client); both connect.
func TestC10_DTLSSetupRoles(t *testing.T) {
	ts := newTestServer(t)
	for i, c := range []struct{ offer, answer string }{{"active", "passive"}, {"passive", "active"}} {
		t.Run(c.offer, func(t *testing.T) {
			pc, offer := cfOffer(t, nil, cfSendonly)
			edited := strings.ReplaceAll(offer, "a=setup:actpass", "a=setup:"+c.offer)
			if edited == offer {
				t.Fatal("offer has no a=setup:actpass")
			}
			_, answer := cfCreate(t, ts, ts.URL+"/whip/live/c10-"+strconv.Itoa(i), edited)
			_, media := cfSections(answer)
			for _, m := range media {
				if s := cfValues(m, "a=setup:"); len(s) != 1 || s[0] != c.answer {
					t.Errorf("%s: a=setup %q, want %s", m[0], s, c.answer)
				}
			}
			cfApply(t, pc, answer)
			cfConnected(t, pc)
		})
	}
}

// C11: GET and HEAD on E and on S → 2xx with no content.
func TestC11_GetHeadNoContent(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	s, _ := cfCreate(t, ts, ts.URL+"/whip/live/c11", offer)
	for _, u := range []string{ts.URL + "/whip/live/c11", ts.URL + "/whip/live/other", s.url} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			resp, body := cfDo(t, m, u, nil)
			if resp.StatusCode/100 != 2 || body != "" {
				t.Errorf("%s %s: %d with %d bytes, want 2xx with no content", m, u, resp.StatusCode, len(body))
			}
			if resp.ContentLength > 0 && m == http.MethodGet {
				t.Errorf("%s %s: Content-Length %d", m, u, resp.ContentLength)
			}
		}
	}
}

// C12: PUT/PATCH on E and POST/PUT on S → 405 with an Allow header.
func TestC12_MethodNotAllowedWithAllow(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	s, _ := cfCreate(t, ts, ts.URL+"/whip/live/c12", offer)
	check := func(method, u string, allowed []string) {
		t.Helper()
		resp, body := cfDo(t, method, u, []byte("x"), "Content-Type", "text/plain")
		cfProblem(t, resp, body, http.StatusMethodNotAllowed)
		allow := cfList(resp.Header.Get("Allow"))
		if len(allow) == 0 {
			t.Errorf("%s %s: 405 without Allow", method, u)
		}
		for _, a := range allowed {
			if !slices.Contains(allow, strings.ToLower(a)) {
				t.Errorf("%s %s: Allow %q lacks %s", method, u, allow, a)
			}
		}
		if slices.Contains(allow, strings.ToLower(method)) {
			t.Errorf("%s %s: Allow %q lists the refused method", method, u, allow)
		}
	}
	for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
		check(m, ts.URL+"/whip/live/c12", []string{"OPTIONS", "POST"})
	}
	for _, m := range []string{http.MethodPost, http.MethodPut} {
		check(m, s.url, []string{"PATCH", "DELETE"})
	}
}

// C19: nothing redirects: endpoints, sessions, odd paths and trailing
// slashes all answer directly, never with 301/302 (or any 3xx).
func TestC19_NoRedirects(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	s, _ := cfCreate(t, ts, ts.URL+"/whip/live/c19", offer)
	sp := strings.TrimPrefix(s.url, ts.URL)
	paths := []string{
		"/whip/live/c19", "/whip/live/c19/", "/whip/live//c19", "/whip/live/./c19", "/whip/live/x/../c19",
		"/whip", "/whip/", "//whip/live/c19", "/WHIP/live/c19", "/whip/live/c19?x=1",
		"/whep/live/c19", "/whep/live/c19/", "/whep",
		sp, sp + "/", "/sessions", "/sessions/", "/sessions/unknown", "/",
	}
	for _, p := range paths {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPost, http.MethodPatch} {
			var body []byte
			var hdr []string
			if m == http.MethodPost {
				body, hdr = []byte(offer), []string{"Content-Type", "application/sdp"}
			}
			resp, _ := cfDo(t, m, ts.URL+p, body, hdr...)
			if resp.StatusCode == http.StatusMovedPermanently || resp.StatusCode == http.StatusFound || resp.StatusCode/100 == 3 {
				t.Errorf("%s %s → %d", m, p, resp.StatusCode)
			}
		}
	}
}

// C20: under the server-wide session caps → 503 with Retry-After, and
// nothing created. (The per-principal caps, 429, are set out of the way.)
func TestC20_Overload503RetryAfter(t *testing.T) {
	t.Run("MaxSessions", func(t *testing.T) {
		ts := newTestServer(t, func(c *Config) { c.WebRTC.MaxSessions, c.WebRTC.MaxSessionsPerPrincipal = 1, 10 })
		pub := cfPublish(t, ts, nil, "live/c20a")
		cfConnected(t, pub.pc)
		before := ts.sessions.Stats()
		_, offer := cfOffer(t, nil, cfSendonly)
		resp, body := cfPost(t, ts.URL+"/whip/live/c20b", offer)
		cfProblem(t, resp, body, http.StatusServiceUnavailable)
		cfRetryAfter(t, resp)
		_, view := cfOffer(t, nil, cfRecvonly)
		resp, body = cfPost(t, ts.URL+"/whep/live/c20a", view)
		cfProblem(t, resp, body, http.StatusServiceUnavailable)
		cfRetryAfter(t, resp)
		cfNoNewSession(t, ts, before)
	})
	t.Run("MaxPending", func(t *testing.T) {
		ts := newTestServer(t, func(c *Config) { c.WebRTC.MaxPending, c.WebRTC.MaxPendingPerPrincipal = 1, 10 })
		_, offer := cfOffer(t, nil, cfSendonly)
		cfCreate(t, ts, ts.URL+"/whip/live/c20c", offer) // never connects: pending
		before := ts.sessions.Stats()
		_, offer2 := cfOffer(t, nil, cfSendonly)
		resp, body := cfPost(t, ts.URL+"/whip/live/c20d", offer2)
		cfProblem(t, resp, body, http.StatusServiceUnavailable)
		cfRetryAfter(t, resp)
		cfNoNewSession(t, ts, before)
	})
}

// C22 (without its owner check, see the top of the file): session URLs
// carry ≥122 random bits, differ per session and do not hold the stream name.
func TestC22_SessionURLUnguessable(t *testing.T) {
	ts := newTestServer(t)
	b64url := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i := range 3 {
		_, offer := cfOffer(t, nil, cfSendonly)
		s, _ := cfCreate(t, ts, ts.URL+"/whip/live/c22name"+strconv.Itoa(i), offer)
		id := s.url[strings.LastIndex(s.url, "/")+1:]
		if !(uuid4.MatchString(id) || (b64url.MatchString(id) && len(id)*6 >= 122)) {
			t.Errorf("session id %q has fewer than 122 bits", id)
		}
		if strings.Contains(s.url, "c22name") || seen[id] {
			t.Errorf("session URL %q repeats or holds the stream name", s.url)
		}
		seen[id] = true
	}
}
