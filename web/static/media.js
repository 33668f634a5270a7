// media.js: this device's camera and microphone. One shared MediaStream
// serves the preview, being watched and calls; it opens on first use and
// closes when the last user releases it. The chosen devices are remembered
// in localStorage; choosing another one swaps the tracks everywhere.

const KEYS = { camera: 'wishcast.camera', microphone: 'wishcast.microphone' };

let current = null; // the open MediaStream
let opening = null; // the pending getUserMedia
let users = 0;
const listeners = new Set();

// saved returns the remembered device id of kind ('camera', 'microphone').
export function saved(kind) {
  try {
    return localStorage.getItem(KEYS[kind]) || '';
  } catch {
    return '';
  }
}

function constraints(video, audio) {
  const cam = saved('camera');
  const mic = saved('microphone');
  return {
    video: video && {
      width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 },
      ...(cam ? { deviceId: { ideal: cam } } : {}),
    },
    audio: audio && {
      echoCancellation: true, noiseSuppression: true,
      ...(mic ? { deviceId: { ideal: mic } } : {}),
    },
  };
}

// open gets camera and microphone, or whichever of them exists.
async function open() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error('This browser cannot use a camera here; open wishcast over HTTPS (or on localhost)');
  }
  let first;
  for (const [v, a] of [[true, true], [true, false], [false, true]]) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints(v, a));
    } catch (err) {
      first = first || err;
      if (err.name === 'NotAllowedError' || err.name === 'SecurityError') break;
    }
  }
  throw mediaError(first);
}

// mediaError turns a getUserMedia failure into a sentence.
export function mediaError(err) {
  const name = err && err.name;
  const msg = {
    NotAllowedError: 'Camera and microphone access is blocked; allow it in the browser’s site settings',
    SecurityError: 'Camera and microphone access is blocked; allow it in the browser’s site settings',
    NotFoundError: 'No camera or microphone was found',
    NotReadableError: 'The camera or microphone is in use by another program',
    OverconstrainedError: 'The chosen camera or microphone is not available',
    AbortError: 'The camera could not be started',
  }[name];
  return new Error(msg || (err && err.message) || 'The camera could not be started');
}

// acquire returns the shared stream, opening it if needed. Pair every
// acquire with a release.
export async function acquire() {
  users++;
  try {
    if (current) return current;
    if (!opening) opening = open().finally(() => { opening = null; });
    const s = await opening;
    if (!current) current = s;
    else if (s !== current) s.getTracks().forEach((t) => t.stop());
    return current;
  } catch (err) {
    users--;
    throw err;
  }
}

// release gives the stream back; the last release turns the camera off.
export function release() {
  users = Math.max(0, users - 1);
  if (users === 0 && current) {
    current.getTracks().forEach((t) => t.stop());
    current = null;
    notify(null);
  }
}

// active is the open stream, or null.
export function active() {
  return current;
}

// onChange calls fn(stream) whenever the shared stream is replaced (or
// closed: null); it returns the unsubscribe function.
export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(s) {
  for (const fn of listeners) fn(s);
}

// devices lists the cameras and microphones (labels appear once the user
// has allowed access).
export async function devices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return { cameras: [], microphones: [] };
  const all = await navigator.mediaDevices.enumerateDevices();
  const pick = (kind, word) => all.filter((d) => d.kind === kind && d.deviceId)
    .map((d, i) => ({ id: d.deviceId, label: d.label || `${word} ${i + 1}` }));
  return { cameras: pick('videoinput', 'Camera'), microphones: pick('audioinput', 'Microphone') };
}

// choose remembers a device; if the stream is open it is reopened with
// it and every user is told to swap tracks.
export async function choose(kind, id) {
  try {
    if (id) localStorage.setItem(KEYS[kind], id);
    else localStorage.removeItem(KEYS[kind]);
  } catch {
    // Private mode: the choice lasts until the page is closed.
  }
  if (!current) return;
  const old = current;
  const next = await open();
  current = next;
  notify(next);
  old.getTracks().forEach((t) => t.stop());
}
