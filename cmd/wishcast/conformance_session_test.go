package main

import (
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// ---------------------------------------------------------------------------
// B. Session resource. The cfCheck helpers run on WHIP sessions here and on
// WHEP sessions in TestC41.

// cfCheckDelete: DELETE S → 200; again → 404; PATCH → 404; the client's
// connection leaves connected; the session is gone from the counts.
func cfCheckDelete(t *testing.T, ts *testServer, s cfSess, pc *webrtc.PeerConnection) {
	t.Helper()
	active := ts.sessions.Stats().Active
	resp, body := cfDo(t, http.MethodDelete, s.url, nil)
	cfStatus(t, resp, body, http.StatusOK)
	if st := ts.sessions.Stats(); st.Active != active-1 {
		t.Errorf("active sessions %d after DELETE, want %d", st.Active, active-1)
	}
	resp, body = cfDo(t, http.MethodDelete, s.url, nil)
	cfProblem(t, resp, body, http.StatusNotFound)
	resp, body = cfPatch(t, s, cfFrag(s.offer, nil, true), cfFragType, s.etag)
	cfProblem(t, resp, body, http.StatusNotFound)
	start := time.Now()
	eventually(t, 15*time.Second, "the client's connection to leave connected", func() bool {
		return pc.ConnectionState() != webrtc.PeerConnectionStateConnected
	})
	t.Logf("client connection %s %s after DELETE", pc.ConnectionState(), time.Since(start).Round(time.Millisecond))
}

// cfCheckTrickle: PATCH S with the current ETag and a candidate → 204, no
// body, no ETag.
func cfCheckTrickle(t *testing.T, s cfSess) {
	t.Helper()
	cands := cfOwnCandidates(s.offer)
	if len(cands) == 0 {
		t.Fatal("offer has no candidates")
	}
	for _, frag := range []string{cfFrag(s.offer, cands[:1], false), cfFrag(s.offer, cands, true)} {
		resp, body := cfPatch(t, s, frag, cfFragType, s.etag)
		cfStatus(t, resp, body, http.StatusNoContent)
		if body != "" || resp.Header.Get("ETag") != "" {
			t.Errorf("trickle 204 with body %q, ETag %q: want neither", body, resp.Header.Get("ETag"))
		}
	}
}

// cfCheckPatchTypes: PATCH with other media types → 415 + Accept-Patch; a
// malformed fragment → 400.
func cfCheckPatchTypes(t *testing.T, s cfSess) {
	t.Helper()
	frag := cfFrag(s.offer, cfOwnCandidates(s.offer), true)
	for _, ct := range []string{"application/sdp", "text/plain"} {
		resp, body := cfPatch(t, s, frag, ct, s.etag)
		cfProblem(t, resp, body, http.StatusUnsupportedMediaType)
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Accept-Patch")); mt != cfFragType {
			t.Errorf("PATCH %s: Accept-Patch %q, want %s", ct, resp.Header.Get("Accept-Patch"), cfFragType)
		}
	}
	for _, bad := range []string{
		"this is not an SDP fragment\r\n",
		"a=ice-ufrag:x\r\na=ice-pwd:y\r\na=candidate:garbage\r\n",
		"a=candidate:1 1 udp notanumber 127.0.0.1 5000 typ host\r\n",
	} {
		resp, body := cfPatch(t, s, bad, cfFragType, s.etag)
		cfProblem(t, resp, body, http.StatusBadRequest)
	}
}

// cfCheckPreconditions: PATCH without If-Match → 428; a stale tag → 412.
func cfCheckPreconditions(t *testing.T, s cfSess) {
	t.Helper()
	frag := cfFrag(s.offer, cfOwnCandidates(s.offer), true)
	resp, body := cfPatch(t, s, frag, cfFragType, "")
	cfProblem(t, resp, body, http.StatusPreconditionRequired)
	for _, stale := range []string{`"stale"`, `W/` + s.etag, `"` + strings.Trim(s.etag, `"`) + `x"`} {
		resp, body = cfPatch(t, s, frag, cfFragType, stale)
		cfProblem(t, resp, body, http.StatusPreconditionFailed)
	}
}

