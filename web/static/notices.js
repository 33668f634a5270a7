// notices.js: what the signed-in person is told once, in a bar under the
// top bar: on the first sign-in, what others can do with their camera
// and where to change it (until they dismiss it: notice_seen); and, for
// an account that still has the password wishcast made at installation,
// that they should choose their own (until they do: change_password).

import * as api from './api.js';
import { changed, store, subscribe } from './store.js';
import { announce, errorText, h, replace } from './ui.js';

// WATCH_TEXT says what being watched means under each choice.
const WATCH_TEXT = {
  everyone: 'While wishcast is open here, anyone signed in can watch your camera: this page turns it on when someone opens it, shows you who watches, and turns it off when they leave.',
  ask: 'While wishcast is open here, people can ask to watch your camera: this page asks you first, naming them.',
  chosen: 'While wishcast is open here, the people you chose can watch your camera: this page shows you who watches.',
  nobody: 'Nobody can watch your camera: you chose so.',
};

// initNotices draws the bar now and whenever the signed-in user changes.
export function initNotices() {
  subscribe(draw);
  draw();
}

async function seen(btn, then) {
  btn.disabled = true;
  try {
    const u = await api.patch(`/api/v1/users/${api.seg(store.me.name)}`, { notice_seen: true });
    store.me.notice_seen = u && u.notice_seen !== undefined ? u.notice_seen : true;
    changed();
    if (then) then();
  } catch (err) {
    btn.disabled = false;
    announce(errorText(err), 'error');
  }
}

function draw() {
  const bar = document.getElementById('notice-bar');
  if (!bar) return;
  const me = store.me;
  const items = [];
  if (me && me.change_password) {
    items.push(h('p', { class: 'notice-item', id: 'notice-password' },
      h('span', { class: 'banner-text', text: 'You still use the password wishcast made when it was installed: anyone who saw the server’s log knows it.' }),
      h('a', { class: 'btn btn-small btn-primary', href: '#/settings', text: 'Choose your own' })));
  }
  if (me && me.notice_seen === false) {
    const ok = h('button', { class: 'btn btn-small', type: 'button', id: 'notice-camera-ok', text: 'Got it' });
    const change = h('button', { class: 'btn btn-small btn-primary', type: 'button', id: 'notice-camera-settings', text: 'Choose who may watch' });
    ok.addEventListener('click', () => seen(ok));
    change.addEventListener('click', () => seen(change, () => { location.hash = '#/settings'; }));
    items.push(h('p', { class: 'notice-item', id: 'notice-camera' },
      h('span', { class: 'banner-text', text: `${WATCH_TEXT[me.watch] || WATCH_TEXT.everyone} You can change this in Settings.` }),
      change, ok));
  }
  bar.hidden = !items.length;
  replace(bar, ...items);
}
