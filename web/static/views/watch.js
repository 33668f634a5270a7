// views/watch.js: watching one stream (#/watch/<stream name>): a person's
// camera (users/<name>), a camera (devices/<name>) or a live stream
// (live/<name>), in the WHEP player. Every stream has a Copy link button;
// a public one an Embed button (the iframe snippet of the embeddable
// player); admins switch live streams and cameras public here. Visitors
// who are not signed in see this page for public streams only, with a
// Sign in button instead of the way back.

import * as api from '../api.js';
import { createPlayer } from '../player.js';
import { isAdmin, store } from '../store.js';
import { canBePublic, describe, embedLink, embedSnippet, streamInfo, watchLink } from '../streams.js';
import { announce, copyText, dialog, errorText, field, h } from '../ui.js';

// watchView renders the player page for stream; onUnauthorized runs when
// the session has ended. opts.info is the stream's information if known
// (GET /api/v1/streams/<name>); opts.onSignIn, for visitors, shows the
// sign-in form.
export function watchView(stream, onUnauthorized, opts = {}) {
  const guest = !store.me;
  const d = describe(stream, !guest);
  const player = createPlayer(stream, {
    label: d.label, startText: d.start, stalled: d.stalled,
    onUnauthorized: guest ? null : onUnauthorized,
    signInText: guest ? 'This stream is not public any more. Sign in to watch it.' : '',
  });
  player.el.id = 'player';

  const copy = h('button', { class: 'btn btn-small', type: 'button', id: 'copy-link', onclick: () => copyText(watchLink(stream), 'Link') },
    'Copy link');
  const embed = h('button', { class: 'btn btn-small', type: 'button', id: 'embed', hidden: true, onclick: () => embedDialog(stream, d.label) },
    'Embed');
  const pill = h('span', { class: 'pill pill-public', id: 'public-pill', text: 'Public', hidden: true, title: 'Anyone with the link can watch, without signing in' });
  let box = null;
  if (isAdmin() && canBePublic(stream)) {
    box = h('input', { type: 'checkbox', id: 'stream-public', role: 'switch' });
    box.addEventListener('change', () => setPublic(box.checked));
  }
  const tools = h('div', { class: 'watch-tools' }, copy, embed,
    box ? field('Public', box, 'Anyone with the link can watch, without signing in.') : null);

  // Visitors get the brand and a Sign in button above the page instead
  // of the app's top bar and the way back.
  const guestBar = guest
    ? h('div', { class: 'guest-bar' },
      h('span', { class: 'brand' }, h('img', { src: '/app/icon.svg', alt: '', width: '28', height: '28' }), h('span', { text: 'wishcast' })),
      h('button', { class: 'btn btn-small btn-primary', type: 'button', id: 'guest-signin', text: 'Sign in', onclick: () => opts.onSignIn && opts.onSignIn() }))
    : null;
  const el = h('div', { class: 'watch' },
    guestBar,
    h('div', { class: 'watch-head' },
      guest ? null : h('a', { class: 'back', href: '#/', text: '← Back' }),
      h('div', {},
        h('p', { class: 'eyebrow', text: d.kind }),
        h('h1', { tabindex: '-1' }, d.title, pill)),
      h('code', { class: 'stream-name', title: 'Stream name', text: stream })),
    tools,
    player.el);

  let info = opts.info || null;
  let destroyed = false;
  const draw = () => {
    const pub = Boolean(info && info.public);
    embed.hidden = !pub;
    pill.hidden = !pub;
    if (box) box.checked = pub;
  };

  async function setPublic(want) {
    box.disabled = true;
    try {
      const res = await api.put(`/api/v1/streams/${api.streamPath(stream)}`, { public: want });
      info = { ...(info || {}), public: Boolean(res && res.public) };
      announce(info.public ? `Anyone with the link can now watch ${d.label}.` : `Only signed-in people can watch ${d.label} now.`, 'ok');
    } catch (err) {
      announce(errorText(err), 'error');
    } finally {
      box.disabled = false;
      draw();
    }
  }

  draw();
  if (!info) {
    streamInfo(stream).then((i) => {
      if (destroyed) return;
      info = i;
      draw();
    }).catch(() => {});
  }
  return {
    el,
    destroy() {
      destroyed = true;
      player.stop();
    },
  };
}

// embedDialog shows the iframe snippet of the embeddable player.
async function embedDialog(stream, label) {
  const code = h('textarea', { id: 'embed-snippet', class: 'snippet', readonly: true, rows: '6', spellcheck: 'false' });
  code.value = embedSnippet(stream, label);
  const link = h('input', { type: 'text', id: 'embed-link', readonly: true, value: embedLink(stream), spellcheck: 'false' });
  const choice = await dialog({
    title: 'Embed this stream',
    body: [
      h('p', { text: 'Paste this HTML into a web page: it shows the player alone, to anyone, as long as the stream is public.' }),
      field('HTML', code),
      field('Player page', link),
    ],
    buttons: [
      { label: 'Close', value: 'close', class: 'btn-ghost' },
      { label: 'Copy HTML', value: 'copy', class: 'btn-primary', action: 'copy-snippet' },
    ],
  });
  if (choice === 'copy') copyText(code.value, 'HTML');
}
