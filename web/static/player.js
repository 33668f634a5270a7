// player.js: the WHEP player component. It shows one stream in a <video>
// with its state in words: starting (an on-demand camera or a person's
// page may take ~10 s), playing, waiting to retry (409/503, honouring
// Retry-After), reconnecting after a drop, or an error the user must act
// on (401/403/404/422), or off air (the publisher left; the server says
// so in an event). Controls: sound on/off, full screen, a quality menu
// when the stream comes in several sizes (simulcast: automatic, or one
// pinned), and a stats overlay (resolution, frame rate, bitrate, round
// trip, loss, codec, the layer received).

import { get, streamPath } from './api.js';
import { icon, h, sentence } from './ui.js';
import { chooseLayer, follow, view } from './whep.js';

// MAX_BACKOFF_MS caps the wait between reconnection attempts.
const MAX_BACKOFF_MS = 30000;

// STALL_MS: no new frame (or, without video, no audio) for this long while
// playing means the picture is frozen: the source stopped sending.
const STALL_MS = 3000;

// createPlayer returns { el, stop } for stream. opts.label names the
// stream for people ("Bob's camera"); opts.startText is the message while
// the stream starts; opts.onUnauthorized runs on 401 and opts.signInText
// replaces what the player says then; opts.stalled, when set, is asked
// (async) what to say while the picture is frozen and returns { text,
// detail } or null for the general words; opts.onState(state) hears each
// change of the player's state (data-state).
export function createPlayer(stream, opts = {}) {
  const label = opts.label || stream;
  const video = h('video', { playsinline: true, autoplay: true, 'aria-label': `Live video: ${label}` });
  const msg = h('p', { class: 'player-msg' });
  const sub = h('p', { class: 'player-sub' });
  const countdown = h('p', { class: 'player-sub' });
  const spinner = h('span', { class: 'spinner', 'aria-hidden': 'true' });
  const retryBtn = h('button', { class: 'btn btn-small', type: 'button', text: 'Try again now', hidden: true });
  const overlay = h('div', { class: 'player-overlay', role: 'status', 'aria-live': 'polite' }, spinner, msg, sub, countdown, retryBtn);
  const soundBtn = h('button', { class: 'btn btn-icon', type: 'button', 'data-action': 'sound', 'aria-pressed': 'false' });
  const fullBtn = h('button', { class: 'btn btn-icon', type: 'button', 'data-action': 'fullscreen', 'aria-label': 'Full screen', title: 'Full screen' }, icon('full'));
  const statsBtn = h('button', { class: 'btn btn-icon', type: 'button', 'data-action': 'stats', 'aria-pressed': 'false', 'aria-label': 'Show statistics', title: 'Statistics' }, icon('stats'));
  const statsBox = h('dl', { class: 'player-stats', hidden: true, 'aria-label': 'Stream statistics' });
  const quality = h('select', { class: 'player-quality', 'aria-label': 'Quality', title: 'Quality', hidden: true });
  const controls = h('div', { class: 'player-controls' }, quality, soundBtn, statsBtn, document.fullscreenEnabled ? fullBtn : null);
  const el = h('div', { class: 'player', 'data-state': 'connecting' }, video, overlay, statsBox, controls);

  let stopped = false;
  let session = null;
  let abort = null;
  let wake = null; // resolves the current wait early (retry now, session end)
  let statsTimer = 0;
  let lastStats = null;
  let layers = null; // the latest layers event: { mediaId, layers, automatic }

  function setState(state, text, detail = '') {
    const was = el.dataset.state;
    el.dataset.state = state;
    if (opts.onState && was !== state) opts.onState(state);
    msg.textContent = text;
    sub.textContent = detail;
    countdown.textContent = '';
    spinner.hidden = !(state === 'connecting' || state === 'reconnecting' || state === 'stalled');
    if (state !== 'playing' && state !== 'stalled' && state !== 'offair') drawQuality(null);
    overlay.hidden = state === 'playing';
    retryBtn.hidden = !(state === 'waiting' || state === 'error');
    retryBtn.textContent = state === 'error' ? 'Try again' : 'Try again now';
  }

  function drawSound() {
    const off = video.muted;
    soundBtn.replaceChildren(icon(off ? 'sound+slash' : 'sound'), h('span', { class: 'btn-label', text: off ? 'Unmute' : 'Mute' }));
    soundBtn.setAttribute('aria-label', off ? 'Turn sound on' : 'Turn sound off');
    soundBtn.setAttribute('aria-pressed', String(off));
    soundBtn.classList.toggle('attention', off && el.dataset.state === 'playing');
  }

  async function play() {
    try {
      await video.play();
    } catch (err) {
      if (err && err.name === 'NotAllowedError' && !video.muted) {
        // Autoplay with sound was refused: play muted, offer the sound.
        video.muted = true;
        drawSound();
        await video.play().catch(() => {});
      }
    }
  }

  video.addEventListener('playing', () => {
    if (session && !stopped) setState('playing', '');
    drawSound();
  });
  soundBtn.addEventListener('click', () => {
    video.muted = !video.muted;
    if (!video.muted) video.play().catch(() => {});
    drawSound();
  });
  fullBtn.addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else el.requestFullscreen().catch(() => {});
  });
  statsBtn.addEventListener('click', () => {
    const on = statsBox.hidden;
    statsBox.hidden = !on;
    statsBtn.setAttribute('aria-pressed', String(on));
    clearInterval(statsTimer);
    lastStats = null;
    if (on) {
      drawStats();
      statsTimer = setInterval(drawStats, 1000);
    }
  });
  retryBtn.addEventListener('click', () => wake && wake());
  quality.addEventListener('change', async () => {
    const s = session;
    if (!s || !layers) return;
    quality.disabled = true;
    try {
      await chooseLayer(s, layers.mediaId, quality.value);
    } catch {
      drawQuality(layers); // back to what the server says
    } finally {
      quality.disabled = false;
    }
  });

  // drawQuality fills the quality menu from a layers event: Automatic and
  // one entry per layer the publisher sends, largest first. It is hidden
  // while the stream has one size (or none is known).
  function drawQuality(l) {
    layers = l;
    const sent = l ? l.layers.filter((x) => x.active || x.selected) : [];
    quality.hidden = sent.length < 2;
    if (quality.hidden || quality.disabled) return;
    const cur = sent.find((x) => x.selected);
    const auto = h('option', { value: '', text: cur && cur.height ? `Auto (${cur.height}p)` : 'Auto' });
    const opts = sent.map((x) => h('option', { value: x.rid, text: x.height ? `${x.height}p` : x.rid }));
    quality.replaceChildren(auto, ...opts);
    quality.value = l.automatic || !cur ? '' : cur.rid;
  }

  // watchStall follows a session's received media once a second: while
  // nothing new arrives for STALL_MS the player says so (and why, when
  // opts.stalled knows), and plays on by itself when media comes back.
  // It returns the function that stops it.
  function watchStall(s) {
    let last = -1;
    let since = performance.now();
    let asking = false;
    const iv = setInterval(async () => {
      if (s.closed || stopped) return;
      const n = await progress(s.pc).catch(() => last);
      const now = performance.now();
      if (n !== last) {
        last = n;
        since = now;
        if (el.dataset.state === 'stalled' || el.dataset.state === 'offair') setState('playing', '');
        return;
      }
      if (el.dataset.state !== 'playing' || now - since < STALL_MS || asking) return;
      asking = true;
      const why = opts.stalled ? await opts.stalled().catch(() => null) : null;
      asking = false;
      if (el.dataset.state !== 'playing' || s.closed || last !== n) return;
      setState('stalled', (why && why.text) || 'The picture has stopped.',
        (why && why.detail) || 'The stream stopped sending; it plays on by itself when it comes back.');
    }, 1000);
    return () => clearInterval(iv);
  }

  // source holds the stream's own codecs by kind, from GET
  // /api/v1/streams/{stream}: a codec received that differs from it came
  // through the server's transcode.
  let source = {};
  let sourceAsked = 0;
  function refreshSource() {
    if (Date.now() - sourceAsked < 10000) return;
    sourceAsked = Date.now();
    get(`/api/v1/streams/${streamPath(stream)}`, { allow401: true }).then((info) => {
      source = {};
      for (const t of (info && info.tracks) || []) source[t.kind] = t.codec;
    }).catch(() => {});
  }
  function codecText(codec, kind) {
    const from = source[kind];
    if (!codec || !from || from.toLowerCase() === codec.toLowerCase()) return codec;
    return `${codec} (transcoded from ${from})`;
  }

  async function drawStats() {
    if (!session || session.closed) {
      statsBox.replaceChildren(h('dt', { text: 'State' }), h('dd', { text: 'not connected' }));
      return;
    }
    const s = await summarize(session.pc, lastStats);
    lastStats = s;
    const rows = [
      ['Resolution', s.width ? `${s.width}×${s.height}` : '—'],
      ['Frame rate', s.fps ? `${Math.round(s.fps)} fps` : '—'],
      ['Bitrate', s.kbps ? `${Math.round(s.kbps)} kbit/s` : '—'],
      ['Round trip', s.rtt != null ? `${Math.round(s.rtt * 1000)} ms` : '—'],
      ['Packet loss', `${s.loss.toFixed(1)} %`],
      ['Codec', [codecText(s.videoCodec, 'video'), codecText(s.audioCodec, 'audio')].filter(Boolean).join(', ') || '—'],
    ];
    refreshSource();
    const cur = layers && layers.layers.find((x) => x.selected);
    if (cur) rows.push(['Layer', `${cur.rid}${cur.width ? ` (${cur.width}×${cur.height})` : ''}, ${layers.automatic ? 'automatic' : 'chosen'}`]);
    statsBox.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
  }

  // wait shows a state and sleeps ms (with a countdown when waiting to
  // retry) or until wake().
  function wait(ms, state, text, detail = '') {
    return new Promise((resolve) => {
      const until = Date.now() + ms;
      const tick = () => {
        if (state !== 'waiting') return;
        const left = Math.ceil((until - Date.now()) / 1000);
        countdown.textContent = left > 0 ? `Trying again in ${left} s.` : '';
      };
      setState(state, text, detail);
      tick();
      const iv = setInterval(tick, 1000);
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        clearInterval(iv);
        wake = null;
        resolve();
      }
      wake = done;
    });
  }

  async function run() {
    let attempt = 0;
    let dropped = false;
    while (!stopped) {
      if (!dropped) setState('connecting', opts.startText || 'Starting the stream…', 'This can take a few seconds.');
      else if (el.dataset.state !== 'offair') setState('reconnecting', 'The stream was interrupted. Reconnecting…');
      abort = new AbortController();
      let ended;
      const over = new Promise((resolve) => { ended = resolve; });
      try {
        const s = await view(stream, {
          signal: abort.signal,
          onTrack: (media) => {
            if (video.srcObject !== media) video.srcObject = media;
            play();
          },
          onEnded: () => ended(),
        });
        if (stopped) {
          s.close();
          break;
        }
        session = s;
        attempt = 0;
        const unwatch = watchStall(s);
        const unfollow = follow(s, {
          // The publisher left: the server holds the session a while for
          // it to come back, and the picture resumes by itself then.
          inactive: () => {
            if (session === s) setState('offair', 'The stream has ended.', 'It plays here again if it goes live soon.');
          },
          layers: (l) => {
            if (session === s) drawQuality(l);
          },
        });
        await over;
        unwatch();
        unfollow();
        session = null;
        if (stopped) break;
        dropped = true;
        if (el.dataset.state === 'offair') await wait(1000, 'offair', msg.textContent, sub.textContent);
        else await wait(1000, 'reconnecting', 'The stream was interrupted. Reconnecting…');
        continue;
      } catch (err) {
        session = null;
        if (stopped || (err && err.name === 'AbortError')) break;
        const status = err.status || 0;
        const detail = sentence(err.detail || err.message);
        if (status === 401) {
          setState('error', opts.signInText || 'Sign in again to watch.', opts.signInText ? '' : detail);
          retryBtn.hidden = true; // nothing to try again until signed in
          if (opts.onUnauthorized) opts.onUnauthorized(err);
          return;
        }
        if ([400, 403, 404, 422].includes(status)) {
          const title = {
            400: 'This stream name is not valid.',
            403: 'You are not allowed to watch this.',
            404: 'This stream does not exist.',
            422: 'This browser cannot play this stream.',
          }[status];
          await wait(24 * 3600 * 1000, 'error', title, detail);
          continue;
        }
        attempt++;
        const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(attempt, 5));
        const ms = err.retryAfter ? Math.min(MAX_BACKOFF_MS, err.retryAfter * 1000) : backoff;
        const title = status === 409 ? 'The stream is not live.'
          : status === 503 || status === 429 ? 'The server is busy.'
            : 'The stream could not be started.';
        await wait(ms, 'waiting', title, detail);
      }
    }
  }

  drawSound();
  run();

  return {
    el,
    video,
    get session() { return session; },
    // stop ends the session and every timer; the element stays as is.
    stop() {
      stopped = true;
      clearInterval(statsTimer);
      if (abort) abort.abort();
      if (session) session.close();
      session = null;
      if (wake) wake();
      video.srcObject = null;
    },
  };
}

