// views/admin-keys.js: publish keys (admins only): scoped tokens that let
// OBS or FFmpeg publish (or a player view) one live/* stream. A new key's
// secret is shown once, with a copy button and where to paste it.

import * as api from '../api.js';
import { announce, busy, confirm, copyText, errorText, field, formError, h, replace, showError, when } from '../ui.js';

// TTLS are the lifetimes offered for a new key.
const TTLS = [['0', 'Never expires'], ['86400', '1 day'], ['2592000', '30 days'], ['31536000', '1 year']];

// keysView renders the publish keys page.
export function keysView() {
  const list = h('ul', { class: 'rows', id: 'admin-keys', 'aria-label': 'Publish keys' });
  const secretBox = h('div', { id: 'key-secret', class: 'secret', hidden: true, role: 'region', 'aria-label': 'New key' });
  const el = h('div', { class: 'page' },
    h('h1', { text: 'Publish keys', tabindex: '-1' }),
    h('div', { class: 'admin-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'keys-title' },
        h('h2', { id: 'keys-title', text: 'Keys' }),
        h('p', { class: 'muted', text: 'A key lets a program such as OBS or FFmpeg publish one live stream over WHIP, without a password.' }),
        list),
      h('div', { class: 'stack' }, secretBox, createForm(list, secretBox, () => load()))));

  async function load() {
    try {
      const data = await api.get('/api/v1/tokens');
      const keys = ((data && data.tokens) || []).filter((t) => t.kind === 'key');
      replace(list, keys.length ? keys.map((k) => row(k, load)) : h('li', { class: 'empty', text: 'No publish keys yet.' }));
    } catch (err) {
      replace(list, h('li', { class: 'empty', text: errorText(err) }));
    }
  }
  load();
  return { el };
}

// row is one key with its scope and a Revoke button.
function row(k, reload) {
  const scope = k.scope ? `${k.scope.action} ${k.scope.stream}` : 'any stream';
  const revoke = h('button', { class: 'btn btn-small btn-danger-ghost', type: 'button', 'data-action': 'revoke', text: 'Revoke', 'aria-label': `Revoke the key ${k.label || k.id}` });
  revoke.addEventListener('click', async () => {
    if (!await confirm('Revoke this key?', `Programs using “${k.label || k.id}” stop being able to ${scope} at once.`, 'Revoke')) return;
    try {
      await api.del(`/api/v1/tokens/${api.seg(k.id)}`);
      announce('The key is revoked.', 'ok');
      reload();
    } catch (err) {
      announce(errorText(err), 'error');
    }
  });
  const expires = k.expires ? `expires ${when(k.expires)}` : 'never expires';
  return h('li', { class: 'row-item', 'data-test': `key-${k.id}` },
    h('span', { class: 'row-text' },
      h('span', { class: 'row-title' }, k.label || '(no label)', h('span', { class: 'pill', text: scope })),
      h('span', { class: 'row-meta', text: `${k.owner} · created ${when(k.created)} · ${expires}` })),
    h('span', { class: 'row-actions' }, revoke));
}

// createForm is the "New key" card; the secret goes to secretBox.
function createForm(list, secretBox, reload) {
  const stream = h('input', { id: 'key-stream', type: 'text', required: true, placeholder: 'obs', autocapitalize: 'none', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'key-stream-hint' });
  const label = h('input', { id: 'key-label', type: 'text', placeholder: 'OBS in the studio', maxlength: '100', autocomplete: 'off' });
  const action = h('select', { id: 'key-action' }, h('option', { value: 'publish', text: 'Publish' }), h('option', { value: 'view', text: 'View' }));
  const ttl = h('select', { id: 'key-ttl' }, TTLS.map(([v, t]) => h('option', { value: v, text: t })));
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'key-submit', text: 'Create key' });
  const err = formError('key-error');
  const form = h('form', { class: 'form', id: 'key-form', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'key-stream', text: 'Stream' }),
      h('div', { class: 'input-prefix' }, h('span', { 'aria-hidden': 'true', text: 'live/' }), stream),
      h('small', { class: 'hint', id: 'key-stream-hint', text: 'The stream is live/ and this name, for example live/obs.' })),
    field('Label', label, 'To recognise the key later.'),
    field('Allows', action),
    field('Lifetime', ttl),
    err, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    showError(err, '');
    const name = `live/${stream.value.trim().replace(/^\/+|\/+$/g, '').replace(/^live\//, '')}`;
    if (!/^live\/[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/.test(name)) {
      showError(err, 'Enter a stream name such as obs (letters, digits, dot, dash, underscore).');
      stream.focus();
      return;
    }
    busy(submit, async () => {
      try {
        const k = await api.post('/api/v1/tokens', {
          action: action.value, stream: name, label: label.value.trim(), ttl_seconds: Number(ttl.value), owner: '',
        });
        showSecret(secretBox, k, name, action.value);
        form.reset();
        reload();
      } catch (e) {
        showError(err, errorText(e));
      }
    });
  });
  return h('section', { class: 'card', 'aria-labelledby': 'key-form-title' },
    h('h2', { id: 'key-form-title', text: 'New key' }), form);
}

// showSecret shows a new key's secret once, with how to use it.
function showSecret(box, k, stream, action) {
  const secret = h('input', { type: 'text', id: 'key-secret-value', readonly: true, value: k.token, 'aria-label': 'The new key', spellcheck: 'false' });
  const copy = h('button', { class: 'btn btn-primary', type: 'button', id: 'key-copy', text: 'Copy' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(k.token);
      announce('The key is copied.', 'ok');
    } catch {
      secret.select();
      announce('Select the key and copy it with the keyboard.', 'info');
    }
  });
  const endpoint = `${location.origin}/${action === 'view' ? 'whep' : 'whip'}/${stream}`;
  const ffmpeg = `ffmpeg -re -i input.mp4 -c:v libx264 -bf 0 -g 50 -c:a libopus -ac 2 -ar 48000 \\\n-f whip -authorization ${k.token} \\\n${endpoint}`;
  const copyCmd = h('button', { class: 'btn btn-small', type: 'button', id: 'key-copy-ffmpeg', text: 'Copy command', onclick: () => copyText(ffmpeg, 'Command') });
  const done = h('button', { class: 'btn btn-ghost', type: 'button', text: 'I have saved it' });
  done.addEventListener('click', () => { box.hidden = true; box.replaceChildren(); });
  replace(box,
    h('h2', { text: 'Copy the new key now' }),
    h('p', { text: 'It is shown only this once. Anyone who has it can use it until it is revoked.' }),
    h('div', { class: 'copy-row' }, secret, copy),
    h('dl', { class: 'usage' },
      h('dt', { text: action === 'view' ? 'WHEP URL' : 'WHIP server (OBS: Settings → Stream → WHIP)' }),
      h('dd', {}, h('code', { text: endpoint })),
      h('dt', { text: 'Bearer token' }),
      h('dd', { text: 'the key above' }),
      action === 'view' ? null : h('dt', { text: 'FFmpeg 8' }),
      action === 'view' ? null : h('dd', {}, h('pre', { class: 'cmd', id: 'key-ffmpeg', text: ffmpeg }), copyCmd)),
    h('div', { class: 'actions' }, done));
  box.hidden = false;
  secret.focus();
  secret.select();
}
