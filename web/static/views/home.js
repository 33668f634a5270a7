// views/home.js: the home page. People (online first) with Watch and
// Call; cameras with their live/idle state; live streams (live/*); for
// admins, going live with the screen; and my own camera: a preview with
// camera and microphone pickers.

import * as api from '../api.js';
import { publishing } from '../broadcast.js';
import { startCall } from '../calls.js';
import * as media from '../media.js';
import { isAdmin, isOnline, loadUsers, store, subscribe } from '../store.js';
import { ago, announce, avatar, errorText, h, icon, replace } from '../ui.js';
import { playbackLine } from '../playback.js';
import { goLiveCard } from './golive.js';

// REFRESH_MS is how often cameras and streams are re-read while the page
// is open (they have no events); people refresh less often.
const REFRESH_MS = 5000;
const USERS_REFRESH_MS = 20000;

// homeView renders the home page; destroy stops its timers and preview.
export function homeView() {
  const people = h('ul', { class: 'people', id: 'people', 'aria-label': 'People' });
  const cameras = h('ul', { class: 'tiles', id: 'cameras', 'aria-label': 'Cameras' });
  const streams = h('ul', { class: 'tiles', id: 'streams', 'aria-label': 'Live streams' });
  const mine = myCamera();
  const live = isAdmin() ? goLiveCard() : null; // admins publish live/ streams
  const el = h('div', { class: 'home' },
    h('h1', { class: 'sr-only', text: 'Home', tabindex: '-1' }),
    h('div', { class: 'home-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'people-title' },
        h('h2', { id: 'people-title', text: 'People' }), people),
      h('div', { class: 'stack' },
        h('section', { class: 'card', 'aria-labelledby': 'cameras-title' },
          h('h2', { id: 'cameras-title', text: 'Cameras' }), cameras),
        h('section', { class: 'card', 'aria-labelledby': 'streams-title' },
          h('h2', { id: 'streams-title', text: 'Live now' }), streams),
        live && live.el,
        mine.el)));

  let devices = null;
  let liveStreams = null;
  let devError = '';

  const drawPeople = () => keepFocus(people, () => replace(people, personRows()));
  const drawTiles = () => {
    keepFocus(cameras, () => replace(cameras, cameraTiles(devices, devError)));
    keepFocus(streams, () => replace(streams, streamTiles(liveStreams)));
  };

  async function refresh() {
    const [d, s] = await Promise.allSettled([api.get('/api/v1/devices'), api.get('/api/v1/streams')]);
    devices = d.status === 'fulfilled' ? (d.value.devices || []) : devices;
    devError = d.status === 'rejected' ? errorText(d.reason) : '';
    liveStreams = s.status === 'fulfilled'
      ? (s.value.streams || []).filter((x) => x.kind === 'live' || String(x.name).startsWith('live/'))
      : (liveStreams || []);
    drawTiles();
  }

  const unsub = subscribe(() => {
    drawPeople();
    mine.draw();
  });
  drawPeople();
  drawTiles();
  refresh();
  loadUsers().catch(() => {});
  const t1 = setInterval(refresh, REFRESH_MS);
  const t2 = setInterval(() => loadUsers().catch(() => {}), USERS_REFRESH_MS);

  return {
    el,
    destroy() {
      unsub();
      clearInterval(t1);
      clearInterval(t2);
      mine.destroy();
      if (live) live.destroy();
    },
  };
}

// keepFocus redraws a list without losing the keyboard focus inside it:
// the focused control is found again by its data-test row and action.
function keepFocus(list, draw) {
  const a = document.activeElement;
  const row = a && list.contains(a) ? a.closest('[data-test]') : null;
  const key = row && [row.dataset.test, a.dataset.action];
  draw();
  if (key) {
    const again = list.querySelector(`[data-test="${CSS.escape(key[0])}"] [data-action="${CSS.escape(key[1] || '')}"]`);
    if (again) again.focus();
  }
}

