// streams.js: what the app says about a stream, wherever it shows one:
// its name and kind for people, what starting it involves, and the links
// that share it (the app's watch page, the embeddable player and its
// iframe snippet).

import * as api from './api.js';
import { displayName, store } from './store.js';

// cameraStalled says why a camera's picture froze, from its state in the
// device list: it is being redialled (a reboot, a network cut), or it is
// live and the freeze is somewhere else (null: the player's words).
async function cameraStalled(name) {
  const res = await api.get('/api/v1/devices');
  const d = (res.devices || []).find((x) => x.name === name);
  if (!d || d.state === 'live') return null;
  return {
    text: 'The camera is reconnecting…',
    detail: 'It stopped sending video. wishcast keeps calling it, and the picture comes back here by itself.',
  };
}

// describe names a stream for people and says what starting it involves.
// signedIn: whether the device list may be read to explain a frozen
// camera.
export function describe(stream, signedIn = true) {
  const [ns, ...rest] = stream.split('/');
  const name = rest.join('/');
  switch (ns) {
    case 'users': {
      const who = displayName(name);
      const u = (store.users || []).find((x) => x.name === name);
      const start = u && u.watch_asks ? `Waiting for ${who} to allow you to watch…` : `Asking ${who} to turn on their camera…`;
      return { ns, title: who, kind: 'Person', label: `${who}’s camera`, start };
    }
    case 'devices':
      return {
        ns, title: name, kind: 'Camera', label: `camera ${name}`, start: 'Connecting to the camera…',
        stalled: signedIn ? () => cameraStalled(name) : null,
      };
    case 'live':
      return { ns, title: name, kind: 'Live stream', label: `live stream ${name}`, start: 'Joining the stream…' };
    default:
      return { ns, title: stream, kind: 'Stream', label: stream, start: 'Starting the stream…' };
  }
}

// canBePublic reports whether an admin may make the stream public: live
// streams and cameras.
export const canBePublic = (stream) => /^(live|devices)\//.test(stream);

// watchLink is the app's page of a stream.
export const watchLink = (stream) => `${location.origin}/#/watch/${stream}`;

// embedLink is the embeddable player of a (public) stream.
export const embedLink = (stream) => `${location.origin}/embed/${api.streamPath(stream)}`;

// embedSnippet is the HTML another site pastes to show the player.
export function embedSnippet(stream, title) {
  const t = String(title).replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' })[c]);
  return `<iframe src="${embedLink(stream)}" title="${t}" width="640" height="360" allow="autoplay; fullscreen" allowfullscreen referrerpolicy="no-referrer"></iframe>`;
}

// streamInfo asks the server whether stream is public and whether this
// page may view it (and, if it may, whether it is live).
export function streamInfo(stream, opts) {
  return api.get(`/api/v1/streams/${api.streamPath(stream)}`, opts);
}
