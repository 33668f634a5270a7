// whip.js: publishing a camera and microphone over WHIP (RFC 9725): one
// send-only transceiver per track of the local stream, on the shared
// Session plumbing.

import { streamPath } from './api.js';
import { Session } from './session.js';

// publish sends media (a MediaStream) to /whip/<stream> and resolves with
// the connected Session once the server has answered. opts: signal,
// onState, onEnded (see Session).
export async function publish(stream, media, opts = {}) {
  const s = new Session(`/whip/${streamPath(stream)}`, 'publish', { ...opts, stream });
  for (const track of media.getTracks()) {
    s.pc.addTransceiver(track, { direction: 'sendonly', streams: [media] });
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
