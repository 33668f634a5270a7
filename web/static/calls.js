// calls.js: video calls. A call is four standard sessions: each side
// publishes calls/<id>/<self> over WHIP and views calls/<id>/<peer> over
// WHEP. The caller starts viewing right after POST /api/v1/calls (the WHEP
// waits server-side for the peer, else 409: retried while the call is
// ringing or active) and publishing once the call is answered; the callee
// does both once it accepts, by hand on the ring screen or at once as the
// callee chose (answersAtOnce). Each side tells the server which video
// codecs it decodes, and sends one the other side listed. Events
// from the feed drive the rest: call-incoming, call-accepted, call-ended. The call
// screen follows the call's state (ringing, active, ended), not its
// media: an event that comes before the caller knows the call's id is
// kept until it does, and media from the peer while the call still looks
// ringing here makes the page ask the server. Either side may share its
// screen instead of its camera, in the same session.

import * as api from './api.js';
import * as media from './media.js';
import { answersAtOnce, displayName, store } from './store.js';
import { getScreen } from './screen.js';
import { announce, confirm, errorText, sentence, speak } from './ui.js';
import { callView, ringView } from './views/call.js';
import { decodableCodecs, publish, replaceTracks } from './whip.js';
import { view } from './whep.js';

let cur = null; // the one call this page shows
let ring = null; // the ring tone, while ringing

let unloadHooked = false;

// initCalls wires the call events and leaving the page.
export function initCalls(feed) {
  feed.on('hello', (d) => resume(d.calls || []));
  feed.on('call-incoming', (d) => d.call && incoming(d.call));
  feed.on('call-accepted', (d) => d.call && !early('call-accepted', d.call) && accepted(d.call));
  feed.on('call-ended', (d) => d.call && !early('call-ended', d.call) && ended(d.call));
  if (unloadHooked) return;
  unloadHooked = true;
  window.addEventListener('pagehide', () => {
    // Closing the page hangs up a call it takes part in: the peer should
    // not wait for a timeout. A page that only rang leaves the call alone.
    if (cur && cur.call.id && cur.joined) fetch(`/api/v1/calls/${api.seg(cur.call.id)}`, { method: 'DELETE', keepalive: true }).catch(() => {});
  });
}

// inCall reports whether a call (ringing or active) is on screen.
export function inCall() {
  return Boolean(cur);
}

// endAll drops the current call without a word (sign-out).
export function endAll() {
  if (cur) finish(cur, '', false, true);
}

const me = () => store.me.name;
const peerOf = (call) => (call.caller === me() ? call.callee : call.caller);
const streamOf = (call, who) => (call.streams && call.streams[who]) || `calls/${call.id}/${who}`;

// endText is what the end of a call means, from this side.
function endText(call, role) {
  const peer = displayName(peerOf(call));
  switch (call.end_reason) {
    case 'hangup': return `${peer} hung up.`;
    case 'declined': return role === 'caller' ? `${peer} declined the call.` : 'You declined the call.';
    case 'timeout': return role === 'caller' ? `${peer} did not answer.` : `You missed a call from ${peer}.`;
    case 'busy': return `${peer} is busy.`;
    case 'offline': return `${peer} is offline.`;
    case 'dropped': return `The call dropped: the connection to ${peer} was lost.`;
    default: return 'The call ended.';
  }
}

// layer shows el in the full-screen call layer (or hides it for null);
// the app behind becomes inert while it is up.
function layer(el, state) {
  const box = document.getElementById('call-layer');
  box.replaceChildren(...(el ? [el] : []));
  box.hidden = !el;
  box.dataset.state = el ? state : '';
  for (const id of ['topbar', 'main', 'watch-banner']) {
    const n = document.getElementById(id);
    if (n) n.inert = Boolean(el);
  }
}

// newCall makes the page's record of a call.
function newCall(call, role) {
  return {
    call, role, peer: peerOf(call), over: false, joined: false, pub: null, view: null, local: null, screen: null,
    base: false, muted: false, cameraOff: false, ui: null, wakes: new Set(), abort: new AbortController(), early: [],
    pubWaits: false, // my video waits for the call to be answered
  };
}

// early keeps an event about the call this page is placing, which came
// before the answer to POST /api/v1/calls (a callee who answers at once
// can be that quick): startCall applies it once the id is known. It
// reports whether it kept the event.
function early(type, call) {
  if (!cur || cur.call.id || cur.role !== 'caller' || call.caller !== me() || call.callee !== cur.call.callee) return false;
  cur.early.push({ type, call });
  return true;
}

