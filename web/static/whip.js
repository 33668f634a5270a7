// whip.js: publishing a camera and microphone over WHIP (RFC 9725): one
// send-only transceiver per track of the local stream, on the shared
// Session plumbing.

import { streamPath } from './api.js';
import { Session } from './session.js';

// SIMULCAST_LAYERS are the encodings of a simulcast video, smallest
// first: each viewer then gets the largest its connection carries. rid,
// the scale down from the camera's size, and the bitrate cap of a 720p
// camera (scaled by area for other sizes).
const SIMULCAST_LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_700_000 },
];

// simulcastEncodings returns the send encodings for a video track: three
// layers from 540 lines up, two from 360, none (one plain encoding)
// below, where the smaller layers would be too small to watch.
export function simulcastEncodings(track) {
  const { width = 0, height = 0 } = track.getSettings ? track.getSettings() : {};
  const lines = Math.min(width, height);
  const n = lines >= 540 ? 3 : lines >= 360 ? 2 : 0;
  if (!n) return null;
  const area = (width * height) / (1280 * 720);
  return SIMULCAST_LAYERS.slice(-n).map((l, i) => ({
    ...l,
    scaleResolutionDownBy: 2 ** (n - 1 - i),
    maxBitrate: Math.round(l.maxBitrate * Math.min(2, Math.max(0.5, area))),
  }));
}

// codecName is a codec's name without its kind ('VP8' of 'video/VP8').
const codecName = (c) => c.mimeType.replace(/^[a-z]+\//i, '');

// audienceCodecs orders codecs (RTCRtpCodec objects, in this browser's own
// order) so that those the audience decodes (names such as 'VP8', best
// first, from the server) come first, in the audience's order, then the
// rest: the viewer gets its first choice, which for browsers is VP8, that
// every browser decodes, so a later viewer can join too. It returns null
// when there is nothing to change: no list, or no codec in it that this
// browser sends.
export function audienceCodecs(codecs, audience) {
  if (!codecs || !audience || !audience.length) return null;
  const rank = (c) => audience.findIndex((n) => String(n).toLowerCase() === codecName(c).toLowerCase());
  const fits = codecs.filter((c) => rank(c) >= 0);
  if (!fits.length) return null;
  fits.sort((a, b) => rank(a) - rank(b)); // stable: a codec's variants keep the browser's order
  return [...fits, ...codecs.filter((c) => !fits.includes(c))];
}

// decodableCodecs resolves to the video codecs this browser decodes, by
// name, best first, as its WHEP offers list them: sent with a call, so
// that the other side's page sends one of them, and used by the cameras
// page. An offer, not RTCRtpReceiver.getCapabilities, which in Firefox
// lists H.264 even without the OpenH264 plugin it needs to decode it.
export function decodableCodecs() {
  if (!decodable) decodable = offeredVideoCodecs().catch(() => capabilityCodecs());
  return decodable;
}

let decodable = null; // the promise of decodableCodecs, made once

// offeredVideoCodecs makes (and discards) a receive-only video offer and
// returns the codec names it lists.
async function offeredVideoCodecs() {
  const pc = new RTCPeerConnection();
  try {
    pc.addTransceiver('video', { direction: 'recvonly' });
    const offer = await pc.createOffer();
    const names = [];
    let video = false;
    for (const l of String(offer.sdp).split(/\r?\n/)) {
      if (l.startsWith('m=')) video = l.startsWith('m=video');
      const m = video && /^a=rtpmap:\d+ ([^/]+)\//.exec(l);
      if (m && !/^(rtx|red|ulpfec|flexfec-03)$/i.test(m[1]) && !names.includes(m[1])) names.push(m[1]);
    }
    if (!names.length) throw new Error('no video codecs offered');
    return names;
  } finally {
    pc.close();
  }
}

// capabilityCodecs lists the video codecs RTCRtpReceiver.getCapabilities
// names, where an offer cannot be made.
function capabilityCodecs() {
  const caps = window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities ? RTCRtpReceiver.getCapabilities('video') : null;
  const names = [];
  for (const c of (caps && caps.codecs) || []) {
    const n = codecName(c);
    if (!/^(rtx|red|ulpfec|flexfec-03)$/i.test(n) && !names.includes(n)) names.push(n);
  }
  return names;
}

// preferCodecs makes the video transceiver offer first the codecs that
// audience (what the viewers decode) lists, so that the server takes one
// every viewer can play.
function preferCodecs(transceiver, audience) {
  if (!transceiver.setCodecPreferences || !window.RTCRtpSender || !RTCRtpSender.getCapabilities) return;
  for (const caps of [RTCRtpSender.getCapabilities('video'), RTCRtpReceiver.getCapabilities('video')]) {
    const order = audienceCodecs(caps && caps.codecs, audience);
    if (!order) return;
    try {
      transceiver.setCodecPreferences(order);
      return;
    } catch {
      // Some browsers take only receive capabilities: try those.
    }
  }
}

// publish sends media (a MediaStream) to /whip/<stream> and resolves with
// the connected Session once the server has answered. opts: signal,
// onState, onEnded (see Session); simulcast: send the video in several
// sizes (simulcastEncodings) for streams that many may watch; codecs: the
// video codecs the viewers decode (names, from the server), to send one
// of them.
export async function publish(stream, media, opts = {}) {
  const s = new Session(`/whip/${streamPath(stream)}`, 'publish', { ...opts, stream });
  for (const track of media.getTracks()) {
    const init = { direction: 'sendonly', streams: [media] };
    const encodings = opts.simulcast && track.kind === 'video' ? simulcastEncodings(track) : null;
    if (encodings) init.sendEncodings = encodings;
    const t = s.pc.addTransceiver(track, init);
    if (track.kind === 'video') preferCodecs(t, opts.codecs);
  }
  await s.connect(opts.signal);
  return s;
}

// replaceTracks swaps the session's outgoing tracks for media's (after the
// user picks another camera or microphone); no renegotiation is needed.
export async function replaceTracks(session, media) {
  for (const sender of session.pc.getSenders()) {
    const kind = sender.track ? sender.track.kind : '';
    const next = media.getTracks().find((t) => t.kind === kind);
    if (next && next !== sender.track) await sender.replaceTrack(next).catch(() => {});
  }
}
