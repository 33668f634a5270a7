// store.js: what the whole app knows and views render from: the signed-in
// user, the people (with presence from the event feed), and the feed's
// connection state. Views subscribe and redraw on change.

import * as api from './api.js';

export const store = {
  me: null, // GET /api/v1/me, normalised
  users: [], // GET /api/v1/users
  online: null, // Set of names from the event feed, or null before hello
  feedState: 'closed',
  watchers: [], // who is watching me (names)
};

const subs = new Set();

// subscribe calls fn on every change; it returns the unsubscribe function.
export function subscribe(fn) {
  subs.add(fn);
  return () => subs.delete(fn);
}

// changed tells every subscriber.
export function changed() {
  for (const fn of subs) {
    try {
      fn(store);
    } catch (err) {
      console.error('render:', err);
    }
  }
}

// normaliseMe accepts /api/v1/me flat ({name, ...}) or wrapped ({user}),
// with the choices defaulting to everyone.
export function normaliseMe(data) {
  const u = data && data.name ? data : { ...(data && data.user), ...data };
  delete u.user;
  return { watch: 'everyone', answer: 'everyone', chosen: [], notice_seen: true, ...u, role: u.role || 'user' };
}

// answersAtOnce says whether my page answers caller's calls without a
// click: as I chose, and never while nobody may watch me (answering
// turns the camera on).
export function answersAtOnce(caller) {
  const me = store.me;
  if (!me || me.watch === 'nobody') return false;
  return me.answer === 'everyone' || (me.answer === 'chosen' && (me.chosen || []).includes(caller));
}

// loadMe fetches the signed-in user; null when nobody is signed in.
export async function loadMe() {
  try {
    store.me = normaliseMe(await api.get('/api/v1/me', { allow401: true }));
  } catch (err) {
    if (err.status === 401) {
      store.me = null;
      return null;
    }
    throw err;
  }
  changed();
  return store.me;
}

// loadUsers refreshes the people list.
export async function loadUsers() {
  const data = await api.get('/api/v1/users');
  store.users = (data && data.users) || [];
  changed();
  return store.users;
}

// isAdmin reports whether the signed-in user is an admin.
export function isAdmin() {
  return Boolean(store.me && store.me.role === 'admin');
}

// isOnline reports a user's presence: the event feed's word if it has
// spoken, else the users list's flag.
export function isOnline(u) {
  if (store.online) return store.online.has(u.name);
  return Boolean(u.online);
}

// displayName is a user's display name, or their name.
export function displayName(name) {
  const u = store.users.find((x) => x.name === name);
  if (u && u.display_name) return u.display_name;
  if (store.me && store.me.name === name && store.me.display_name) return store.me.display_name;
  return name;
}

// setPresence applies a presence event (or the hello's list); publishing,
// when the event says (true or false), is whether their camera is on.
export function setPresence(user, online, publishing) {
  if (!store.online) store.online = new Set();
  if (online) store.online.add(user);
  else store.online.delete(user);
  const u = store.users.find((x) => x.name === user);
  if (u) {
    u.online = online;
    if (typeof publishing === 'boolean') u.publishing = publishing;
  }
  changed();
  if (online && !u) loadUsers().catch(() => {}); // someone new
}