// ended is a call-ended event.
function ended(call) {
  if (cur && cur.call.id === call.id) finish(cur, endText(call, cur.role), true);
}

// showCall puts up the in-call screen for c.
function showCall(c, state, text) {
  const label = displayName(c.peer);
  if (!c.ui) {
    c.ui = callView(c.peer, label, {
      onMute: (m) => { c.muted = m; applyLocal(c); },
      onCamera: (off) => { c.cameraOff = off; applyLocal(c); },
      onShare: () => share(c),
      onHangup: () => hangup(c),
      onClose: () => { if (cur === null || cur === c) layer(null); },
    });
  }
  c.ui.setStatus(state, text);
  layer(c.ui.el, state);
  c.ui.focus();
}

// startCall calls callee (the home page's Call button).
export async function startCall(callee) {
  if (cur) {
    announce('You are already in a call.', 'error');
    return;
  }
  const c = newCall({ id: '', caller: me(), callee, state: 'ringing' }, 'caller');
  cur = c;
  showCall(c, 'calling', `Calling ${displayName(callee)}…`);
  try {
    c.call = await api.post('/api/v1/calls', { callee, codecs: await decodableCodecs() });
  } catch (err) {
    finish(c, errorText(err), false);
    return;
  }
  if (c.over) { // hung up before the server answered
    api.del(`/api/v1/calls/${api.seg(c.call.id)}`).catch(() => {});
    return;
  }
  // Events about this call that came before its id.
  for (const e of c.early.splice(0)) {
    if (e.call.id !== c.call.id) continue;
    if (e.type === 'call-ended') {
      ended(e.call);
      return;
    }
    c.call = e.call;
  }
  if (c.call.state === 'active') activate(c);
  join(c);
}

function incoming(call) {
  if (cur && cur.call.id === call.id) return;
  if (cur) return; // the server answers busy for us
  const c = newCall(call, 'callee');
  cur = c;
  // Auto-answer turns the camera on without a click: as chosen in
  // Settings, per caller.
  if (answersAtOnce(c.peer)) {
    accept(c);
    return;
  }
  const label = displayName(c.peer);
  const r = ringView(c.peer, label, { onAccept: () => accept(c), onDecline: () => decline(c) });
  layer(r.el, 'ringing');
  r.focus();
  startRing();
  speak(`${label} is calling you.`);
}

async function accept(c) {
  stopRing();
  c.acceptedHere = true;
  showCall(c, 'connecting', 'Connecting…');
  try {
    c.call = await api.post(`/api/v1/calls/${api.seg(c.call.id)}/accept`, { codecs: await decodableCodecs() });
  } catch (err) {
    if (err.status === 409 && err.code === 'conflict') {
      // Another page of mine answered first (both may auto-answer).
      finish(c, 'You answered on another page.', true, true);
      return;
    }
    finish(c, errorText(err), false);
    return;
  }
  activate(c);
  join(c);
}

async function decline(c) {
  stopRing();
  try {
    await api.post(`/api/v1/calls/${api.seg(c.call.id)}/decline`);
  } catch {
    // The call is over either way.
  }
  finish(c, '', true, true);
  announce(`You declined the call from ${displayName(c.peer)}.`);
}

function accepted(call) {
  if (!cur || cur.call.id !== call.id) return;
  if (cur.role === 'callee' && !cur.acceptedHere) {
    // Ringing here, answered on another page of mine: stop ringing.
    finish(cur, 'You answered on another page.', true, true);
    return;
  }
  cur.call = call;
  activate(cur);
  join(cur);
}

// activate moves c to the active state: status and clock.
function activate(c) {
  if (c.call.state !== 'active') c.call = { ...c.call, state: 'active' };
  if (!c.ui) showCall(c, 'connecting', 'Connecting…');
  if (!c.clock) {
    c.clock = true;
    const t = Date.parse(c.call.answered || '');
    c.ui.startClock(Number.isNaN(t) || t > Date.now() ? Date.now() : t);
  }
  c.ui.setStatus('active', `In call with ${displayName(c.peer)}`);
  layer(c.ui.el, 'active');
  if (c.pubWaits) {
    c.pubWaits = false;
    keep(c, 'pub');
  }
}

