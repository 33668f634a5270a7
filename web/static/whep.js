// whep.js: viewing a stream over WHEP: receive-only audio and video
// transceivers on the shared Session plumbing; the remote tracks are
// gathered into one MediaStream for a <video>.

import { errorFrom, streamPath } from './api.js';
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

// follow subscribes to a viewing session's server-sent events (the WHEP
// events extension): on.active() when the stream goes live again,
// on.inactive() when its publisher has left, on.layers(layers) with the
// simulcast layers of the video (each { rid, width, height, bitrate,
// active, selected }) and whether the choice is automatic. It returns the
// function that stops following; without the extension it does nothing.
export function follow(s, on) {
  const url = s.extensions && s.extensions.events;
  if (!url || typeof EventSource === 'undefined') return () => {};
  let source = null;
  let stopped = false;
  (async () => {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(['active', 'inactive', 'layers']),
      });
      const loc = res.status === 201 && res.headers.get('Location');
      if (!loc || stopped) return;
      source = new EventSource(new URL(loc, url).href);
      source.addEventListener('active', () => on.active && on.active());
      source.addEventListener('inactive', () => on.inactive && on.inactive());
      source.addEventListener('layers', (ev) => {
        if (!on.layers) return;
        let data;
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
        // One video m-line: the first entry is the video's.
        const [mediaId, v] = Object.entries(data)[0] || [];
        if (v) on.layers({ mediaId, layers: v.layers || [], automatic: v.automatic !== false });
      });
      // The server ends the stream with the session: no reconnecting.
      source.addEventListener('error', () => {
        if (source.readyState === EventSource.CLOSED || s.closed) source.close();
      });
    } catch {
      // Without events the player still plays; it only says less.
    }
  })();
  return () => {
    stopped = true;
    if (source) source.close();
  };
}

// chooseLayer pins the viewing session's video to the simulcast layer rid,
// or returns it to automatic choice when rid is ''. It throws an APIError
// when the server refuses.
export async function chooseLayer(s, mediaId, rid) {
  const url = s.extensions && s.extensions.layer;
  if (!url) throw new Error('this stream has one quality only');
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(rid ? { mediaId, rid } : { mediaId }),
  });
  if (!res.ok) throw await errorFrom(res);
}