// C25: DELETE S → 200, then DELETE/PATCH → 404, and the client's peer
// connection leaves connected (close_notify, consent revoked).
func TestC25_DeleteEndsSession(t *testing.T) {
	ts := newTestServer(t)
	pub := cfPublish(t, ts, cfAPI(t), "live/c25")
	cfConnected(t, pub.pc)
	cfCheckDelete(t, ts, cfSessOf(t, ts, pub), pub.pc)
	if st := ts.sessions.Stats(); st.Active != 0 || st.Deleted != 1 {
		t.Errorf("stats after DELETE: %+v", st)
	}
}

// C26: DELETE with a wrong If-Match is still 200.
func TestC26_DeleteIgnoresIfMatch(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	s, _ := cfCreate(t, ts, ts.URL+"/whip/live/c26", offer)
	resp, body := cfDo(t, http.MethodDelete, s.url, nil, "If-Match", `"bogus"`)
	cfStatus(t, resp, body, http.StatusOK)
	resp, body = cfDo(t, http.MethodGet, s.url, nil)
	cfProblem(t, resp, body, http.StatusNotFound)
}

// C27: trickle PATCH with the current ETag → 204, empty body, no ETag.
func TestC27_TricklePatch204(t *testing.T) {
	ts := newTestServer(t)
	pub := cfPublish(t, ts, nil, "live/c27")
	cfConnected(t, pub.pc)
	cfCheckTrickle(t, cfSessOf(t, ts, pub))
}

// C28: PATCH with application/sdp or text/plain → 415 + Accept-Patch; a
// malformed fragment → 400.
func TestC28_PatchMediaType415Malformed400(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	s, _ := cfCreate(t, ts, ts.URL+"/whip/live/c28", offer)
	cfCheckPatchTypes(t, s)
}

// C29: PATCH without If-Match → 428; with a stale entity-tag → 412.
func TestC29_PatchPreconditions(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	s, _ := cfCreate(t, ts, ts.URL+"/whip/live/c29", offer)
	cfCheckPreconditions(t, s)
}

// C30 (and H5): candidates the server cannot or will not use (TCP, mDNS
// .local, FQDN, link-local and cloud-metadata addresses) are dropped
// silently: still 204, and the session keeps working.
func TestC30_UnusableCandidatesDiscarded(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/c30", 25)
	p, video := cfView(t, ts, nil, "live/c30")
	next(t, video, 10*time.Second)
	s := cfSessOf(t, ts, p)
	cands := []string{
		"candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
		"candidate:2 1 udp 2122260223 0c2ba3a6-2c55-4a3c-a0a6-1c2e3b4a5d6f.local 50000 typ host",
		"candidate:3 1 udp 2122260223 turn.example.com 3478 typ host",
		"candidate:4 1 udp 2122260223 169.254.169.254 80 typ host",
		"candidate:5 1 udp 2122260223 fe80::1 5000 typ host",
		"candidate:6 1 udp 1686052607 169.254.169.254 80 typ srflx raddr 0.0.0.0 rport 0",
	}
	for _, c := range cands {
		resp, body := cfPatch(t, s, cfFrag(s.offer, []string{c}, false), cfFragType, s.etag)
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("trickle %q: %d %s, want 204", c, resp.StatusCode, body)
		}
	}
	resp, body := cfPatch(t, s, cfFrag(s.offer, cands, true), cfFragType, s.etag)
	cfStatus(t, resp, body, http.StatusNoContent)
	cfFresh(t, video)
}