// personRows lists the other enabled users, online ones first.
function personRows() {
  const list = store.users.filter((u) => !u.disabled && (!store.me || u.name !== store.me.name));
  if (!list.length) {
    return h('li', { class: 'empty', text: 'Nobody else has an account yet.' });
  }
  list.sort((a, b) => (isOnline(b) - isOnline(a)) || label(a).localeCompare(label(b)));
  return list.map((u) => {
    const online = isOnline(u);
    const who = label(u);
    let status = online ? 'Online' : `Offline · seen ${ago(u.last_seen)}`;
    if (online && u.publishing) status = 'Online · camera on';
    const private_ = u.allow_watch === false;
    if (private_) status += ' · does not share the camera with you';
    else if (u.watch_asks) status += ' · asks first';
    const watch = h('button', { class: 'btn btn-small', type: 'button', 'data-action': 'watch', disabled: !online || private_, 'aria-label': `Watch ${who}`, onclick: () => { location.hash = `#/watch/users/${u.name}`; } },
      icon('eye'), h('span', { class: 'btn-label', text: 'Watch' }));
    const call = h('button', { class: 'btn btn-small btn-primary', type: 'button', 'data-action': 'call', disabled: !online, 'aria-label': `Call ${who}`, onclick: () => startCall(u.name) },
      icon('phone'), h('span', { class: 'btn-label', text: 'Call' }));
    return h('li', { class: `person${online ? ' online' : ''}`, 'data-test': `person-${u.name}` },
      h('span', { class: 'avatar-wrap' }, avatar(u.name, who), h('span', { class: `presence ${online ? 'on' : 'off'}`, 'aria-hidden': 'true' })),
      h('span', { class: 'person-text' },
        h('span', { class: 'person-name', text: who }),
        h('span', { class: 'person-status', text: status })),
      h('span', { class: 'person-actions' }, watch, call));
  });
}

const label = (u) => u.display_name || u.name;

// STATE_TEXT are the camera states in words.
const STATE_TEXT = { live: 'Live', connecting: 'Connecting', idle: 'Idle', failed: 'Unreachable' };

// cameraTiles lists the cameras with their state and a Watch button.
function cameraTiles(devices, err) {
  if (err) return h('li', { class: 'empty', text: err });
  if (!devices) return h('li', { class: 'empty', text: 'Loading…' });
  if (!devices.length) return h('li', { class: 'empty', text: 'No cameras yet.' });
  return devices.map((d) => {
    const state = d.disabled ? 'disabled' : (d.state || 'idle');
    const viewers = d.viewers ? `${d.viewers} watching` : '';
    const watch = h('button', { class: 'btn btn-small', type: 'button', 'data-action': 'watch', disabled: Boolean(d.disabled), 'aria-label': `Watch camera ${d.name}`, onclick: () => { location.hash = `#/watch/${d.stream || `devices/${d.name}`}`; } },
      icon('eye'), h('span', { class: 'btn-label', text: 'Watch' }));
    return h('li', { class: 'tile', 'data-test': `camera-${d.name}` },
      h('span', { class: 'tile-icon', 'aria-hidden': 'true' }, icon('cam')),
      h('span', { class: 'tile-text' },
        h('span', { class: 'tile-name', text: d.name }),
        h('span', { class: 'tile-meta' },
          h('span', { class: `pill pill-${state}`, text: d.disabled ? 'Disabled' : (STATE_TEXT[state] || state) }),
          viewers),
        playbackLine(d)),
      watch);
  });
}