// progress counts what a session has received so far: decoded video
// frames, or audio samples when there is no video.
async function progress(pc) {
  const report = await pc.getStats();
  let frames = 0;
  let samples = 0;
  let video = false;
  report.forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    if (s.kind === 'video') {
      video = true;
      frames += s.framesDecoded || 0;
    } else if (s.kind === 'audio') samples += s.totalSamplesReceived || 0;
  });
  return video ? frames : samples;
}

// summarize reads the numbers the stats overlay shows from getStats():
// inbound video size and rate, bitrate since prev, RTT of the selected
// candidate pair, and packet loss.
export async function summarize(pc, prev) {
  const report = await pc.getStats();
  const out = { t: performance.now(), bytes: 0, width: 0, height: 0, fps: 0, kbps: 0, rtt: null, loss: 0, videoCodec: '', audioCodec: '' };
  let lost = 0;
  let received = 0;
  report.forEach((s) => {
    if (s.type === 'inbound-rtp') {
      out.bytes += s.bytesReceived || 0;
      lost += Math.max(0, s.packetsLost || 0);
      received += s.packetsReceived || 0;
      const codec = s.codecId && report.get(s.codecId);
      const name = codec ? codec.mimeType.split('/')[1] : '';
      if (s.kind === 'video') {
        out.width = s.frameWidth || 0;
        out.height = s.frameHeight || 0;
        out.fps = s.framesPerSecond || 0;
        out.videoCodec = name;
      } else if (s.kind === 'audio') out.audioCodec = name;
    } else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && s.currentRoundTripTime != null) {
      out.rtt = s.currentRoundTripTime;
    }
  });
  if (prev && out.t > prev.t) out.kbps = ((out.bytes - prev.bytes) * 8) / (out.t - prev.t);
  out.loss = lost + received > 0 ? (100 * lost) / (lost + received) : 0;
  return out;
}
