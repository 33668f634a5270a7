package main

import (
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// C. WHEP

// C35: the WHEP 201 answers sendonly in every m-line, all in one msid
// stream, with Location and a strong ETag.
func TestC35_WHEPAnswerSendonlyOneStream(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/c35", 25)
	_, view := cfOffer(t, nil, cfRecvonly)
	resp, answer := cfPost(t, ts.URL+"/whep/live/c35", view)
	cfStatus(t, resp, answer, http.StatusCreated)
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/sdp" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	cfURL(t, ts, resp.Header.Get("Location"))
	cfCheckETag(t, resp.Header.Get("ETag"))
	_, media := cfSections(answer)
	if len(media) != 2 {
		t.Fatalf("answer has %d m-sections, want 2:\n%s", len(media), answer)
	}
	stream := ""
	for _, m := range media {
		if d := cfDirections(m); len(d) != 1 || d[0] != "a=sendonly" {
			t.Errorf("%s: direction %q, want a=sendonly", m[0], d)
		}
		msid := cfValues(m, "a=msid:")
		if len(msid) != 1 || len(strings.Fields(msid[0])) == 0 || strings.Fields(msid[0])[0] == "-" {
			t.Errorf("%s: msid %q, want one with a stream id", m[0], msid)
			continue
		}
		id := strings.Fields(msid[0])[0]
		if stream == "" {
			stream = id
		} else if id != stream {
			t.Errorf("m-lines in different streams: %q and %q", stream, id)
		}
	}
}

// C36: a sendonly or inactive WHEP offer → 422; sendrecv is answered
// sendonly.
func TestC36_WHEPOfferDirections(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/c36", 25)
	t.Run("sendonly", func(t *testing.T) {
		_, offer := cfOffer(t, nil, cfSendonly)
		before := ts.sessions.Stats()
		resp, body := cfPost(t, ts.URL+"/whep/live/c36", offer)
		cfProblem(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(cfDetail(body), "sendonly") {
			t.Errorf("detail does not say what is wrong: %q", cfDetail(body))
		}
		cfNoNewSession(t, ts, before)
	})
	t.Run("inactive", func(t *testing.T) {
		_, offer := cfOffer(t, nil, cfRecvonly)
		offer = strings.ReplaceAll(offer, "a=recvonly", "a=inactive")
		before := ts.sessions.Stats()
		resp, body := cfPost(t, ts.URL+"/whep/live/c36", offer)
		cfProblem(t, resp, body, http.StatusUnprocessableEntity)
		cfNoNewSession(t, ts, before)
	})
	t.Run("sendrecv", func(t *testing.T) {
		pc, offer := cfOffer(t, nil, cfSendrecv)
		_, answer := cfCreate(t, ts, ts.URL+"/whep/live/c36", offer)
		_, media := cfSections(answer)
		for _, m := range media {
			if d := cfDirections(m); len(d) != 1 || d[0] != "a=sendonly" {
				t.Errorf("%s: direction %q, want a=sendonly", m[0], d)
			}
		}
		cfApply(t, pc, answer)
		cfConnected(t, pc)
	})
}

// C37: counter-offers are not implemented, so no WHEP error is ever 406,
// and PATCH with application/sdp is 415.
func TestC37_WHEPNeverUses406(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/c37", 25)
	_, view := cfOffer(t, nil, cfRecvonly)
	_, sendonly := cfOffer(t, nil, cfSendonly)
	h264 := cfPC(t, cfAPI(t, cfOpus, cfH264))
	addRecvonly(t, h264)
	h264Offer := offerFor(t, h264)
	sdp := []string{"Content-Type", "application/sdp"}
	for _, c := range []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
	}{
		{"text/plain", "POST", "/whep/live/c37", view, []string{"Content-Type", "text/plain"}, 415},
		{"malformed", "POST", "/whep/live/c37", "v=0\r\ngarbage", sdp, 400},
		{"sendonly offer", "POST", "/whep/live/c37", sendonly, sdp, 422},
		{"codec mismatch", "POST", "/whep/live/c37", h264Offer, sdp, 422},
		{"no publisher", "POST", "/whep/live/nobody", view, sdp, 409},
		{"bad name", "POST", "/whep/.hidden", view, sdp, 400},
		{"too large", "POST", "/whep/live/c37", strings.Repeat("v", 100<<10), sdp, 413},
		{"PUT", "PUT", "/whep/live/c37", "", nil, 405},
	} {
		resp, body := cfDo(t, c.method, ts.URL+c.path, []byte(c.body), c.hdr...)
		if resp.StatusCode == http.StatusNotAcceptable {
			t.Errorf("%s: 406 (players would read the body as a counter-offer)", c.name)
		}
		cfProblem(t, resp, body, c.status)
	}
	p, _ := cfView(t, ts, nil, "live/c37")
	s := cfSessOf(t, ts, p)
	answerish := strings.ReplaceAll(s.offer, "a=recvonly", "a=sendonly")
	resp, body := cfPatch(t, s, answerish, "application/sdp", s.etag)
	cfProblem(t, resp, body, http.StatusUnsupportedMediaType)
}

// C38: WHEP on a stream with no publisher → 409 with Retry-After.
func TestC38_WHEPNoPublisher409(t *testing.T) {
	ts := newTestServer(t)
	_, view := cfOffer(t, nil, cfRecvonly)
	before := ts.sessions.Stats()
	resp, body := cfPost(t, ts.URL+"/whep/live/c38", view)
	cfProblem(t, resp, body, http.StatusConflict)
	cfRetryAfter(t, resp)
	cfNoNewSession(t, ts, before)
}

// C39: HEAD W → 200, Content-Type application/sdp, no body.
func TestC39_WHEPHeadDiscovery(t *testing.T) {
	ts := newTestServer(t)
	resp, body := cfDo(t, http.MethodHead, ts.URL+"/whep/live/c39", nil)
	cfStatus(t, resp, body, http.StatusOK)
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/sdp" {
		t.Errorf("HEAD Content-Type %q, want application/sdp", resp.Header.Get("Content-Type"))
	}
	if body != "" || resp.ContentLength > 0 {
		t.Errorf("HEAD has a body (%d bytes, Content-Length %d)", len(body), resp.ContentLength)
	}
}

