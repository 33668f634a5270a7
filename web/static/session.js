// session.js: one WHIP or WHEP session, the part publishing and viewing
// share. connect() sends the offer once ICE gathering is complete (or after
// 2 s) and applies the answer; candidates found later are trickled with
// PATCH (If-Match: the ETag). When the connection fails, stays
// disconnected for 3 s, or the network changes, it restarts ICE with a
// PATCH (If-Match: *). close() DELETEs the session; so does leaving the
// page (fetch keepalive). whip.js and whep.js add the media.

import { errorFrom, networkError } from './api.js';
import { applyRestartAnswer, parseExtensions, parseLinks, restartFragment, trickleFragment } from './sdp.js';

// GATHER_MS is how long an offer waits for ICE gathering before it is sent.
const GATHER_MS = 2000;
// DISCONNECTED_MS is how long ICE may stay disconnected before a restart.
const DISCONNECTED_MS = 3000;
// RESTART_TRIES bounds ICE restarts before the session counts as failed.
const RESTART_TRIES = 3;

// iceServers are the STUN/TURN servers the server announced in Link
// headers; sessions after the first start with them.
let iceServers = [];

// live are the sessions that have a resource on the server.
export const live = new Set();

// gathered resolves when ICE gathering completes, or after ms.
function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

// Session is one WebRTC session against a WHIP or WHEP endpoint.
// opts.onState(state) hears 'connecting', 'connected', 'restarting' and
// 'ended'; opts.onEnded(reason) is called once when the session is over
// for any reason other than close().
export class Session {
  constructor(endpoint, kind, opts = {}) {
    this.endpoint = new URL(endpoint, location.href).href;
    this.kind = kind; // 'publish' or 'view'
    this.stream = opts.stream || '';
    this.opts = opts;
    this.pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' });
    this.location = '';
    this.etag = '';
    this.extensions = { layer: '', events: '' }; // WHEP extension URLs
    this.closed = false;
    this.ended = false;
    this.gone = false; // the server has no resource any more: no DELETE
    this.sent = false; // the offer (or restart fragment) is out: trickle the rest
    this.pending = [];
    this.flushing = false;
    this.restarting = false;
    this.restarts = 0;
    this.discTimer = 0;
    this.watchdog = 0;
    this.pc.addEventListener('icecandidate', (ev) => this.onCandidate(ev.candidate));
    this.pc.addEventListener('iceconnectionstatechange', () => this.onICEState());
    this.pc.addEventListener('connectionstatechange', () => this.onConnState());
  }

  state(s) {
    if (this.opts.onState) this.opts.onState(s);
  }

  // connect runs the offer/answer exchange. It throws an APIError for an
  // error answer (status, detail, retryAfter) and leaves the session
  // closed then.
  async connect(signal) {
    this.state('connecting');
    try {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      await gathered(this.pc, GATHER_MS);
      if (this.closed) throw new DOMException('closed', 'AbortError');
      this.sent = true;
      let res;
      try {
        res = await fetch(this.endpoint, {
          method: 'POST',
          headers: { 'Content-Type': 'application/sdp' },
          body: this.pc.localDescription.sdp,
          signal,
        });
      } catch (err) {
        throw networkError(err);
      }
      if (res.status !== 201) throw await errorFrom(res);
      if (signal && signal.aborted) this.closed = true;
      const loc = res.headers.get('Location');
      if (!loc) throw new Error('the server answered without a session Location');
      this.location = new URL(loc, this.endpoint).href;
      this.etag = res.headers.get('ETag') || '';
      live.add(this);
      if (this.closed) {
        // Given up while the server answered: end the new session there.
        this.closed = false;
        throw new DOMException('closed', 'AbortError');
      }
      this.extensions = parseExtensions(res.headers.get('Link'), this.location);
      const servers = parseLinks(res.headers.get('Link'));
      if (servers.length) {
        iceServers = servers;
        this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers: servers });
      }
      await this.pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
      this.watchDTLS();
      this.flush();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  onCandidate(c) {
    if (!this.sent || this.closed) return; // still going into the offer
    this.pending.push(c);
    this.flush();
  }

