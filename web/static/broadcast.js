// broadcast.js: being watched. When someone opens my camera the server
// sends publish-request; this page then publishes camera and microphone
// over WHIP to users/<me> (unless it already does), in a video codec the
// viewer decodes (the request lists them), and shows who is
// watching in a banner, from watchers events. publish-stop ends it. After
// a reload, hello says whether viewers are still waiting. The banner
// names every viewer and stays up, saying so, until the camera is off.
// For a person who chose to be asked, watch-ask events put up a prompt
// with Allow and Deny.

import * as api from './api.js';
import * as media from './media.js';
import { changed, displayName, store } from './store.js';
import { announce, errorText, h, icon, replace } from './ui.js';
import { publish, replaceTracks } from './whip.js';

let session = null;
let starting = false;
let unsubscribe = null;

// mine is my user stream's name.
const mine = () => `users/${store.me.name}`;

// initBroadcast wires the feed's publish and watcher events.
export function initBroadcast(feed) {
  // A request made while this page was away (reloading) comes in hello.
  feed.on('hello', (d) => {
    if (d.publish_request === mine() && store.me.watch !== 'nobody') start(d.publish_codecs);
    // hello lists every prompt still waiting: put up those put up while
    // this page was away, take down those answered meanwhile.
    const pending = d.watch_asks || [];
    for (const id of [...asks.keys()]) {
      if (!pending.some((a) => a.id === id)) endAsk(id);
    }
    for (const a of pending) showAsk(a);
    // hello lists who watches now (none: no list). A page that loads
    // or resyncs while watched would otherwise never name them: the
    // server sends watchers only when the list changes. On a resume the
    // missed watchers events follow hello and end at the same list.
    store.watchers = d.watchers || [];
    drawBanner();
    changed();
  });
  feed.on('publish-request', (d) => {
    if ((!d.stream || d.stream === mine()) && store.me.watch !== 'nobody') start(d.codecs);
  });
  feed.on('publish-stop', (d) => {
    if (!d.stream || d.stream === mine()) stop(true);
  });
  feed.on('watch-ask', (d) => showAsk(d));
  feed.on('watch-ask-end', (d) => endAsk(d.id));
  feed.on('watchers', (d) => {
    if (d.stream && d.stream !== mine()) return;
    store.watchers = d.viewers || [];
    drawBanner();
    changed();
  });
}

// publishing reports whether this page sends my camera now.
export function publishing() {
  return Boolean(session) || starting;
}

let wanted = false; // a request is pending: publish-stop clears it
let watched = false; // someone watched since this share started

// start publishes my camera, in a video codec that codecs (what the
// viewer who asked decodes, from the server) lists, if any.
async function start(codecs) {
  wanted = true;
  if (session || starting) return;
  starting = true;
  watched = false;
  drawBanner();
  try {
    let stream;
    try {
      stream = await media.acquire();
    } catch (err) {
      announce(`Someone wants to watch you, but ${errorText(err).replace(/^./, (c) => c.toLowerCase())}`, 'error');
      return;
    }
    try {
      const s = await publish(mine(), stream, { simulcast: true, codecs, onEnded: () => stop(true) });
      if (!wanted) { // stopped while connecting
        s.close();
        media.release();
        return;
      }
      session = s;
      unsubscribe = media.onChange((next) => {
        if (next && session) replaceTracks(session, next);
      });
    } catch (err) {
      media.release();
      if (err.name !== 'AbortError') announce(`Your camera could not be shared: ${errorText(err)}`, 'error');
    }
  } finally {
    starting = false;
    drawBanner();
    changed();
  }
}

// stop ends publishing; gone says the server has ended the session.
export function stop(gone = false) {
  wanted = false;
  if (!session) {
    drawBanner();
    return;
  }
  session.close(gone);
  session = null;
  if (unsubscribe) unsubscribe();
  unsubscribe = null;
  media.release();
  store.watchers = [];
  drawBanner();
  changed();
}

// stopSharing is the banner's button: stop now and turn watching off so
// the viewers' players do not bring it back.
async function stopSharing(btn) {
  btn.disabled = true;
  try {
    const u = await api.patch(`/api/v1/users/${api.seg(store.me.name)}`, { watch: 'nobody' });
    store.me.watch = (u && u.watch) || 'nobody';
    stop();
    announce('You stopped sharing your camera. Others can watch you again once you turn it on in Settings.', 'ok');
  } catch (err) {
    btn.disabled = false;
    announce(errorText(err), 'error');
  }
}