// C40: OPTIONS and CORS on W as C13, C14 and C16 on E.
func TestC40_WHEPOptionsAndCORS(t *testing.T) {
	ts := newTestServer(t, cfWithCORS)
	resp, body := cfDo(t, http.MethodOptions, ts.URL+"/whep/live/c40", nil)
	cfStatus(t, resp, body, http.StatusOK)
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Accept-Post")); mt != "application/sdp" {
		t.Errorf("Accept-Post %q, want application/sdp", resp.Header.Get("Accept-Post"))
	}
	resp, body = cfPreflight(t, ts.URL+"/whep/live/c40", cfOrigin, "POST", "authorization, content-type")
	cfCheckPreflight(t, resp, body)
	startPublisher(t, ts, "live/c40", 25)
	_, view := cfOffer(t, nil, cfRecvonly)
	resp, body = cfPost(t, ts.URL+"/whep/live/c40", view, "Origin", cfOrigin)
	cfStatus(t, resp, body, http.StatusCreated)
	cfCheckCORS(t, resp)
}

// C41: a WHEP session follows the same rules as a WHIP one: GET/HEAD → 2xx,
// 405 with Allow, trickle 204, 415/400, 428/412, DELETE 200 then 404, and
// the peer sees the end.
func TestC41_WHEPSessionLikeWHIP(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/c41", 25)
	p, video := cfView(t, ts, cfAPI(t), "live/c41")
	next(t, video, 10*time.Second)
	s := cfSessOf(t, ts, p)
	cfCheckETag(t, s.etag)
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		resp, body := cfDo(t, m, s.url, nil)
		if resp.StatusCode/100 != 2 || body != "" {
			t.Errorf("%s S: %d %q", m, resp.StatusCode, body)
		}
	}
	resp, body := cfDo(t, http.MethodGet, ts.URL+"/whep/live/c41", nil)
	if resp.StatusCode/100 != 2 || body != "" {
		t.Errorf("GET W: %d %q, want 2xx with no content", resp.StatusCode, body)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut} {
		resp, body := cfDo(t, m, s.url, []byte("x"))
		cfProblem(t, resp, body, http.StatusMethodNotAllowed)
		cfListHas(t, resp, "Allow", "PATCH", "DELETE")
	}
	cfCheckTrickle(t, s)
	cfCheckPatchTypes(t, s)
	cfCheckPreconditions(t, s)
	cfCheckDelete(t, ts, s, p.pc)
}
