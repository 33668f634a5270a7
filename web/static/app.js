// app.js: the wishcast browser app's entry point. It asks whether this
// page is signed in (GET /api/v1/session, which answers 200 either way,
// so that the sign-in page starts without a failed request), restores
// the session (GET /api/v1/me), opens the event feed, and routes the hash
// (#/, #/watch/<stream>, #/settings, #/admin/...) to the views. Being
// watched and calls run beside the views, whatever page is open. A
// visitor who is not signed in gets the player of a public stream at its
// link, and the sign-in form everywhere else.

import * as api from './api.js';
import { initBroadcast, stop as stopBroadcast } from './broadcast.js';
import { endAll, initCalls } from './calls.js';
import { installDebug } from './debug.js';
import { EventFeed } from './events.js';
import { onLive, state as liveState, stopLive } from './live.js';
import { initNotices } from './notices.js';
import { changed, isAdmin, loadMe, loadUsers, setPresence, store, subscribe } from './store.js';
import { describe, streamInfo } from './streams.js';
import { announce, confirm, errorText, h, replace } from './ui.js';
import { usersView } from './views/admin-users.js';
import { devicesView } from './views/admin-devices.js';
import { keysView } from './views/admin-keys.js';
import { homeView } from './views/home.js';
import { settingsView } from './views/settings.js';
import { signInView } from './views/signin.js';
import { watchView } from './views/watch.js';

let feed = null;
let current = null; // the mounted view: { el, destroy? }
let mounted = false;

// NAV are the header's links; admin ones show for admins only.
const NAV = [
  { href: '#/', text: 'Home', match: (p) => p === '' || p.startsWith('watch/') },
  { href: '#/settings', text: 'Settings', match: (p) => p === 'settings' },
  { href: '#/admin/users', text: 'Users', admin: true, match: (p) => p === 'admin/users' },
  { href: '#/admin/devices', text: 'Cameras', admin: true, match: (p) => p === 'admin/devices' },
  { href: '#/admin/keys', text: 'Keys', admin: true, match: (p) => p === 'admin/keys' },
];

