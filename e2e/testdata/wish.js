// wish.js: a minimal WHIP publisher and WHEP viewer for the end-to-end
// tests. Each tab plays one role. The Go side starts publish() or view()
// without awaiting it and polls `state` and stats() until it sees what it
// expects, so a hang shows up as the phase it stuck in.

export const state = {
  role: '',
  phase: 'idle', // idle, getUserMedia, gathering, posting, answered, failed, left
  status: 0, // HTTP status of the WHIP/WHEP POST
  location: '', // its Location header
  etag: '',
  contentType: '',
  error: '',
  deleteStatus: 0, // HTTP status of leave()'s DELETE
  connectionState: 'new',
  iceConnectionState: 'new',
  tracks: 0, // remote tracks received (viewer)
};

let pc = null;
let server = '';

function show() {
  const el = document.getElementById('status');
  if (el) el.textContent = JSON.stringify(state, null, 1);
}

function fail(err) {
  state.phase = 'failed';
  state.error = String((err && err.stack) || err);
  console.error(`wish.${state.role || 'page'} failed:`, state.error);
  show();
}

function newPeer() {
  const p = new RTCPeerConnection();
  p.addEventListener('connectionstatechange', () => {
    state.connectionState = p.connectionState;
    console.log(`wish.${state.role}: connectionState=${p.connectionState}`);
    show();
  });
  p.addEventListener('iceconnectionstatechange', () => {
    state.iceConnectionState = p.iceConnectionState;
    show();
  });
  return p;
}

// gathered resolves when ICE gathering is complete, or after ms.
function gathered(p, ms) {
  if (p.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    p.addEventListener('icegatheringstatechange', () => {
      if (p.iceGatheringState === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

// token is the Bearer token sent with every request (setToken).
let token = '';

// setToken sets the Bearer token the page's requests carry.
export function setToken(t) {
  token = t;
}

// authHeaders adds the Authorization header when a token is set.
function authHeaders(h) {
  return token ? { ...h, Authorization: `Bearer ${token}` } : h;
}

// negotiate runs the WHIP/WHEP offer/answer exchange against url.
async function negotiate(url) {
  await pc.setLocalDescription(await pc.createOffer());
  state.phase = 'gathering';
  show();
  await gathered(pc, 2000);
  state.phase = 'posting';
  show();
  const resp = await fetch(url, {
    method: 'POST',
    headers: authHeaders({ 'Content-Type': 'application/sdp' }),
    body: pc.localDescription.sdp,
  });
  state.status = resp.status;
  state.location = resp.headers.get('Location') || '';
  state.etag = resp.headers.get('ETag') || '';
  state.contentType = resp.headers.get('Content-Type') || '';
  const body = await resp.text();
  if (resp.status !== 201) {
    throw new Error(`POST ${url}: HTTP ${resp.status}: ${body}`);
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  state.phase = 'answered';
  show();
}

// codecsFor returns the codecs of caps with the MIME type video/<name>; for
// H264 only packetization-mode=1.
function codecsFor(caps, name) {
  const mime = `video/${name}`.toLowerCase();
  return ((caps && caps.codecs) || []).filter((c) => c.mimeType.toLowerCase() === mime &&
    (name.toLowerCase() !== 'h264' || /packetization-mode=1/.test(c.sdpFmtpLine || '')));
}

// capabilities lists the sender and receiver codecs of kind.
export function capabilities(kind) {
  const list = (caps) => ((caps && caps.codecs) || []).map((c) => ({
    mimeType: c.mimeType, clockRate: c.clockRate, sdpFmtpLine: c.sdpFmtpLine || '',
  }));
  return {
    sender: list(RTCRtpSender.getCapabilities(kind)),
    receiver: list(RTCRtpReceiver.getCapabilities(kind)),
  };
}

// publish sends the fake camera and microphone to serverURL/whip/stream.
// opts.videoCodec ('H264', 'VP8', ...) restricts the video codecs offered.
export async function publish(serverURL, stream, opts) {
  opts = opts || {};
  state.role = 'publisher';
  server = serverURL;
  try {
    state.phase = 'getUserMedia';
    show();
    const media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    const video = document.getElementById('video');
    video.srcObject = media;
    pc = newPeer();
    for (const track of media.getTracks()) {
      const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [media] });
      if (track.kind === 'video' && opts.videoCodec) {
        const want = codecsFor(RTCRtpSender.getCapabilities('video'), opts.videoCodec);
        if (want.length === 0) throw new Error(`no ${opts.videoCodec} in RTCRtpSender.getCapabilities('video')`);
        tr.setCodecPreferences(want);
      }
    }
    await negotiate(`${serverURL}/whip/${stream}`);
  } catch (err) {
    fail(err);
  }
}

// view receives serverURL/whep/stream into the page's <video>.
export async function view(serverURL, stream) {
  state.role = 'viewer';
  server = serverURL;
  try {
    pc = newPeer();
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    const remote = new MediaStream();
    const video = document.getElementById('video');
    pc.addEventListener('track', (ev) => {
      state.tracks++;
      remote.addTrack(ev.track);
      if (video.srcObject !== remote) video.srcObject = remote;
      video.play().catch((err) => console.warn('video.play:', String(err)));
      show();
    });
    await negotiate(`${serverURL}/whep/${stream}`);
  } catch (err) {
    fail(err);
  }
}

// leave DELETEs the session and closes the peer connection. It returns the
// DELETE's status (also in state.deleteStatus).
export async function leave() {
  try {
    if (state.location) {
      const resp = await fetch(new URL(state.location, server).href, { method: 'DELETE', headers: authHeaders({}) });
      state.deleteStatus = resp.status;
    }
  } catch (err) {
    fail(err);
  }
  if (pc) pc.close();
  state.phase = state.phase === 'failed' ? 'failed' : 'left';
  show();
  return state.deleteStatus;
}

// stats summarises getStats(): per kind, the inbound and outbound RTP
// counters with the codec, plus the <video>'s size.
export async function stats() {
  const out = {
    connectionState: pc ? pc.connectionState : 'none',
    iceConnectionState: pc ? pc.iceConnectionState : 'none',
    inbound: {},
    outbound: {},
    videoWidth: 0,
    videoHeight: 0,
  };
  const video = document.getElementById('video');
  if (video) {
    out.videoWidth = video.videoWidth;
    out.videoHeight = video.videoHeight;
  }
  if (!pc) return out;
  const report = await pc.getStats();
  report.forEach((s) => {
    if (s.type !== 'inbound-rtp' && s.type !== 'outbound-rtp') return;
    const codec = s.codecId ? report.get(s.codecId) : undefined;
    const entry = {
      packets: (s.type === 'inbound-rtp' ? s.packetsReceived : s.packetsSent) || 0,
      bytes: (s.type === 'inbound-rtp' ? s.bytesReceived : s.bytesSent) || 0,
      framesDecoded: s.framesDecoded || 0,
      framesEncoded: s.framesEncoded || 0,
      frameWidth: s.frameWidth || 0,
      frameHeight: s.frameHeight || 0,
      codec: codec ? codec.mimeType : '',
      fmtp: (codec && codec.sdpFmtpLine) || '',
      implementation: s.decoderImplementation || s.encoderImplementation || '',
    };
    const side = s.type === 'inbound-rtp' ? out.inbound : out.outbound;
    const prev = side[s.kind];
    // Keep the busiest stream of a kind (simulcast layers, stale SSRCs).
    if (!prev || entry.packets >= prev.packets) side[s.kind] = entry;
  });
  return out;
}