// C31: an ICE restart PATCH → 200 with a trickle-ice-sdpfrag holding the
// new server credentials, candidates, end-of-candidates and the answer's
// ice-lite/ice-options, and a new strong ETag; the old one is then stale.
// (Media after a restart: TestICERestartThenMedia in ice_test.go.)
func TestC31_ICERestartFragment(t *testing.T) {
	ts := newTestServer(t)
	pub := cfPublish(t, ts, nil, "live/c31")
	cfConnected(t, pub.pc)
	s := cfSessOf(t, ts, pub)
	frag := "a=ice-ufrag:cfrs\r\na=ice-pwd:cfrestartpasswordcfrestart\r\n" +
		strings.SplitN(cfFrag(s.offer, cfOwnCandidates(s.offer), true), "\r\n", 3)[2]
	resp, body := cfPatch(t, s, frag, cfFragType, "*")
	cfStatus(t, resp, body, http.StatusOK)
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != cfFragType {
		t.Errorf("restart Content-Type %q, want %s", resp.Header.Get("Content-Type"), cfFragType)
	}
	etag := resp.Header.Get("ETag")
	cfCheckETag(t, etag)
	if etag == s.etag {
		t.Errorf("ETag %s did not change on restart", etag)
	}
	lines := cfAll(body)
	answer := cfAll(pub.answer)
	for _, p := range []string{"a=ice-ufrag:", "a=ice-pwd:"} {
		got := cfValues(lines, p)
		if len(got) != 1 || got[0] == "" || got[0] == cfValues(answer, p)[0] {
			t.Errorf("restart fragment %s%q: want one new value (old %q)", p, got, cfValues(answer, p))
		}
	}
	if len(cfValues(lines, "a=candidate:")) == 0 {
		t.Errorf("restart fragment has no candidates:\n%s", body)
	}
	if !slices.Contains(lines, "a=end-of-candidates") {
		t.Errorf("restart fragment lacks a=end-of-candidates:\n%s", body)
	}
	if slices.Contains(answer, "a=ice-lite") != slices.Contains(lines, "a=ice-lite") {
		t.Errorf("ice-lite differs between answer and restart fragment")
	}
	if a, f := cfValues(answer, "a=ice-options:"), cfValues(lines, "a=ice-options:"); len(a) > 0 && !slices.Equal(a[:1], f) {
		t.Errorf("ice-options: answer %q, restart fragment %q", a, f)
	}
	resp, body = cfPatch(t, s, cfFrag(s.offer, nil, true), cfFragType, s.etag)
	cfProblem(t, resp, body, http.StatusPreconditionFailed)
	resp, body = cfPatch(t, s, frag, cfFragType, etag)
	cfStatus(t, resp, body, http.StatusNoContent)
}

// C33: a restart that cannot be satisfied (no ice-pwd) → 4xx, and the
// session stays up on the old ICE session: same ETag, media still flows.
func TestC33_FailedRestartKeepsSession(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/c33", 25)
	p, video := cfView(t, ts, nil, "live/c33")
	next(t, video, 10*time.Second)
	s := cfSessOf(t, ts, p)
	rest := strings.SplitN(cfFrag(s.offer, cfOwnCandidates(s.offer), true), "\r\n", 3)[2]
	for _, frag := range []string{
		"a=ice-ufrag:cfnewufrag\r\n" + rest,
		"a=ice-pwd:cfnewpasswordcfnewpassword\r\n" + rest,
	} {
		resp, body := cfPatch(t, s, frag, cfFragType, "*")
		if resp.StatusCode/100 != 4 {
			t.Fatalf("restart without ice-pwd or ice-ufrag: %d %s, want 4xx", resp.StatusCode, body)
		}
		cfProblem(t, resp, body, resp.StatusCode)
	}
	resp, body := cfPatch(t, s, cfFrag(s.offer, nil, true), cfFragType, s.etag)
	cfStatus(t, resp, body, http.StatusNoContent)
	cfFresh(t, video)
	if p.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		t.Errorf("viewer state %s after a failed restart", p.pc.ConnectionState())
	}
}

// C34: PATCH/DELETE (and GET) on an unknown session → 404.
func TestC34_UnknownSession404(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	for _, id := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "0b6ccd86-4a8c-4b4f-9c55-0d1f8b6c2a11", "x", "c34"} {
		s := cfSess{url: ts.URL + "/sessions/" + id, etag: `"x"`, offer: offer}
		resp, body := cfPatch(t, s, cfFrag(offer, nil, true), cfFragType, s.etag)
		cfProblem(t, resp, body, http.StatusNotFound)
		resp, body = cfPatch(t, s, cfFrag(offer, nil, true), cfFragType, "*")
		cfProblem(t, resp, body, http.StatusNotFound)
		resp, body = cfDo(t, http.MethodDelete, s.url, nil)
		cfProblem(t, resp, body, http.StatusNotFound)
		resp, body = cfDo(t, http.MethodGet, s.url, nil)
		cfProblem(t, resp, body, http.StatusNotFound)
	}
}