// route is the hash without "#/" and surrounding slashes.
const route = () => decodeURIComponent(location.hash.replace(/^#\/?/, '')).replace(/\/+$/, '');

// mount replaces the main view.
function mount(view) {
  if (current && current.destroy) current.destroy();
  current = view;
  const main = document.getElementById('main');
  replace(main, view.el);
  const heading = main.querySelector('h1');
  // Move the focus to the new page (not on the first page: nothing moved).
  if (view.focus) view.focus();
  else if (heading && mounted) heading.focus({ preventScroll: true });
  mounted = true;
}

// render shows the view for the current hash.
function render() {
  if (!store.me) {
    renderGuest();
    return;
  }
  const p = route();
  drawHeader();
  if (p === '') mount(homeView());
  else if (p.startsWith('watch/') && p.length > 6) mount(watchView(p.slice(6), sessionEnded));
  else if (p === 'settings') mount(settingsView(signedOut));
  else if (p === 'admin/users' && isAdmin()) mount(usersView());
  else if (p === 'admin/devices' && isAdmin()) mount(devicesView());
  else if (p === 'admin/keys' && isAdmin()) mount(keysView());
  else {
    mount({
      el: h('div', { class: 'page narrow' },
        h('h1', { text: 'Not found', tabindex: '-1' }),
        h('p', {}, 'There is nothing at this address. ', h('a', { href: '#/', text: 'Go home' }), '.')),
    });
  }
  window.scrollTo(0, 0);
}

let guestSeq = 0; // the latest renderGuest, so that a stale one gives way

// renderGuest shows a visitor who is not signed in the player of a public
// stream at its link (#/watch/<stream>), else the sign-in form (saying
// which stream it is for).
async function renderGuest() {
  const seq = ++guestSeq;
  drawHeader();
  const p = route();
  const stream = p.startsWith('watch/') && p.length > 6 ? p.slice(6) : '';
  document.body.classList.remove('guest');
  if (!stream) {
    mount(signInView(signedIn));
    return;
  }
  let info = null;
  try {
    info = await streamInfo(stream);
  } catch {
    // Not a stream name, or the server is unreachable: sign in first.
  }
  if (seq !== guestSeq || store.me) return;
  const note = `Sign in to watch ${describe(stream, false).label}.`;
  if (info && info.may_view) {
    document.body.classList.add('guest');
    mount(watchView(stream, sessionEnded, {
      info,
      onSignIn: () => {
        document.body.classList.remove('guest');
        mount(signInView(signedIn, note));
      },
    }));
    return;
  }
  mount(signInView(signedIn, note));
}

// drawHeader fills the top bar: navigation, feed state, me, sign out.
function drawHeader() {
  const bar = document.getElementById('topbar');
  if (!store.me) {
    bar.hidden = true;
    return;
  }
  bar.hidden = false;
  const p = route();
  const nav = document.getElementById('nav');
  replace(nav, NAV.filter((n) => !n.admin || isAdmin()).map((n) =>
    h('a', { href: n.href, text: n.text, class: n.admin ? 'nav-admin' : null, 'aria-current': n.match(p) ? 'page' : null })));
  const who = document.getElementById('me-name');
  who.textContent = store.me.display_name || store.me.name;
  who.title = `Signed in as ${store.me.name}`;
  drawFeedState();
}

// drawLive shows, in the top bar, that this page is live, with a way to
// stop it from any page.
function drawLive() {
  const b = document.getElementById('live-indicator');
  b.hidden = !liveState.name;
  if (!liveState.name) return;
  replace(b, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), h('span', { class: 'live-text', text: 'Live' }));
  b.title = `You are live on ${liveState.name}; click to stop`;
  b.setAttribute('aria-label', `You are live on ${liveState.name}. Stop the live stream`);
}

async function askStopLive() {
  if (await confirm('Stop your live stream?', `Viewers of ${liveState.name} see it end.`, 'Stop')) stopLive();
}

// FEED_TEXT says what the event feed's state means for the user.
const FEED_TEXT = {
  open: 'Connected',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
};

function drawFeedState() {
  const el = document.getElementById('conn');
  el.dataset.state = store.feedState;
  el.textContent = FEED_TEXT[store.feedState] || store.feedState;
  el.title = store.feedState === 'open' ? 'Live updates are on' : 'Live updates are paused; they resume by themselves';
}

// startFeed opens the event feed for the signed-in user.
function startFeed() {
  feed = new EventFeed('/api/v1/events', async () => {
    const me = await loadMe();
    if (!me) sessionEnded();
    return Boolean(me);
  });
  feed.on('state', (s) => {
    const was = store.feedState;
    store.feedState = s;
    drawFeedState();
    if (s === 'reconnecting' && was === 'open') announce('Connection lost. Reconnecting…');
    if (s === 'open' && was === 'reconnecting') announce('Connected again.', 'ok');
  });
  // hello is the state as of now; the events after it are those this
  // page missed. With resync the server could not give them all (the
  // node that had them is gone, or they are too old): what the page
  // shows is reloaded from the server, account included.
  feed.on('hello', (d) => {
    store.online = new Set(d.online || []);
    changed();
    loadUsers().catch(() => {});
    if (d.resync) {
      loadMe().then((me) => me || sessionEnded()).catch(() => {});
    }
  });
  feed.on('presence', (d) => d.user && setPresence(d.user, Boolean(d.online), d.publishing));
  initBroadcast(feed);
  initCalls(feed);
  feed.start();
}

// signedIn runs once the session is known: load people, open the feed,
// show the page.
async function signedIn() {
  if (!store.me && !(await loadMe())) return;
  guestSeq++;
  document.body.classList.remove('signed-out', 'guest');
  loadUsers().catch((err) => announce(errorText(err), 'error'));
  if (!feed) startFeed();
  render();
}

// signedOut forgets the session locally and shows sign-in.
function signedOut() {
  endAll();
  stopBroadcast();
  stopLive();
  if (feed) feed.stop();
  feed = null;
  store.me = null;
  store.users = [];
  store.online = null;
  store.watchers = [];
  changed();
  drawHeader();
  const banner = document.getElementById('watch-banner');
  banner.hidden = true;
  document.body.classList.add('signed-out');
  renderGuest();
}

// sessionEnded is a 401 from anywhere: the session expired or was revoked.
function sessionEnded() {
  if (!store.me) return;
  signedOut();
  announce('Your session has ended. Sign in again.', 'error');
}

async function signOut(btn) {
  btn.disabled = true;
  try {
    await api.post('/api/v1/logout', undefined, { allow401: true });
  } catch {
    // Signed out on the server already, or unreachable: sign out here anyway.
  }
  btn.disabled = false;
  signedOut();
}

async function boot() {
  api.setUnauthorizedHandler(sessionEnded);
  installDebug();
  const out = document.getElementById('signout');
  out.addEventListener('click', () => signOut(out));
  document.getElementById('skip').addEventListener('click', () => {
    const main = document.getElementById('main');
    (main.querySelector('h1') || main).focus();
  });
  window.addEventListener('hashchange', render);
  document.getElementById('live-indicator').addEventListener('click', askStopLive);
  onLive(drawLive);
  initNotices();
  subscribe(() => {
    const who = document.getElementById('me-name');
    if (store.me && who) who.textContent = store.me.display_name || store.me.name;
  });
  try {
    const s = await api.get('/api/v1/session', { allow401: true });
    if (s && s.signed_in && (await loadMe())) await signedIn();
    else signedOut();
  } catch (err) {
    if (err.status === 401) { // an expired sign-in: the server cleared it
      signedOut();
      document.body.dataset.ready = 'true';
      return;
    }
    replace(document.getElementById('main'), h('div', { class: 'page narrow' },
      h('h1', { text: 'wishcast is not reachable' }),
      h('p', { text: errorText(err) }),
      h('button', { class: 'btn btn-primary', type: 'button', text: 'Try again', onclick: () => location.reload() })));
  }
  document.body.dataset.ready = 'true';
}

boot();
