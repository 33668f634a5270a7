// playback.js: what the cameras pages say of a camera's codecs (from its
// last description in GET /api/v1/devices) and which browsers play them.

import { h } from './ui.js';

// NAMES are codec names as people know them.
const NAMES = {
  H264: 'H.264', H265: 'H.265', VP8: 'VP8', VP9: 'VP9', AV1: 'AV1', AAC: 'AAC',
  OPUS: 'Opus', PCMU: 'G.711 µ-law', PCMA: 'G.711 A-law', G722: 'G.722',
};

// codecName turns "video H265" into "H.265".
function codecName(entry) {
  const name = String(entry).replace(/^(video|audio) /, '');
  return NAMES[name.toUpperCase()] || name;
}

// codecsText turns ["audio AAC", "video H265"] into "H.265 video, AAC
// audio" (video first).
function codecsText(codecs) {
  const video = (c) => (String(c).startsWith('video ') ? 0 : 1);
  return [...codecs].sort((a, b) => video(a) - video(b)).map((c) => `${codecName(c)} ${String(c).split(' ')[0]}`).join(', ');
}

// or joins names with commas and a final "or".
function or(names) {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

// playback returns the camera's codecs and whether every browser plays
// them: { codecs, text, tone } where tone is 'ok', 'info' or 'warn'.
export function playback(d) {
  const codecs = d.codecs || [];
  if (!codecs.length) {
    return { codecs: '', tone: 'info', text: 'Codecs not known yet' };
  }
  const text = codecsText(codecs);
  if (d.every_browser) return { codecs: text, tone: 'ok', text: 'Plays in every browser' };
  const transcoded = d.transcoded || [];
  const lacking = d.only_some_browsers || [];
  if (!lacking.length) {
    return { codecs: text, tone: 'ok', text: `Transcoded for browsers that cannot play ${or(transcoded.map(codecName))}` };
  }
  return {
    codecs: text, tone: 'warn',
    text: `Browsers that cannot play ${or(lacking.map(codecName))} cannot watch it: the server has no FFmpeg to transcode it.`,
  };
}

// and joins names with commas and a final "and".
function and(names) {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

// AUDIO_EVERYWHERE are the audio codecs every browser decodes over WebRTC.
const AUDIO_EVERYWHERE = ['OPUS', 'PCMU', 'PCMA', 'G722'];

// hereVerdict says whether this browser, which decodes the video codecs
// decodes (names, as decodableCodecs lists them), plays a camera whose
// codecs are codecs ("video H264", as the device list names them), of
// which the server transcodes those in transcoded for browsers that lack
// them: { text, tone }.
export function hereVerdict(codecs, transcoded, decodes) {
  const lacking = [];
  const viaTranscode = [];
  for (const c of codecs || []) {
    const [kind, name = ''] = String(c).split(' ');
    const plays = kind === 'video'
      ? (decodes || []).some((n) => n.toUpperCase() === name.toUpperCase())
      : AUDIO_EVERYWHERE.includes(name.toUpperCase());
    if (plays) continue;
    ((transcoded || []).includes(c) ? viaTranscode : lacking).push(`${codecName(c)} ${kind}`);
  }
  if (lacking.length) return { tone: 'warn', text: `This browser cannot play its ${and(lacking)}.` };
  if (viaTranscode.length) return { tone: 'ok', text: `This browser gets its ${and(viaTranscode)} transcoded.` };
  return { tone: 'ok', text: 'This browser plays it.' };
}

// playbackLine is a camera's codecs and playability as one line.
export function playbackLine(d) {
  const p = playback(d);
  return h('span', { class: `playback playback-${p.tone}`, 'data-test': 'playback' },
    p.codecs ? h('span', { class: 'playback-codecs', text: p.codecs }) : null,
    h('span', { class: 'playback-text', text: p.text }));
}
