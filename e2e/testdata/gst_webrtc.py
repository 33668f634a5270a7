#!/usr/bin/python3
"""A WHIP publisher and WHEP viewer built on GStreamer's webrtcbin.

The e2e tests use it as a WebRTC peer that is neither pion nor Chromium
(gstreamer_test.go). The WHIP/WHEP exchange is done here with urllib:
Debian 12 packages no whipsink/whipclientsink. It does not trickle: it
waits for ICE gathering to complete, POSTs the whole offer and applies the
201's answer; at the end it DELETEs the Location it got.

    gst_webrtc.py check   --codec vp8|h264
    gst_webrtc.py publish --url http://HOST/whip/NAME --codec vp8|h264
    gst_webrtc.py view    --url http://HOST/whep/NAME

The bearer token comes from --token or the environment's GST_WEBRTC_TOKEN
(which keeps it out of the process list). ICE gathers on 127.0.0.1 only
unless --ice-address or --all-interfaces says otherwise.

The publisher sends videotestsrc and audiotestsrc (both live) until
--duration passes, SIGTERM or SIGINT arrives, or (--stop-on-eof) its stdin
closes. The viewer decodes what it receives and stops once it has decoded
--min-frames video frames and --min-audio audio buffers.

The last line of stdout is the result, one JSON object (a publisher first
prints {"event": "connected", "location": ...} once media flows); progress
and GStreamer's own messages go to stderr. Exit status: 0 success, 1 failure
(the JSON has "error"), 2 usage, 3 GStreamer or a needed plugin is missing
(the JSON has "missing").

Every wait has a deadline. Call it with /usr/bin/python3 (Debian's, which
has python3-gi), not a pyenv interpreter without gi.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

EXIT_OK, EXIT_FAIL, EXIT_MISSING = 0, 1, 3  # 2: argparse's usage error

# Elements each role needs, by codec; "check" reports those missing.
COMMON = ["webrtcbin", "nicesrc", "nicesink", "dtlssrtpenc", "dtlssrtpdec",
          "srtpenc", "srtpdec", "rtpbin"]
PUBLISH = {
    "vp8": ["videotestsrc", "videoconvert", "vp8enc", "rtpvp8pay",
            "audiotestsrc", "audioconvert", "audioresample", "opusenc", "rtpopuspay"],
    "h264": ["videotestsrc", "videoconvert", "h264parse", "rtph264pay",
             "audiotestsrc", "audioconvert", "audioresample", "opusenc", "rtpopuspay"],
}
VIEW = {
    "vp8": ["decodebin", "rtpvp8depay", "vp8dec", "rtpopusdepay", "opusdec", "fakesink"],
    "h264": ["decodebin", "rtph264depay", "h264parse", "rtpopusdepay", "opusdec", "fakesink"],
}
# H.264 encoders and decoders, best first; one of each is enough.
H264_ENCODERS = ["x264enc", "openh264enc"]
H264_DECODERS = ["avdec_h264", "openh264dec"]

VIDEO_PT = {"vp8": 96, "h264": 102}
AUDIO_PT = 111
H264_PROFILE = "42e01f"  # Constrained Baseline 3.1, what browsers decode


def log(msg):
    print("gst_webrtc: " + msg, file=sys.stderr, flush=True)


def finish(code, result):
    """Prints the result line and exits at once: os._exit skips the
    interpreter's teardown, where pygobject would otherwise finalize
    GStreamer objects in an arbitrary order and print GLib criticals."""
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstSdp", "1.0")
    gi.require_version("GstWebRTC", "1.0")
    gi.require_version("Nice", "0.1")
    from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Nice
except (ImportError, ValueError) as e:
    # ValueError: gi is there but a typelib (GstWebRTC: gir1.2-gst-plugins-bad-1.0,
    # Nice: gir1.2-nice-0.1) is not.
    finish(EXIT_MISSING, {"ok": False, "missing": ["python3-gst-1.0", "gir1.2-gst-plugins-bad-1.0", "gir1.2-nice-0.1"],
                          "error": "cannot load GStreamer's Python bindings in %s: %s" % (sys.executable, e)})


def missing_elements(role, codec):
    names = list(COMMON)
    if role in ("publish", "check"):
        names += PUBLISH[codec]
    if role in ("view", "check"):
        names += VIEW[codec]
    missing = [n for n in dict.fromkeys(names) if Gst.ElementFactory.find(n) is None]
    if codec == "h264":
        if role in ("publish", "check") and not any(Gst.ElementFactory.find(n) for n in H264_ENCODERS):
            missing.append(" or ".join(H264_ENCODERS))
        if role in ("view", "check") and not any(Gst.ElementFactory.find(n) for n in H264_DECODERS):
            missing.append(" or ".join(H264_DECODERS))
    return missing


def rtp_caps(kind, codec, fmtp=False):
    """RTP caps for a transceiver. The viewer's H.264 caps carry the fmtp
    it offers (fmtp=True); the publisher's leave it to the payloader,
    which derives profile-level-id from the encoder's SPS."""
    if kind == "audio":
        s = ("application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,"
             "encoding-params=(string)2,payload=%d" % AUDIO_PT)
        return s + ",rtcp-fb-transport-cc=(boolean)true"
    s = "application/x-rtp,media=video,encoding-name=%s,clock-rate=90000,payload=%d" % (codec.upper(), VIDEO_PT[codec])
    if codec == "h264" and fmtp:
        s += (",packetization-mode=(string)1,profile-level-id=(string)%s"
              ",level-asymmetry-allowed=(string)1" % H264_PROFILE)
    # Ask for NACK and PLI: wishcast forwards keyframe requests to the publisher.
    return s + ",rtcp-fb-nack=(boolean)true,rtcp-fb-nack-pli=(boolean)true"


