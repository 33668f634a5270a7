// live.js: going live from the app. An admin publishes a screen (with its
// sound, or the microphone) to live/<name> over WHIP with their own
// sign-in: the permission rules let admins publish live/ streams; anyone
// else needs a publish key, which only admins create, for OBS or FFmpeg.
// One live stream per page: it goes on while its author moves around the
// app, and ends when they stop it, when the browser's own "Stop sharing"
// ends the screen, when the server ends the session, or with the page.

import { getScreen } from './screen.js';
import { announce } from './ui.js';
import { publish } from './whip.js';

// state is what the page publishes: the stream's name ('' when not live),
// and whether it is starting.
export const state = { name: '', starting: false };

let session = null;
let tracks = [];
const subs = new Set();

// onLive calls fn on every change; it returns the unsubscribe function.
export function onLive(fn) {
  subs.add(fn);
  return () => subs.delete(fn);
}

function notify() {
  for (const fn of subs) fn(state);
}

// goLive asks for a screen and publishes it to live/<name>, with the
// microphone when microphone is set (else the screen's own sound, if the
// browser gives it). It resolves true once live, false when the person
// cancelled the browser's picker; it throws an error with a sentence
// (a 409: someone already publishes that stream).
export async function goLive(name, { microphone = false } = {}) {
  if (state.name || state.starting) throw new Error('You are live already; stop that stream first');
  state.starting = true;
  notify();
  let screen = null;
  let mic = null;
  try {
    screen = await getScreen(!microphone);
    if (!screen) return false;
    if (microphone) {
      mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } })
        .catch(() => null);
      if (!mic) announce('Your microphone could not be started: the stream goes on without it.', 'error');
    }
    const audio = (mic || screen).getAudioTracks().slice(0, 1);
    tracks = [...screen.getVideoTracks(), ...audio];
    for (const t of screen.getAudioTracks()) if (!audio.includes(t)) t.stop();
    const s = await publish(`live/${name}`, new MediaStream(tracks), { simulcast: true, onEnded: () => stopLive(true) });
    session = s;
    state.name = `live/${name}`;
    screen.getVideoTracks().forEach((t) => t.addEventListener('ended', () => { if (session === s) stopLive(); }));
    return true;
  } catch (err) {
    for (const t of [...(screen ? screen.getTracks() : []), ...(mic ? mic.getTracks() : [])]) t.stop();
    tracks = [];
    throw err;
  } finally {
    state.starting = false;
    notify();
  }
}

// stopLive ends the live stream; gone says the server has ended it.
export function stopLive(gone = false) {
  if (!session) return;
  const name = state.name;
  session.close(gone);
  session = null;
  tracks.forEach((t) => t.stop());
  tracks = [];
  state.name = '';
  notify();
  announce(gone ? `Your live stream ${name} was ended.` : `You stopped your live stream ${name}.`, gone ? 'error' : 'ok');
}