  // flush PATCHes the candidates gathered since the offer, one request at a
  // time. A refused trickle is not fatal: the offer's candidates remain.
  async flush() {
    if (this.flushing || !this.location || this.restarting || !this.pending.length || this.closed) return;
    this.flushing = true;
    const batch = this.pending.splice(0);
    try {
      const res = await fetch(this.location, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', 'If-Match': this.etag || '*' },
        body: trickleFragment(this.pc.localDescription.sdp, batch),
      });
      if (res.status === 404) this.end('gone', true);
    } catch {
      // Network trouble: the ICE checks will tell.
    } finally {
      this.flushing = false;
    }
    if (this.pending.length) this.flush();
  }

  onICEState() {
    const s = this.pc.iceConnectionState;
    clearTimeout(this.discTimer);
    if (s === 'connected' || s === 'completed') {
      this.restarts = 0;
      clearTimeout(this.watchdog);
      this.state('connected');
    } else if (s === 'failed') {
      this.restartICE();
    } else if (s === 'disconnected') {
      this.discTimer = setTimeout(() => this.restartICE(), DISCONNECTED_MS);
    }
  }

  onConnState() {
    if (this.pc.connectionState === 'failed') this.restartICE();
  }

  // watchDTLS ends the session when the server closes it (a DTLS
  // close_notify): there is nothing to restart then.
  watchDTLS() {
    const t = this.pc.getTransceivers().map((tr) => tr.sender.transport).find(Boolean);
    if (!t || !t.addEventListener) return;
    t.addEventListener('statechange', () => {
      if (t.state === 'closed') this.end('closed by the server', true);
    });
  }

  // restartICE asks the server for new ICE credentials (RFC 9725 §4.3.3):
  // a new local offer's ufrag, pwd and candidates go out with If-Match: *;
  // the answer fragment is applied to the remote description. After
  // RESTART_TRIES restarts without a connection the session ends.
  async restartICE() {
    if (this.closed || this.ended || !this.location || this.restarting) return;
    if (this.restarts >= RESTART_TRIES) {
      this.end('the connection failed');
      return;
    }
    this.restarts++;
    this.restarting = true;
    this.state('restarting');
    try {
      this.sent = false;
      this.pending = [];
      this.pc.restartIce();
      await this.pc.setLocalDescription(await this.pc.createOffer({ iceRestart: true }));
      await gathered(this.pc, GATHER_MS);
      this.sent = true;
      if (this.closed) return;
      const res = await fetch(this.location, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', 'If-Match': '*' },
        body: restartFragment(this.pc.localDescription.sdp),
      });
      if (res.status === 404) {
        this.end('gone', true);
        return;
      }
      if (res.status !== 200) throw await errorFrom(res);
      this.etag = res.headers.get('ETag') || this.etag;
      const frag = await res.text();
      await this.pc.setRemoteDescription({ type: 'answer', sdp: applyRestartAnswer(this.pc.remoteDescription.sdp, frag) });
    } catch {
      // Undo the half-done offer so the next try starts clean.
      if (this.pc.signalingState === 'have-local-offer') {
        await this.pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
      this.sent = true;
    } finally {
      this.restarting = false;
    }
    // Give it time to connect; if not, try again (or end).
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      const s = this.pc.iceConnectionState;
      if (s !== 'connected' && s !== 'completed') this.restartICE();
    }, 8000);
    this.flush();
  }

  // end marks the session over (it failed, or the server ended it: gone)
  // and tells the owner once. A session that is not gone is DELETEd.
  end(reason, gone = false) {
    if (this.ended || this.closed) return;
    this.ended = true;
    this.gone = gone;
    this.close();
    this.state('ended');
    if (this.opts.onEnded) this.opts.onEnded(reason);
  }

  // close DELETEs the session (keepalive, so it also works while the page
  // unloads) and closes the peer connection. gone says the server has
  // ended it already (no DELETE then). Idempotent.
  close(gone = false) {
    if (this.closed) return;
    this.closed = true;
    if (gone) this.gone = true;
    clearTimeout(this.discTimer);
    clearTimeout(this.watchdog);
    live.delete(this);
    const pc = this.pc;
    if (!this.location || this.gone) {
      pc.close();
      return;
    }
    // Close the connection once the DELETE is answered (or after 2 s), so
    // that the server sees the DELETE first and no 404 comes back.
    const t = setTimeout(() => pc.close(), 2000);
    fetch(this.location, { method: 'DELETE', keepalive: true })
      .catch(() => {})
      .finally(() => {
        clearTimeout(t);
        pc.close();
      });
  }
}

// On a network change, restart ICE on every session at once: the old
// candidate pair may be dead even if ICE has not noticed yet.
let netTimer = 0;
function networkChanged() {
  clearTimeout(netTimer);
  netTimer = setTimeout(() => {
    for (const s of live) {
      s.restarts = 0;
      s.restartICE();
    }
  }, 500);
}
window.addEventListener('online', networkChanged);
if (navigator.connection && navigator.connection.addEventListener) {
  navigator.connection.addEventListener('change', networkChanged);
}

// Leaving the page ends every session on the server right away rather
// than when ICE times out.
window.addEventListener('pagehide', () => {
  for (const s of [...live]) s.close();
});