// asks are the prompts shown: id → element.
const asks = new Map();

// showAsk puts up a prompt: someone wants to watch me (I chose to be
// asked each time). Allow lets their request go on to my camera; Deny
// refuses it. The server takes the prompt down when answered on any of
// my pages, when they give up, or after a while without an answer.
function showAsk(d) {
  const box = document.getElementById('watch-asks');
  if (!box || !d || !d.id || asks.has(d.id)) return;
  const who = d.display_name || d.viewer;
  const answer = async (allow, btn) => {
    for (const b of el.querySelectorAll('button')) b.disabled = true;
    try {
      await api.post(`/api/v1/watch-asks/${api.seg(d.id)}`, { allow });
      endAsk(d.id);
    } catch (err) {
      if (err.status === 404) endAsk(d.id);
      else {
        announce(errorText(err), 'error');
        for (const b of el.querySelectorAll('button')) b.disabled = false;
        btn.focus();
      }
    }
  };
  const allowBtn = h('button', { class: 'btn btn-small btn-primary', type: 'button', 'data-action': 'allow', text: 'Allow' });
  const denyBtn = h('button', { class: 'btn btn-small', type: 'button', 'data-action': 'deny', text: 'Deny' });
  allowBtn.addEventListener('click', () => answer(true, allowBtn));
  denyBtn.addEventListener('click', () => answer(false, denyBtn));
  const el = h('div', { class: 'ask', 'data-ask': d.id, 'data-viewer': d.viewer, role: 'alertdialog', 'aria-label': `${who} wants to watch you` },
    icon('eye'),
    h('span', { class: 'banner-text' }, h('strong', { text: who }), ' wants to watch you: your camera and microphone turn on if you allow it.'),
    h('span', { class: 'ask-actions' }, allowBtn, denyBtn));
  asks.set(d.id, el);
  box.append(el);
  box.hidden = false;
  allowBtn.focus();
}

// endAsk takes the prompt id down.
function endAsk(id) {
  const el = asks.get(id);
  if (!el) return;
  asks.delete(id);
  el.remove();
  const box = document.getElementById('watch-asks');
  if (box && !asks.size) box.hidden = true;
}

// names lists every name: "Alice", "Alice and Bob", "Alice, Bob and Carol".
export function names(list) {
  const n = list.map(displayName);
  if (n.length <= 2) return n.join(' and ');
  return `${n.slice(0, -1).join(', ')} and ${n[n.length - 1]}`;
}

// sharedText says what this page sends: "camera and microphone", "camera"
// or "microphone".
function sharedText() {
  const s = media.active();
  const video = !s || s.getVideoTracks().length > 0;
  const audio = !s || s.getAudioTracks().length > 0;
  if (video && audio) return { what: 'camera and microphone', are: 'are' };
  return { what: video ? 'camera' : 'microphone', are: 'is' };
}

// drawBanner says, while this page shares my camera or someone watches,
// who watches and that the camera and microphone are on. Once the last
// viewer has gone it says they are turning off, until they are.
function drawBanner() {
  const el = document.getElementById('watch-banner');
  if (!el) return;
  const list = store.watchers || [];
  const on = publishing();
  if (!store.me || (!list.length && !on)) {
    el.hidden = true;
    el.replaceChildren();
    el.dataset.state = '';
    return;
  }
  if (list.length) watched = true;
  const { what, are } = sharedText();
  let text;
  let state;
  if (list.length) {
    state = 'watched';
    text = [h('strong', { text: names(list) }), ` ${list.length === 1 ? 'is' : 'are'} watching you`,
      on ? `: your ${what} ${are} on.` : '.'];
  } else if (watched) {
    state = 'stopping';
    text = [`Nobody is watching you any more: your ${what} ${are} turning off.`];
  } else {
    state = 'starting';
    text = [`Someone wants to watch you: your ${what} ${are} turning on…`];
  }
  const btn = h('button', { class: 'btn btn-small btn-on-accent', type: 'button', id: 'stop-sharing', text: 'Stop sharing' });
  btn.addEventListener('click', () => stopSharing(btn));
  replace(el,
    h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
    icon('eye'),
    h('span', { class: 'banner-text' }, text),
    state === 'stopping' ? null : btn);
  el.dataset.state = state;
  el.hidden = false;
}
