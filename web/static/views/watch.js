// views/watch.js: watching one stream (#/watch/<stream name>): a person's
// camera (users/<name>), a camera (devices/<name>) or a live stream
// (live/<name>), in the WHEP player.

import * as api from '../api.js';
import { createPlayer } from '../player.js';
import { displayName } from '../store.js';
import { h } from '../ui.js';

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
function describe(stream) {
  const [ns, ...rest] = stream.split('/');
  const name = rest.join('/');
  switch (ns) {
    case 'users': {
      const who = displayName(name);
      return { title: who, kind: 'Person', label: `${who}’s camera`, start: `Asking ${who} to turn on their camera…` };
    }
    case 'devices':
      return { title: name, kind: 'Camera', label: `camera ${name}`, start: 'Connecting to the camera…', stalled: () => cameraStalled(name) };
    case 'live':
      return { title: name, kind: 'Live stream', label: `live stream ${name}`, start: 'Joining the stream…' };
    default:
      return { title: stream, kind: 'Stream', label: stream, start: 'Starting the stream…' };
  }
}

// watchView renders the player page for stream; onUnauthorized runs when
// the session has ended.
export function watchView(stream, onUnauthorized) {
  const d = describe(stream);
  const player = createPlayer(stream, { label: d.label, startText: d.start, stalled: d.stalled, onUnauthorized });
  player.el.id = 'player';
  const back = h('a', { class: 'back', href: '#/', text: '← Back' });
  const el = h('div', { class: 'watch' },
    h('div', { class: 'watch-head' },
      back,
      h('div', {},
        h('p', { class: 'eyebrow', text: d.kind }),
        h('h1', { text: d.title, tabindex: '-1' })),
      h('code', { class: 'stream-name', title: 'Stream name', text: stream })),
    player.el);
  return {
    el,
    destroy() {
      player.stop();
    },
  };
}
