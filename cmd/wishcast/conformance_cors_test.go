package main

import (
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// CORS and Link headers (C13–C17).

// cfPreflight sends a CORS preflight from origin for method and headers.
func cfPreflight(t *testing.T, u, origin, method, headers string) (*http.Response, string) {
	t.Helper()
	return cfDo(t, http.MethodOptions, u, nil, "Origin", origin,
		"Access-Control-Request-Method", method, "Access-Control-Request-Headers", headers)
}

func cfWithCORS(c *Config) { c.CORS.AllowedOrigins = []string{cfOrigin} }

// cfCheckPreflight checks a 2xx preflight answer from an allowed origin.
func cfCheckPreflight(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("preflight %s: %d %s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != cfOrigin {
		t.Errorf("Access-Control-Allow-Origin %q, want %q", got, cfOrigin)
	}
	cfListHas(t, resp, "Access-Control-Allow-Methods", "POST", "PATCH", "DELETE")
	cfListHas(t, resp, "Access-Control-Allow-Headers", "Authorization", "Content-Type", "If-Match")
	if n, err := strconv.Atoi(resp.Header.Get("Access-Control-Max-Age")); err != nil || n <= 0 {
		t.Errorf("Access-Control-Max-Age %q, want a positive number", resp.Header.Get("Access-Control-Max-Age"))
	}
}

// C13: a CORS preflight without Authorization → 2xx with the CORS headers,
// on E and on S.
func TestC13_CORSPreflight(t *testing.T) {
	ts := newTestServer(t, cfWithCORS)
	resp, body := cfPreflight(t, ts.URL+"/whip/live/c13", cfOrigin, "POST", "authorization, content-type")
	cfCheckPreflight(t, resp, body)
	_, offer := cfOffer(t, nil, cfSendonly)
	s, _ := cfCreate(t, ts, ts.URL+"/whip/live/c13", offer)
	resp, body = cfPreflight(t, s.url, cfOrigin, "PATCH", "authorization, content-type, if-match")
	cfCheckPreflight(t, resp, body)
	resp, body = cfPreflight(t, s.url, cfOrigin, "DELETE", "authorization")
	cfCheckPreflight(t, resp, body)
}

// C14: every 200 to an OPTIONS on E carries Accept-Post: application/sdp.
func TestC14_OptionsAcceptPost(t *testing.T) {
	ts := newTestServer(t, cfWithCORS)
	for name, hdr := range map[string][]string{
		"plain":     nil,
		"preflight": {"Origin", cfOrigin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type"},
	} {
		resp, body := cfDo(t, http.MethodOptions, ts.URL+"/whip/live/c14", nil, hdr...)
		cfStatus(t, resp, body, http.StatusOK)
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Accept-Post")); mt != "application/sdp" {
			t.Errorf("%s OPTIONS: Accept-Post %q, want application/sdp", name, resp.Header.Get("Accept-Post"))
		}
	}
}

// cfICE configures STUN and TURN servers as in the example of C17.
func cfICE(c *Config) {
	c.WebRTC.STUNURLs = []string{"stun:stun.example.net"}
	c.WebRTC.TURNURLs = []string{"turn:turn.example.net?transport=udp", "turns:turn.example.net?transport=tcp"}
	c.WebRTC.TURNUsername = "user"
	c.WebRTC.TURNPassword = "myPassword"
}

// cfICELinks are the Link values C17 gives for cfICE.
var cfICELinks = []string{
	`<stun:stun.example.net>; rel="ice-server"`,
	`<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="myPassword"; credential-type="password"`,
	`<turns:turn.example.net?transport=tcp>; rel="ice-server"; username="user"; credential="myPassword"; credential-type="password"`,
}

func cfHasICELink(resp *http.Response) bool {
	for _, l := range resp.Header.Values("Link") {
		if strings.Contains(l, `rel="ice-server"`) || strings.Contains(l, "rel=ice-server") {
			return true
		}
	}
	return false
}

// C15: a CORS preflight gets no Link rel="ice-server", even with STUN/TURN
// configured (the 201 does get them, so the configuration is in effect).
func TestC15_PreflightHasNoIceServerLinks(t *testing.T) {
	ts := newTestServer(t, cfWithCORS, cfICE)
	_, offer := cfOffer(t, nil, cfSendonly)
	resp, body := cfPost(t, ts.URL+"/whip/live/c15", offer)
	cfStatus(t, resp, body, http.StatusCreated)
	if !cfHasICELink(resp) {
		t.Fatalf("201 has no ice-server Links although STUN/TURN are configured: %q", resp.Header.Values("Link"))
	}
	s := cfURL(t, ts, resp.Header.Get("Location"))
	for _, u := range []string{ts.URL + "/whip/live/c15", ts.URL + "/whep/live/c15", s} {
		resp, body := cfPreflight(t, u, cfOrigin, "POST", "authorization, content-type")
		if resp.StatusCode/100 != 2 {
			t.Errorf("preflight %s: %d %s", u, resp.StatusCode, body)
		}
		if cfHasICELink(resp) {
			t.Errorf("preflight %s carries ice-server Links: %q", u, resp.Header.Values("Link"))
		}
	}
}

// cfCheckCORS checks the CORS headers of a cross-origin response (C16).
func cfCheckCORS(t *testing.T, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != cfOrigin {
		t.Errorf("%s %s → %d: Access-Control-Allow-Origin %q, want %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, got, cfOrigin)
	}
	cfListHas(t, resp, "Access-Control-Expose-Headers", "Location", "ETag", "Link", "Accept-Post", "Accept-Patch")
}

// C16: every cross-origin response (201, 204, 200, 4xx) carries
// Access-Control-Allow-Origin and Access-Control-Expose-Headers.
func TestC16_CORSHeadersOnEveryResponse(t *testing.T) {
	ts := newTestServer(t, cfWithCORS)
	o := []string{"Origin", cfOrigin}
	_, offer := cfOffer(t, nil, cfSendonly)
	resp, body := cfPost(t, ts.URL+"/whip/live/c16", offer, o...)
	cfStatus(t, resp, body, http.StatusCreated)
	cfCheckCORS(t, resp)
	s := cfSess{url: cfURL(t, ts, resp.Header.Get("Location")), etag: resp.Header.Get("ETag"), offer: offer}

	resp, body = cfDo(t, http.MethodPost, ts.URL+"/whip/live/c16b", []byte(offer), append([]string{"Content-Type", "text/plain"}, o...)...)
	cfProblem(t, resp, body, http.StatusUnsupportedMediaType)
	cfCheckCORS(t, resp)

	_, view := cfOffer(t, nil, cfRecvonly)
	resp, body = cfPost(t, ts.URL+"/whep/live/nobody", view, o...)
	cfProblem(t, resp, body, http.StatusConflict)
	cfCheckCORS(t, resp)

	resp, body = cfDo(t, http.MethodPatch, s.url, []byte(cfFrag(offer, nil, true)), append([]string{"Content-Type", cfFragType, "If-Match", s.etag}, o...)...)
	cfStatus(t, resp, body, http.StatusNoContent)
	cfCheckCORS(t, resp)

	resp, body = cfDo(t, http.MethodPatch, s.url, []byte(cfFrag(offer, nil, true)), append([]string{"Content-Type", cfFragType, "If-Match", `"stale"`}, o...)...)
	cfProblem(t, resp, body, http.StatusPreconditionFailed)
	cfCheckCORS(t, resp)

	resp, body = cfDo(t, http.MethodDelete, s.url, nil, o...)
	cfStatus(t, resp, body, http.StatusOK)
	cfCheckCORS(t, resp)

	resp, body = cfDo(t, http.MethodDelete, s.url, nil, o...)
	cfProblem(t, resp, body, http.StatusNotFound)
	cfCheckCORS(t, resp)
}

// C17: with STUN and TURN configured, the 201 (WHIP and WHEP) carries
// ice-server Links in exactly the RFC 9725 §4.6 format, and no-store.
func TestC17_IceServerLinksFormat(t *testing.T) {
	ts := newTestServer(t, cfICE)
	_, offer := cfOffer(t, nil, cfSendonly)
	resp, body := cfPost(t, ts.URL+"/whip/live/c17", offer)
	cfStatus(t, resp, body, http.StatusCreated)
	checkLinks := func(resp *http.Response) {
		t.Helper()
		var got []string // the ice-server Links; extensions (C18) have their own
		for _, l := range resp.Header.Values("Link") {
			if strings.Contains(l, `rel="ice-server"`) {
				got = append(got, l)
			}
		}
		if !slices.Equal(got, cfICELinks) {
			t.Errorf("%s Link headers:\n got  %q\n want %q", resp.Request.URL.Path, got, cfICELinks)
		}
		if !slices.Contains(cfList(resp.Header.Get("Cache-Control")), "no-store") {
			t.Errorf("%s: Cache-Control %q, want no-store (the Links hold credentials)", resp.Request.URL.Path, resp.Header.Get("Cache-Control"))
		}
	}
	checkLinks(resp)
	startPublisher(t, ts, "live/c17w", 25)
	_, view := cfOffer(t, nil, cfRecvonly)
	resp, body = cfPost(t, ts.URL+"/whep/live/c17w", view)
	cfStatus(t, resp, body, http.StatusCreated)
	checkLinks(resp)
}
