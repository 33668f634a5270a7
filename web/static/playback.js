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

// playbackLine is a camera's codecs and playability as one line.
export function playbackLine(d) {
  const p = playback(d);
  return h('span', { class: `playback playback-${p.tone}`, 'data-test': 'playback' },
    p.codecs ? h('span', { class: 'playback-codecs', text: p.codecs }) : null,
    h('span', { class: 'playback-text', text: p.text }));
}