// streamTiles lists the live/* streams.
function streamTiles(list) {
  if (!list) return h('li', { class: 'empty', text: 'Loading…' });
  if (!list.length) return h('li', { class: 'empty', text: 'Nothing is live. Streams published with OBS or FFmpeg show up here.' });
  return list.map((s) => {
    const short = s.name.replace(/^live\//, '');
    const codecs = (s.tracks || []).map((t) => t.codec).filter(Boolean).join(' + ');
    const watch = h('button', { class: 'btn btn-small', type: 'button', 'data-action': 'watch', 'aria-label': `Watch ${short}`, onclick: () => { location.hash = `#/watch/${s.name}`; } },
      icon('eye'), h('span', { class: 'btn-label', text: 'Watch' }));
    return h('li', { class: 'tile', 'data-test': `stream-${short}` },
      h('span', { class: 'tile-icon live', 'aria-hidden': 'true' }, h('span', { class: 'live-dot' })),
      h('span', { class: 'tile-text' },
        h('span', { class: 'tile-name', text: short }),
        h('span', { class: 'tile-meta', text: [codecs, `${s.viewers || 0} watching`, s.public ? 'public' : ''].filter(Boolean).join(' · ') })),
      watch);
  });
}

// myCamera is the "Your camera" card: preview on demand, device pickers,
// and what others can do.
function myCamera() {
  const video = h('video', { playsinline: true, autoplay: true, muted: true, 'aria-label': 'Preview of your camera' });
  const off = h('p', { class: 'preview-off', text: 'Your camera is off.' });
  const toggle = h('button', { class: 'btn', type: 'button', id: 'preview-toggle' });
  const camSel = h('select', { id: 'camera-select' });
  const micSel = h('select', { id: 'mic-select' });
  const note = h('p', { class: 'muted small' });
  const el = h('section', { class: 'card', 'aria-labelledby': 'mine-title', id: 'my-camera' },
    h('h2', { id: 'mine-title', text: 'Your camera' }),
    h('div', { class: 'preview' }, video, off),
    h('div', { class: 'row' }, toggle),
    h('div', { class: 'pickers' },
      h('div', { class: 'field' }, h('label', { for: 'camera-select', text: 'Camera' }), camSel),
      h('div', { class: 'field' }, h('label', { for: 'mic-select', text: 'Microphone' }), micSel)),
    note);

  let previewing = false;
  let destroyed = false;

  function draw() {
    const s = media.active();
    video.srcObject = s;
    off.hidden = Boolean(s);
    toggle.textContent = previewing ? 'Stop preview' : 'Preview my camera';
    toggle.setAttribute('aria-pressed', String(previewing));
    if (!store.me) return;
    if (publishing()) note.textContent = 'You are sharing your camera with the people watching you.';
    else note.textContent = {
      everyone: 'Others can watch you; your camera turns on only while someone watches.',
      ask: 'Others can ask to watch you; this page asks you first, and your camera turns on only while someone watches.',
      chosen: 'The people you chose can watch you; your camera turns on only while someone watches.',
    }[store.me.watch] || 'Watching you is turned off in Settings.';
  }

  async function fillPickers() {
    const { cameras, microphones } = await media.devices().catch(() => ({ cameras: [], microphones: [] }));
    const fill = (sel, list, kind, none) => {
      const want = media.saved(kind);
      const opts = [h('option', { value: '', text: `Default ${none}` })]
        .concat(list.map((d) => h('option', { value: d.id, text: d.label, selected: d.id === want })));
      sel.replaceChildren(...opts);
      sel.disabled = !list.length;
    };
    fill(camSel, cameras, 'camera', 'camera');
    fill(micSel, microphones, 'microphone', 'microphone');
  }

  toggle.addEventListener('click', async () => {
    if (previewing) {
      previewing = false;
      media.release();
      draw();
      return;
    }
    toggle.disabled = true;
    try {
      await media.acquire();
      if (destroyed) {
        media.release();
        return;
      }
      previewing = true;
      await fillPickers(); // labels are readable now
    } catch (err) {
      announce(errorText(err), 'error');
    } finally {
      toggle.disabled = false;
      draw();
    }
  });
  const pick = (kind) => async (ev) => {
    try {
      await media.choose(kind, ev.target.value);
    } catch (err) {
      announce(errorText(err), 'error');
    }
    draw();
  };
  camSel.addEventListener('change', pick('camera'));
  micSel.addEventListener('change', pick('microphone'));
  const unsub = media.onChange(draw);
  const onDevices = () => fillPickers();
  if (navigator.mediaDevices) navigator.mediaDevices.addEventListener('devicechange', onDevices);
  fillPickers();
  draw();

  return {
    el,
    draw,
    destroy() {
      destroyed = true;
      unsub();
      if (navigator.mediaDevices) navigator.mediaDevices.removeEventListener('devicechange', onDevices);
      if (previewing) media.release();
      video.srcObject = null;
    },
  };
}