// resume picks up calls after (re)connecting to the feed: a ringing call
// to me rings; a call this page shows that the server no longer lists has
// ended. A call that another page of mine takes part in stays there: this
// page only says so.
function resume(calls) {
  if (cur && cur.call.id && !calls.some((x) => x.id === cur.call.id)) {
    finish(cur, 'The call ended.', true);
  }
  if (cur && cur.role === 'callee' && !cur.acceptedHere) {
    // Ringing here, but answered elsewhere while this page was away.
    const now = calls.find((x) => x.id === cur.call.id);
    if (now && now.state === 'active') finish(cur, 'You answered on another page.', true, true);
  }
  for (const call of calls) {
    if (cur || call.state === 'ended') continue;
    if (call.state === 'ringing' && call.callee === me()) {
      incoming(call);
    } else {
      offerHangup(call);
    }
  }
}

// offerHangup is for a call of mine that another page (or a page that
// crashed) takes part in: this page can end it.
async function offerHangup(call) {
  const peer = displayName(peerOf(call));
  const end = await confirm('A call on another page', `You are in a call with ${peer} on another page. End it?`, 'Hang up');
  if (end) api.del(`/api/v1/calls/${api.seg(call.id)}`).catch(() => {});
}

// join starts my camera and both media loops (once per call).
async function join(c) {
  if (c.joined || c.over) return;
  c.joined = true;
  try {
    const base = await media.acquire();
    c.base = true;
    if (c.over) return;
    setLocal(c, base);
    c.unsub = media.onChange((s) => {
      if (s && !c.over) setLocal(c, s);
    });
  } catch (err) {
    announce(`Your camera could not be started: ${errorText(err)} The call goes on without it.`, 'error');
  }
  if (c.over) return;
  // My video goes out once the call is answered: the peer's page has then
  // said what it decodes, and mine sends one of those codecs.
  if (c.local && c.call.state === 'active') keep(c, 'pub');
  else if (c.local) c.pubWaits = true;
  keep(c, 'view');
}

// setLocal gives the call its own copies of the shared tracks, so that
// mute and camera off touch only the call.
function setLocal(c, base) {
  const old = c.local;
  c.local = new MediaStream(base.getTracks().map((t) => t.clone()));
  applyLocal(c);
  c.ui.setLocal(c.screen || c.local, Boolean(c.screen));
  c.ui.canShare(c.local.getVideoTracks().length > 0);
  if (c.pub) replaceTracks(c.pub, outgoing(c));
  if (old) old.getTracks().forEach((t) => t.stop());
}

// outgoing is what the call sends: the microphone, and the shared screen
// or else the camera.
function outgoing(c) {
  const audio = c.local ? c.local.getAudioTracks() : [];
  const video = c.screen ? c.screen.getVideoTracks() : (c.local ? c.local.getVideoTracks() : []);
  return new MediaStream([...audio, ...video]);
}

// share starts sharing the screen in c in the camera's place, in the same
// session (replaceTrack: no renegotiation), or stops it.
async function share(c) {
  if (c.screen) {
    stopShare(c);
    return;
  }
  let s;
  try {
    s = await getScreen();
  } catch (err) {
    announce(errorText(err), 'error');
    return;
  }
  if (!s) return; // the person cancelled the browser's picker
  if (c.over || c.screen) {
    s.getTracks().forEach((t) => t.stop());
    return;
  }
  c.screen = s;
  // The browser's own "Stop sharing" ends the track.
  s.getVideoTracks().forEach((t) => t.addEventListener('ended', () => { if (c.screen === s) stopShare(c); }));
  if (c.pub) await replaceTracks(c.pub, outgoing(c));
  c.ui.setLocal(s, true);
  speak('You are sharing your screen.');
}

// stopShare puts the camera back in the screen's place.
function stopShare(c) {
  const s = c.screen;
  if (!s) return;
  c.screen = null;
  if (c.pub) replaceTracks(c.pub, outgoing(c));
  s.getTracks().forEach((t) => t.stop());
  if (!c.over) {
    c.ui.setLocal(c.local, false);
    speak('You stopped sharing your screen.');
  }
}

function applyLocal(c) {
  if (!c.local) return;
  c.local.getAudioTracks().forEach((t) => { t.enabled = !c.muted; });
  c.local.getVideoTracks().forEach((t) => { t.enabled = !c.cameraOff; });
}

// peerCodecs are the video codecs the peer's page decodes, if it said.
function peerCodecs(c) {
  return (c.call.codecs && c.call.codecs[c.peer]) || null;
}

