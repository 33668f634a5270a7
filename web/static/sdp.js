// sdp.js: the SDP text work of WHIP/WHEP sessions: trickle ICE fragments
// (RFC 8840, application/trickle-ice-sdpfrag), applying the fragment an ICE
// restart answers with, and the ice-server Link headers (RFC 9725 §4.6).

// lines splits SDP text into lines without line endings or blanks.
function lines(sdp) {
  return String(sdp || '').split(/\r?\n/).filter((l) => l !== '');
}

// sections splits an SDP into its session part and media sections; each
// media section has its m-line, mid and lines.
export function sections(sdp) {
  const out = { session: [], media: [] };
  let cur = null;
  for (const l of lines(sdp)) {
    if (l.startsWith('m=')) {
      cur = { mline: l, mid: '', lines: [l] };
      out.media.push(cur);
    } else if (cur) {
      cur.lines.push(l);
      if (l.startsWith('a=mid:')) cur.mid = l.slice(6);
    } else {
      out.session.push(l);
    }
  }
  return out;
}

// iceCredentials returns the first ice-ufrag and ice-pwd of an SDP.
export function iceCredentials(sdp) {
  let ufrag = '';
  let pwd = '';
  for (const l of lines(sdp)) {
    if (!ufrag && l.startsWith('a=ice-ufrag:')) ufrag = l.slice(12);
    if (!pwd && l.startsWith('a=ice-pwd:')) pwd = l.slice(10);
  }
  return { ufrag, pwd };
}

// trickleFragment builds a PATCH body for candidates gathered after the
// offer was sent: the current credentials, then per media section its
// m-line, mid and candidates. A null in candidates marks the end of
// gathering (a=end-of-candidates).
export function trickleFragment(localSdp, candidates) {
  const { ufrag, pwd } = iceCredentials(localSdp);
  const out = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`];
  const media = sections(localSdp).media;
  const byMid = new Map();
  let end = false;
  for (const c of candidates) {
    if (!c || !c.candidate) {
      end = true;
      continue;
    }
    const mid = c.sdpMid != null ? c.sdpMid : (media[c.sdpMLineIndex || 0] || {}).mid || '';
    if (!byMid.has(mid)) byMid.set(mid, []);
    byMid.get(mid).push(c.candidate);
  }
  let wrote = false;
  for (const m of media) {
    const cands = byMid.get(m.mid);
    if (!cands) continue;
    out.push(m.mline, `a=mid:${m.mid}`, ...cands.map((c) => `a=${c}`));
    wrote = true;
  }
  if (end) {
    if (!wrote && media[0]) out.push(media[0].mline, `a=mid:${media[0].mid}`);
    out.push('a=end-of-candidates');
  }
  return `${out.join('\r\n')}\r\n`;
}

// restartFragment builds the PATCH body of an ICE restart from the new
// local offer: its new credentials and every candidate it holds so far.
export function restartFragment(localSdp) {
  const { ufrag, pwd } = iceCredentials(localSdp);
  const out = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`];
  for (const m of sections(localSdp).media) {
    const cands = m.lines.filter((l) => l.startsWith('a=candidate:'));
    if (!cands.length) continue;
    out.push(m.mline, `a=mid:${m.mid}`, ...cands);
  }
  return `${out.join('\r\n')}\r\n`;
}

// applyRestartAnswer rewrites the current remote answer with what the
// server's ICE restart fragment says: new credentials everywhere, the old
// candidates replaced by the new ones (under the mid they were given for,
// or the first media section), ice-lite and ice-options carried over.
export function applyRestartAnswer(remoteSdp, fragment) {
  const f = { ufrag: '', pwd: '', cands: new Map(), end: false, session: [] };
  let mid = '';
  for (const l of lines(fragment)) {
    if (l.startsWith('m=')) mid = '';
    else if (l.startsWith('a=mid:')) mid = l.slice(6);
    else if (l.startsWith('a=ice-ufrag:')) f.ufrag = l.slice(12);
    else if (l.startsWith('a=ice-pwd:')) f.pwd = l.slice(10);
    else if (l === 'a=end-of-candidates') f.end = true;
    else if (l.startsWith('a=candidate:')) {
      if (!f.cands.has(mid)) f.cands.set(mid, []);
      f.cands.get(mid).push(l);
    } else if (l === 'a=ice-lite' || l.startsWith('a=ice-options:')) f.session.push(l);
  }
  if (!f.ufrag || !f.pwd) throw new Error('the ICE restart answer has no credentials');
  const sdp = sections(remoteSdp);
  const fix = (l) => {
    if (l.startsWith('a=ice-ufrag:')) return `a=ice-ufrag:${f.ufrag}`;
    if (l.startsWith('a=ice-pwd:')) return `a=ice-pwd:${f.pwd}`;
    return l;
  };
  const keep = (l) => !l.startsWith('a=candidate:') && l !== 'a=end-of-candidates';
  const out = sdp.session.filter((l) => l !== 'a=ice-lite' && !l.startsWith('a=ice-options:')).map(fix);
  out.push(...f.session);
  const target = sdp.media.some((m) => f.cands.has(m.mid)) ? null : (sdp.media[0] || {}).mid;
  for (const m of sdp.media) {
    out.push(...m.lines.filter(keep).map(fix));
    const cands = f.cands.get(m.mid) || (m.mid === target ? f.cands.get('') || [] : []);
    out.push(...cands);
    if (f.end && (cands.length || m.mid === target)) out.push('a=end-of-candidates');
  }
  return `${out.join('\r\n')}\r\n`;
}

// linkEntries splits a Link header into { url, params } entries (params
// keyed by lower-case name, quotes removed).
function linkEntries(header) {
  const out = [];
  if (!header) return out;
  // Split on commas outside <...> and quotes.
  const parts = [];
  let cur = '';
  let angle = false;
  let quote = false;
  for (const ch of header) {
    if (ch === '<' && !quote) angle = true;
    else if (ch === '>' && !quote) angle = false;
    else if (ch === '"' && !angle) quote = !quote;
    if (ch === ',' && !angle && !quote) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const p of parts) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(p);
    if (!m) continue;
    const params = {};
    for (const kv of m[2].split(';')) {
      const eq = kv.indexOf('=');
      if (eq < 0) continue;
      const k = kv.slice(0, eq).trim().toLowerCase();
      let v = kv.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
      params[k] = v;
    }
    out.push({ url: m[1], params });
  }
  return out;
}

const hasRel = (params, rel) => (params.rel || '').split(/\s+/).includes(rel);

// parseLinks reads the rel="ice-server" Link header values into
// RTCIceServer entries (with username and credential for TURN).
export function parseLinks(header) {
  const servers = [];
  for (const { url, params } of linkEntries(header)) {
    if (!hasRel(params, 'ice-server')) continue;
    const s = { urls: url };
    if (params.username) s.username = params.username;
    if (params.credential) s.credential = params.credential;
    servers.push(s);
  }
  return servers;
}

// parseExtensions reads the WHEP extension links of an answer (video
// layer selection, server-sent events) into { layer, events } URLs,
// resolved against base; either is '' when the server offers none.
export function parseExtensions(header, base) {
  const out = { layer: '', events: '' };
  for (const { url, params } of linkEntries(header)) {
    if (hasRel(params, 'urn:ietf:params:whep:ext:core:layer')) out.layer = new URL(url, base).href;
    if (hasRel(params, 'urn:ietf:params:whep:ext:core:server-sent-events')) out.events = new URL(url, base).href;
  }
  return out;
}