def video_encoder(codec):
    if codec == "vp8":
        return ("vp8enc deadline=1 cpu-used=8 keyframe-max-dist=30 target-bitrate=600000 "
                "error-resilient=partitions ! rtpvp8pay picture-id-mode=15-bit")
    enc = next(n for n in H264_ENCODERS if Gst.ElementFactory.find(n))
    if enc == "x264enc":
        enc = "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bframes=0 bitrate=600"
    else:
        enc = "openh264enc gop-size=30 bitrate=600000 complexity=low"
    return ("%s ! video/x-h264,profile=constrained-baseline ! h264parse "
            "! rtph264pay config-interval=-1 aggregate-mode=zero-latency" % enc)


class Failure(Exception):
    """Ends the run with exit status 1 and this message."""


class Timeout(Failure):
    """A wait ran out of time."""


class Peer:
    """One webrtcbin in a pipeline, a GLib main loop on a thread of its
    own, and the state the main thread waits on (guarded by cond)."""

    def __init__(self, ice_addresses):
        self.cond = threading.Condition()
        # cond guards all of the following.
        self.fatal = None  # an error that ends every wait
        self.stop_reason = None  # why a publisher stops (signal, stdin)
        self.negotiation_needed = False
        self.replies = {}  # promise name -> its reply (Gst.Structure or None)
        self.gathering = GstWebRTC.WebRTCICEGatheringState.NEW
        self.connection = GstWebRTC.WebRTCPeerConnectionState.NEW
        self.ice_connection = GstWebRTC.WebRTCICEConnectionState.NEW
        self.sent = {"video": 0, "audio": 0}  # RTP packets handed to webrtcbin
        self.decoded = {"video": 0, "audio": 0}  # decoded buffers
        self.first = {}  # kind -> monotonic time of its first decoded buffer
        self.received = {}  # kind -> encoding-name of what webrtcbin receives
        self.video_size = None  # (width, height) of the decoded video

        self.pipeline = Gst.Pipeline.new("peer")
        self.webrtc = Gst.ElementFactory.make("webrtcbin", "webrtc")
        self.webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        self.webrtc.set_property("latency", 100)
        self.pipeline.add(self.webrtc)
        self.restrict_ice(ice_addresses)
        self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        for prop in ("ice-gathering-state", "ice-connection-state", "connection-state"):
            self.webrtc.connect("notify::" + prop, self.on_state)
        self.webrtc.connect("pad-added", self.on_pad_added)

        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_bus_error)
        for sig in (signal.SIGTERM, signal.SIGINT):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, self.on_signal, sig)
        self.loop = GLib.MainLoop()
        threading.Thread(target=self.loop.run, name="glib", daemon=True).start()

    def restrict_ice(self, addresses):
        """Makes libnice gather on these addresses only. On its own it
        gathers on every interface but loopback (nice_interfaces_get_local_ips
        skips IFF_LOOPBACK): where lo is the only interface (a network
        namespace) it gathers nothing and gathering never completes, and
        elsewhere it pairs another interface's address with the 127.0.0.1
        the test server announces, which works only because Linux routes
        between local addresses. nice_agent_add_local_address replaces
        the interface list with the addresses given."""
        if not addresses:
            return
        ice = self.webrtc.get_property("ice-agent")
        agent = ice.get_property("agent")
        for a in addresses:
            addr = Nice.Address.new()
            if not addr.set_from_string(a):
                raise Failure("--ice-address %r is not an IP address" % a)
            if not agent.add_local_address(addr):
                raise Failure("libnice refused local address %s" % a)
        # Keep the Python wrappers alive as long as the element.
        self._ice, self._agent = ice, agent

    # --- callbacks, on GStreamer's and GLib's threads

    def update(self, **kw):
        with self.cond:
            for k, v in kw.items():
                setattr(self, k, v)
            self.cond.notify_all()

    def fail(self, msg):
        with self.cond:
            if self.fatal is None:
                self.fatal = msg
            self.cond.notify_all()

    def on_negotiation_needed(self, _element):
        self.update(negotiation_needed=True)

    def on_state(self, element, pspec):
        value = element.get_property(pspec.name)
        log("%s: %s" % (pspec.name, value.value_nick))
        if pspec.name == "ice-gathering-state":
            self.update(gathering=value)
        elif pspec.name == "ice-connection-state":
            self.update(ice_connection=value)
            if value == GstWebRTC.WebRTCICEConnectionState.FAILED:
                self.fail("ICE failed: no candidate pair works")
        else:
            self.update(connection=value)
            if value == GstWebRTC.WebRTCPeerConnectionState.FAILED:
                self.fail("the peer connection failed")

    def on_bus_error(self, _bus, msg):
        err, dbg = msg.parse_error()
        self.fail("GStreamer error from %s: %s (%s)" % (msg.src.get_name(), err.message, dbg))

    def on_signal(self, sig):
        log("signal %d: stopping" % sig)
        self.update(stop_reason="signal %d" % sig)
        return GLib.SOURCE_CONTINUE

    def stop_on_eof(self):
        """Stops the peer when stdin closes: the parent's way of saying
        stop, and it also happens when the parent dies."""
        def read():
            try:
                sys.stdin.buffer.read()
            except OSError:
                pass
            self.update(stop_reason="stdin closed")
        threading.Thread(target=read, name="stdin", daemon=True).start()

    def count_sent(self, pad, kind):
        def probe(_pad, _info):
            with self.cond:
                self.sent[kind] += 1
            return Gst.PadProbeReturn.OK
        pad.add_probe(Gst.PadProbeType.BUFFER, probe)

    def on_pad_added(self, _element, pad):
        """Received media: webrtcbin's src pad -> decodebin -> fakesink;
        the fakesink's pad counts decoded buffers."""
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        st = (pad.get_current_caps() or pad.query_caps(None)).get_structure(0)
        kind = st.get_string("media") or "unknown"
        log("receiving %s %s" % (kind, st.get_string("encoding-name")))
        with self.cond:
            self.received[kind] = st.get_string("encoding-name")
        decode = Gst.ElementFactory.make("decodebin")
        decode.connect("pad-added", self.on_decoded_pad, kind)
        self.pipeline.add(decode)
        decode.sync_state_with_parent()
        if pad.link(decode.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            self.fail("cannot link the received %s to decodebin" % kind)

    def on_decoded_pad(self, _decode, pad, kind):
        caps = pad.get_current_caps() or pad.query_caps(None)
        log("decoded %s: %s" % (kind, caps.to_string()))
        if not caps.get_structure(0).get_name().startswith(("video/x-raw", "audio/x-raw")):
            return
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        sink.set_property("async", False)
        self.pipeline.add(sink)
        sink.sync_state_with_parent()
        sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self.on_decoded, kind)
        if pad.link(sink.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            self.fail("cannot link the decoded %s to fakesink" % kind)

    def on_decoded(self, pad, _info, kind):
        with self.cond:
            self.decoded[kind] += 1
            if kind not in self.first:
                self.first[kind] = time.monotonic()
                caps = pad.get_current_caps()
                if kind == "video" and caps is not None:
                    st = caps.get_structure(0)
                    self.video_size = (st.get_int("width")[1], st.get_int("height")[1])
            self.cond.notify_all()
        return Gst.PadProbeReturn.OK

    # --- the main thread's steps

    def wait_for(self, what, timeout, pred):
        """Waits at most timeout seconds until pred() (called under cond)
        holds. A fatal error, or a stop request while pred is false, ends
        the wait with Failure; running out of time with Timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.fatal is not None:
                    raise Failure("%s (while waiting for %s)" % (self.fatal, what))
                if pred():
                    return
                if self.stop_reason is not None:
                    raise Failure("stopped by %s while waiting for %s" % (self.stop_reason, what))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("timed out after %gs waiting for %s" % (timeout, what))
                self.cond.wait(left)

    def call(self, signal_name, timeout, *args):
        """Emits one of webrtcbin's promise-taking action signals and waits
        for the reply."""
        def done(p):
            with self.cond:
                self.replies[signal_name] = p.get_reply()
                self.cond.notify_all()
        with self.cond:
            self.replies.pop(signal_name, None)
        self.webrtc.emit(signal_name, *args, Gst.Promise.new_with_change_func(done))
        self.wait_for("webrtcbin's reply to " + signal_name, timeout, lambda: signal_name in self.replies)
        reply = self.replies[signal_name]
        if reply is not None and reply.has_field("error"):
            raise Failure("%s: %s" % (signal_name, reply.get_value("error").message))
        return reply

    def start(self):
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise Failure("the pipeline does not start (set_state PLAYING failed)")

    def make_offer(self, timeout):
        """The whole offer, candidates included: create-offer,
        set-local-description, then wait for ICE gathering to complete."""
        self.wait_for("webrtcbin's on-negotiation-needed", timeout, lambda: self.negotiation_needed)
        offer = self.call("create-offer", timeout, None).get_value("offer")
        self.call("set-local-description", timeout, offer)
        self.wait_for("ICE gathering to complete", timeout,
                      lambda: self.gathering == GstWebRTC.WebRTCICEGatheringState.COMPLETE)
        return self.webrtc.get_property("local-description").sdp.as_text()

    def apply_answer(self, text, timeout):
        res, msg = GstSdp.SDPMessage.new_from_text(text)
        if res != GstSdp.SDPResult.OK:
            raise Failure("the answer is not SDP that GStreamer can parse (%s)" % res.value_nick)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        self.call("set-remote-description", timeout, answer)

    def wait_connected(self, timeout):
        self.wait_for("the peer connection to connect", timeout,
                      lambda: self.connection == GstWebRTC.WebRTCPeerConnectionState.CONNECTED)

    def close(self, timeout=5.0):
        """Stops the pipeline, giving up after timeout: the process exits
        right after, and a stuck element must not keep it running."""
        t = threading.Thread(target=self.pipeline.set_state, args=(Gst.State.NULL,), daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            log("the pipeline did not stop within %gs; exiting anyway" % timeout)
        self.loop.quit()


def add_sender(peer, kind, description):
    """Links a source bin that ends in RTP to a new sink pad of webrtcbin,
    makes its transceiver sendonly and counts the packets it sends."""
    branch = Gst.parse_bin_from_description(description, True)
    peer.pipeline.add(branch)
    sink = peer.webrtc.request_pad_simple("sink_%u")
    if branch.get_static_pad("src").link(sink) != Gst.PadLinkReturn.OK:
        raise Failure("cannot link the %s branch to webrtcbin" % kind)
    # A request pad makes a sendrecv transceiver; WHIP sends only.
    sink.get_property("transceiver").set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
    peer.count_sent(branch.get_static_pad("src"), kind)


def http(method, url, token, body=None, timeout=10.0):
    """One request; (status, headers, body) for every HTTP status."""
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        headers["Content-Type"] = "application/sdp"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise Failure("%s %s: %s" % (method, url, e))


def post_offer(args, offer, result):
    """POSTs the offer and checks the 201. A WHEP 409 (no live publisher
    yet) is retried after its Retry-After (at most 1 s) until --timeout.
    Returns (session URL, answer, monotonic time the 201's POST started)."""
    deadline = time.monotonic() + args.timeout
    while True:
        started = time.monotonic()
        status, headers, body = http("POST", args.url, args.token, offer.encode())
        result["post_status"] = status
        result["post_attempts"] = result.get("post_attempts", 0) + 1
        if status == 409 and args.role == "view" and time.monotonic() < deadline:
            try:
                wait = min(float(headers.get("Retry-After", "1")), 1.0)
            except ValueError:
                wait = 1.0
            log("POST %s: 409, no live publisher yet; again in %gs" % (args.url, wait))
            time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
            continue
        text = body.decode(errors="replace")
        if status != 201:
            raise Failure("POST %s answered %d, want 201: %s" % (args.url, status, text.strip()))
        ctype = headers.get("Content-Type", "")
        if not ctype.lower().startswith("application/sdp"):
            raise Failure("POST %s answered Content-Type %r, want application/sdp" % (args.url, ctype))
        loc = headers.get("Location")
        if not loc:
            raise Failure("POST %s answered 201 without a Location" % args.url)
        return urllib.parse.urljoin(args.url, loc), text, started


def publish(peer, args):
    video = ("videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 "
             "! videoconvert ! queue ! %s ! capsfilter caps=\"%s\"" % (video_encoder(args.codec), rtp_caps("video", args.codec)))
    audio = ("audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample "
             "! opusenc ! rtpopuspay ! capsfilter caps=\"%s\"" % rtp_caps("audio", None))
    add_sender(peer, "video", video)
    add_sender(peer, "audio", audio)
    if args.stop_on_eof:
        peer.stop_on_eof()


def view(peer, _args):
    for kind, caps in (("video", rtp_caps("video", "vp8") + ";" + rtp_caps("video", "h264", fmtp=True)),
                       ("audio", rtp_caps("audio", None))):
        tr = peer.webrtc.emit("add-transceiver", GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
                              Gst.Caps.from_string(caps))
        if tr is None:
            raise Failure("webrtcbin refused a recvonly %s transceiver" % kind)


def run(args):
    missing = missing_elements(args.role, args.codec)
    if missing:
        finish(EXIT_MISSING, {"ok": False, "missing": missing,
                              "error": "GStreamer elements missing: " + ", ".join(missing)})
    if args.role == "check":
        finish(EXIT_OK, {"ok": True, "gstreamer": Gst.version_string()})

    result = {"ok": False, "role": args.role, "url": args.url, "gstreamer": Gst.version_string()}
    peer = None
    location = None
    posted = None

    def since(t0, t):
        return None if t0 is None or t is None else round((t - t0) * 1000)

    try:
        peer = Peer(args.ice_address)
        if args.role == "publish":
            result["video_encoder"] = video_encoder(args.codec).split()[0]
            publish(peer, args)
        else:
            view(peer, args)
        peer.start()
        offer = peer.make_offer(args.timeout)
        result["offer"] = offer
        log("offer:\n" + offer)
        location, answer, posted = post_offer(args, offer, result)
        result["location"] = urllib.parse.urlsplit(location).path
        result["answer"] = answer
        log("answer (Location %s):\n%s" % (location, answer))
        peer.apply_answer(answer, args.timeout)
        peer.wait_connected(args.timeout)
        result["connected_ms"] = since(posted, time.monotonic())
        log("connected %d ms after the POST" % result["connected_ms"])

        if args.role == "publish":
            # Tell the parent where the session is while media flows.
            print(json.dumps({"event": "connected", "location": result["location"]}), flush=True)
            try:
                peer.wait_for("a stop request", args.duration, lambda: peer.stop_reason is not None)
                result["stopped_by"] = peer.stop_reason
            except Timeout:
                result["stopped_by"] = "duration"
            with peer.cond:
                if peer.sent["video"] == 0 or peer.sent["audio"] == 0:
                    raise Failure("sent no RTP for some kind: %s" % peer.sent)
        else:
            peer.wait_for("%d decoded video frames and %d decoded audio buffers" % (args.min_frames, args.min_audio),
                          args.timeout,
                          lambda: peer.decoded["video"] >= args.min_frames and peer.decoded["audio"] >= args.min_audio)
        result["ok"] = True
    except Failure as e:
        result["error"] = str(e)
        log("FAILED: %s" % e)
    except Exception as e:  # a bug here, or GLib.Error from GStreamer
        result["error"] = "%s: %s" % (type(e).__name__, e)
        log("FAILED: %s\n%s" % (result["error"], traceback.format_exc()))
    finally:
        if peer is not None:
            with peer.cond:
                result["sent_packets"] = dict(peer.sent)
                result["video_frames"] = peer.decoded["video"]
                result["audio_buffers"] = peer.decoded["audio"]
                result["received"] = dict(peer.received)
                result["video_size"] = peer.video_size
                result["first_decoded_ms"] = {k: since(posted, t) for k, t in peer.first.items()}
                result["connection_state"] = peer.connection.value_nick
                result["ice_connection_state"] = peer.ice_connection.value_nick
        if location is not None:
            # End the session, also after a failure: the server would
            # otherwise keep it until ICE consent expires.
            try:
                status, _, body = http("DELETE", location, args.token)
            except Failure as e:
                status, body = 0, str(e).encode()
            result["delete_status"] = status
            if status != 200 and result["ok"]:
                result["ok"] = False
                result["error"] = "DELETE %s answered %d, want 200: %s" % (location, status, body.decode(errors="replace").strip())
        if peer is not None:
            peer.close()
    finish(EXIT_OK if result["ok"] else EXIT_FAIL, result)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("role", choices=["check", "publish", "view"])
    p.add_argument("--url", help="the WHIP or WHEP endpoint")
    p.add_argument("--token", default=os.environ.get("GST_WEBRTC_TOKEN", ""),
                   help="bearer token (default: $GST_WEBRTC_TOKEN)")
    p.add_argument("--codec", choices=["vp8", "h264"], default="vp8",
                   help="video codec to publish (check: to look for)")
    p.add_argument("--timeout", type=float, default=20, help="bound of each wait, in seconds")
    p.add_argument("--duration", type=float, default=60, help="publish: longest time to send")
    p.add_argument("--stop-on-eof", action="store_true", help="publish: stop when stdin closes")
    p.add_argument("--min-frames", type=int, default=30, help="view: decoded video frames to wait for")
    p.add_argument("--min-audio", type=int, default=10, help="view: decoded audio buffers to wait for")
    p.add_argument("--ice-address", action="append", default=None,
                   help="gather ICE candidates on this address only (repeatable; default 127.0.0.1)")
    p.add_argument("--all-interfaces", action="store_true",
                   help="let libnice gather on every interface but loopback (its default)")
    args = p.parse_args()
    if args.role != "check" and not args.url:
        p.error("--url is required for %s" % args.role)
    if args.all_interfaces:
        args.ice_address = []
    elif not args.ice_address:
        args.ice_address = ["127.0.0.1"]
    Gst.init(None)
    run(args)


if __name__ == "__main__":
    main()