// keep runs one of the call's sessions ('pub' or 'view') until the call
// is over: (re)connecting after a drop, and retrying the view while the
// peer has not published yet (409).
async function keep(c, which) {
  let attempt = 0;
  while (!c.over) {
    let ended;
    const over = new Promise((resolve) => { ended = resolve; });
    c.wakes.add(ended);
    try {
      const opts = { onEnded: () => ended(), signal: c.abort.signal };
      const s = which === 'pub'
        ? await publish(streamOf(c.call, me()), outgoing(c), { ...opts, codecs: peerCodecs(c) })
        : await view(streamOf(c.call, c.peer), { ...opts, onTrack: (m) => c.ui.setRemote(m) });
      if (c.over) {
        s.close();
        break;
      }
      c[which] = s;
      if (which === 'view') watchRemote(c);
      attempt = 0;
      await over;
    } catch (err) {
      if (c.over || err.name === 'AbortError') break;
      attempt++;
      if (err.status && ![409, 429, 503, 404, 0].includes(err.status) && attempt > 3) {
        c.ui.setStatus('connecting', sentence(`${which === 'pub' ? 'Your video' : 'The other side'} could not connect: ${errorText(err)}`));
      }
      const ms = Math.min(err.retryAfter ? err.retryAfter * 1000 : 1000 * attempt, 3000);
      await new Promise((r) => { const t = setTimeout(r, ms); c.wakes.add(() => { clearTimeout(t); r(); }); });
    } finally {
      c.wakes.delete(ended);
      if (which === 'pub') c.pub = null;
      else c.view = null;
    }
  }
}

// watchRemote follows the peer's video: if it plays while the call still
// looks ringing here, the acceptance was missed (the peer publishes only
// once the call is answered), so the page asks the server for the call.
function watchRemote(c) {
  if (c.watchingRemote) return;
  c.watchingRemote = true;
  const v = c.ui.el.querySelector('#call-remote video');
  let asked = false;
  const onPlay = async () => {
    if (c.over || c.call.state === 'active' || asked || !c.call.id) return;
    asked = true;
    try {
      const now = await api.get(`/api/v1/calls/${api.seg(c.call.id)}`);
      if (!c.over && now && now.state === 'active' && c.call.state !== 'active') {
        c.call = now;
        activate(c);
      }
    } catch {
      // The call's own events will tell.
    } finally {
      asked = false;
    }
  };
  v.addEventListener('playing', onPlay);
  if (!v.paused && v.readyState >= 2) onPlay();
}

// hangup ends the call from this side.
async function hangup(c) {
  const id = c.call.id;
  finish(c, 'Call ended.', false);
  if (id) await api.del(`/api/v1/calls/${api.seg(id)}`).catch(() => {});
}

// finish tears down c's media and shows text on the end screen (or, when
// quiet, closes the layer at once). gone says the server has ended the
// sessions already.
function finish(c, text, gone, quiet = false) {
  if (c.over) return;
  c.over = true;
  stopRing();
  c.abort.abort();
  for (const s of [c.pub, c.view]) if (s) s.close(gone);
  for (const w of c.wakes) w();
  if (c.local) c.local.getTracks().forEach((t) => t.stop());
  if (c.screen) c.screen.getTracks().forEach((t) => t.stop());
  c.screen = null;
  if (c.unsub) c.unsub();
  if (c.base) media.release();
  if (cur === c) cur = null;
  if (quiet || !c.ui) {
    if (c.ui) c.ui.stop();
    if (!cur) layer(null);
    if (text) announce(text);
    return;
  }
  c.ui.ended(text);
  layer(c.ui.el, 'ended');
  speak(text); // the call screen shows it: screen readers hear it
  setTimeout(() => {
    const box = document.getElementById('call-layer');
    if (box && box.firstElementChild === c.ui.el) layer(null);
  }, 6000);
}

// startRing plays a soft two-tone ring while a call waits for an answer
// (silently nothing if the browser allows no sound yet).
function startRing() {
  stopRing();
  document.title = 'Incoming call · wishcast';
  try {
    const ctx = new AudioContext();
    const beep = () => {
      if (ctx.state !== 'running') return;
      for (const [f, at] of [[660, 0], [880, 0.25]]) {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = f;
        g.gain.setValueAtTime(0.0001, ctx.currentTime + at);
        g.gain.exponentialRampToValueAtTime(0.15, ctx.currentTime + at + 0.03);
        g.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + at + 0.22);
        o.connect(g).connect(ctx.destination);
        o.start(ctx.currentTime + at);
        o.stop(ctx.currentTime + at + 0.25);
      }
    };
    ctx.resume().then(beep, () => {});
    ring = { ctx, timer: setInterval(beep, 2000) };
  } catch {
    ring = null;
  }
}

function stopRing() {
  document.title = 'wishcast';
  if (!ring) return;
  clearInterval(ring.timer);
  ring.ctx.close().catch(() => {});
  ring = null;
}
