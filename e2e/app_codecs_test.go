//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// preferH264JS makes a Chromium page prefer H.264 as Safari does: its
// codec capabilities list H.264 first, and every video transceiver it
// makes offers H.264 first unless the page orders its codecs itself.
const preferH264JS = `(() => {
	const first = (codecs) => [...codecs.filter((c) => /h264/i.test(c.mimeType)), ...codecs.filter((c) => !/h264/i.test(c.mimeType))];
	for (const cls of [RTCRtpSender, RTCRtpReceiver]) {
		const caps = cls.getCapabilities.bind(cls);
		cls.getCapabilities = (kind) => {
			const c = caps(kind);
			return kind === 'video' && c ? { ...c, codecs: first(c.codecs) } : c;
		};
	}
	const add = RTCPeerConnection.prototype.addTransceiver;
	RTCPeerConnection.prototype.addTransceiver = function (what, init) {
		const t = add.call(this, what, init);
		if ((typeof what === 'string' ? what : what.kind) === 'video') {
			t.setCodecPreferences(RTCRtpReceiver.getCapabilities('video').codecs);
		}
		return t;
	};
	return true;
})()`

// offeredVideoJS resolves to the video codecs a receive-only offer of the
// page's browser lists, space-separated.
const offeredVideoJS = `(async () => {
	const pc = new RTCPeerConnection();
	pc.addTransceiver('video', { direction: 'recvonly' });
	const offer = await pc.createOffer();
	pc.close();
	return [...offer.sdp.matchAll(/a=rtpmap:\d+ ([^/]+)\//g)].map((m) => m[1]).join(' ');
})()`

// codecOf returns the video codec name of the page's session of kind
// ("view" or "publish") on a stream starting with prefix ("" if none).
func (tb *tab) codecOf(kind, prefix string) string {
	tb.h.t.Helper()
	list, err := tb.appSessions()
	if err != nil {
		tb.h.fatalf("%s: stats: %v", tb.name, err)
	}
	for _, s := range list {
		if s.Kind == kind && strings.HasPrefix(s.Stream, prefix) {
			st := s.Inbound["video"]
			if kind == "publish" {
				st = s.Outbound["video"]
			}
			return strings.TrimPrefix(st.Codec, "video/")
		}
	}
	return ""
}

// Bob's browser prefers H.264 (as Safari does); Alice's Firefox has no
// H.264 decoder. When Alice watches Bob, his page learns from the request
// what she decodes and sends one of those: she plays his camera, with no
// transcoding on the way. When an admin in Chromium opens his camera
// first, his page sends the admin's first choice, one every browser
// decodes, and Alice, joining later, plays it too.
func TestWatchCodecForTheViewer(t *testing.T) {
	h, alice, bob := crossPeople(t)
	mustEvaluate[bool](bob, preferH264JS)
	// What an offer lists: getCapabilities names H.264 in a Firefox that
	// cannot decode it (no OpenH264 plugin).
	if got := mustEvaluate[string](alice, offeredVideoJS); strings.Contains(got, "H264") {
		skipNoted(t, "this Firefox decodes H.264 (%s): the case needs a viewer without it", got)
	}
	sameCodec := func(who string) {
		t.Helper()
		sent, got := bob.codecOf("publish", "users/bob"), alice.codecOf("view", "users/bob")
		t.Logf("%s: Bob's page sends %s, Alice's Firefox decodes %s", who, sent, got)
		if sent == "" || strings.EqualFold(sent, "H264") || !strings.EqualFold(sent, got) {
			h.fatalf("Bob's page sends %q and Alice's Firefox decodes %q; want the same codec, not H.264", sent, got)
		}
	}

	watchStart(alice, bob, "bob")
	sameCodec("Alice alone")
	watchLeave(alice, bob)

	admin := h.openApp("admin")
	admin.uiSignIn("admin", adminPassword)
	watchStart(admin, bob, "bob")
	alice.uiClick("[data-test=person-bob] [data-action=watch]")
	alice.waitAppDecoding("users/bob", "#player video")
	alice.waitPlaying("#player video")
	sameCodec("the admin first, then Alice")
	if got := admin.codecOf("view", "users/bob"); !strings.EqualFold(got, bob.codecOf("publish", "users/bob")) {
		h.fatalf("the admin decodes %q", got)
	}
}

// Bob's browser prefers H.264 and Alice's Firefox has none. Bob calls
// Alice, then Alice calls Bob: either way his page sends a codec her page
// said it decodes, and both see each other, with no transcoding.
func TestCallCodecForThePeer(t *testing.T) {
	h, alice, bob := crossPeople(t)
	mustEvaluate[bool](bob, preferH264JS)
	// What an offer lists: getCapabilities names H.264 in a Firefox that
	// cannot decode it (no OpenH264 plugin).
	if got := mustEvaluate[string](alice, offeredVideoJS); strings.Contains(got, "H264") {
		skipNoted(t, "this Firefox decodes H.264 (%s): the case needs a viewer without it", got)
	}
	for _, tc := range []struct {
		caller, callee *tab
		calleeName     string
		callerDisplay  string
	}{
		{bob, alice, "alice", "Bob"},
		{alice, bob, "bob", "Alice"},
	} {
		tc.caller.uiWaitJS(tc.calleeName+" to show as online", uiTimeout,
			`(() => { const b = document.querySelector('[data-test=person-`+tc.calleeName+`] [data-action=call]'); return !!b && !b.disabled; })()`)
		tc.caller.uiClick("[data-test=person-" + tc.calleeName + "] [data-action=call]")
		for _, tb := range []*tab{alice, bob} {
			tb.waitAppPublishing("calls/")
			tb.waitAppDecoding("calls/", "#call-remote video")
			tb.waitPlaying("#call-remote video")
		}
		sent, got := bob.codecOf("publish", "calls/"), alice.codecOf("view", "calls/")
		t.Logf("%s calls: Bob's page sends %s, Alice's Firefox decodes %s", tc.callerDisplay, sent, got)
		if sent == "" || strings.EqualFold(sent, "H264") || !strings.EqualFold(sent, got) {
			h.fatalf("Bob's page sends %q and Alice's Firefox decodes %q; want the same codec, not H.264", sent, got)
		}
		tc.caller.uiClick("#call-hangup")
		tc.callee.uiWaitText("#call-status", tc.callerDisplay+" hung up", mediaTimeout)
		for _, tb := range []*tab{alice, bob} {
			tb.uiWaitJS("the call's sessions to be gone", mediaTimeout,
				`window.wishcast.stats().then((l) => !l.some((s) => s.stream.startsWith('calls/')))`)
		}
		// The end screen goes by itself; the people list is back.
		tc.caller.uiWaitJS("the call screen to go", mediaTimeout, `document.getElementById('call-layer').hidden`)
		tc.callee.uiWaitJS("the call screen to go", mediaTimeout, `document.getElementById('call-layer').hidden`)
	}
}
