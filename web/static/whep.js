// whep.js: viewing a stream over WHEP: receive-only audio and video
// transceivers on the shared Session plumbing; the remote tracks are
// gathered into one MediaStream for a <video>.

import { streamPath } from './api.js';
import { Session } from './session.js';

// view asks /whep/<stream> for the stream and resolves with the Session
// once the server has answered (which can take ~10 s while an on-demand
// source starts). session.media is the MediaStream the tracks arrive on;
// opts.onTrack(media) is called as each one arrives. opts: signal,
// onState, onEnded (see Session).
export async function view(stream, opts = {}) {
  const s = new Session(`/whep/${streamPath(stream)}`, 'view', { ...opts, stream });
  s.media = new MediaStream();
  s.pc.addTransceiver('audio', { direction: 'recvonly' });
  s.pc.addTransceiver('video', { direction: 'recvonly' });
  s.pc.addEventListener('track', (ev) => {
    s.media.addTrack(ev.track);
    if (opts.onTrack) opts.onTrack(s.media, ev.track);
  });
  await s.connect(opts.signal);
  return s;
}
