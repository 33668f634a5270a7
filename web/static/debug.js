// debug.js: window.wishcast, for support and the browser tests: stats()
// summarises this page's live WebRTC sessions (direction, stream, session
// resource, connection state, per-kind RTP counters and the codec, and
// what each sender sends: camera or screen, and each simulcast layer it
// sends); restartICE() runs the ICE
// restart a network change would, on every session.

import { live } from './session.js';

// summarize reduces one peer connection's getStats() to per-kind counters.
async function summarize(s) {
  const out = {
    kind: s.kind, stream: s.stream, resource: s.location, connectionState: s.pc.connectionState,
    iceConnectionState: s.pc.iceConnectionState, inbound: {}, outbound: {}, layers: [],
    senders: s.pc.getSenders().filter((x) => x.track).map((x) => ({
      kind: x.track.kind, label: x.track.label, surface: (x.track.getSettings() || {}).displaySurface || '',
    })),
  };
  const report = await s.pc.getStats();
  report.forEach((r) => {
    if (r.type !== 'inbound-rtp' && r.type !== 'outbound-rtp') return;
    const codec = r.codecId ? report.get(r.codecId) : undefined;
    const inbound = r.type === 'inbound-rtp';
    const entry = {
      packets: (inbound ? r.packetsReceived : r.packetsSent) || 0,
      bytes: (inbound ? r.bytesReceived : r.bytesSent) || 0,
      framesDecoded: r.framesDecoded || 0,
      framesEncoded: r.framesEncoded || 0,
      frameWidth: r.frameWidth || 0,
      frameHeight: r.frameHeight || 0,
      codec: codec ? codec.mimeType : '',
    };
    if (!inbound && r.rid) out.layers.push({ rid: r.rid, ...entry });
    const side = inbound ? out.inbound : out.outbound;
    if (!side[r.kind] || entry.packets >= side[r.kind].packets) side[r.kind] = entry;
  });
  return out;
}

// installDebug defines window.wishcast.
export function installDebug() {
  window.wishcast = Object.freeze({
    stats: () => Promise.all([...live].map(summarize)),
    restartICE: () => Promise.all([...live].map((s) => {
      s.restarts = 0;
      return s.restartICE();
    })),
  });
}
