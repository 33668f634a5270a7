// views/admin-devices.js: managing cameras (admins only): add or edit an
// RTSP camera, remove it, test the connection (the server dials it once),
// and see each camera's state.

import * as api from '../api.js';
import { hereVerdict, playbackLine } from '../playback.js';
import { decodableCodecs } from '../whip.js';
import { announce, busy, confirm, errorText, field, formError, h, replace, sentence, showError } from '../ui.js';

// REFRESH_MS is how often the camera states are re-read.
const REFRESH_MS = 5000;

// devicesView renders the cameras page.
export function devicesView() {
  const list = h('ul', { class: 'rows', id: 'admin-devices', 'aria-label': 'Cameras' });
  const form = deviceForm(() => load());
  const el = h('div', { class: 'page' },
    h('h1', { text: 'Cameras', tabindex: '-1' }),
    h('div', { class: 'admin-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'devices-title' },
        h('h2', { id: 'devices-title', text: 'RTSP cameras' }), list),
      form.el));

  const results = new Map(); // name → last test result element
  async function load() {
    try {
      const data = await api.get('/api/v1/devices');
      const devices = (data && data.devices) || [];
      replace(list, devices.length ? devices.map((d) => row(d, form, results, load)) : h('li', { class: 'empty', text: 'No cameras yet. Add one with its RTSP URL.' }));
    } catch (err) {
      replace(list, h('li', { class: 'empty', text: errorText(err) }));
    }
  }
  load();
  const timer = setInterval(() => {
    // Do not redraw under the keyboard user's focus.
    if (!list.contains(document.activeElement)) load();
  }, REFRESH_MS);
  return { el, destroy: () => clearInterval(timer) };
}

const STATE_TEXT = { live: 'Live', connecting: 'Connecting', idle: 'Idle', failed: 'Failed' };

// row is one camera with its state and actions.
function row(d, form, results, reload) {
  const state = d.disabled ? 'disabled' : (d.state || 'idle');
  const facts = [
    d.url, d.transport ? d.transport.toUpperCase() : '',
    d.viewers ? `${d.viewers} watching` : '', d.always_on ? 'always on' : '',
    d.restricted ? `only ${(d.viewers_allowed || []).join(', ') || 'admins'}` : '',
  ].filter(Boolean).join(' · ');
  const result = results.get(d.name) || h('p', { class: 'test-result', role: 'status', hidden: true });
  results.set(d.name, result);
  const test = h('button', { class: 'btn btn-small', type: 'button', 'data-action': 'test', text: 'Test connection', 'aria-label': `Test the connection to ${d.name}` });
  test.addEventListener('click', () => busy(test, async () => {
    result.hidden = false;
    result.className = 'test-result';
    result.textContent = 'Dialling the camera…';
    try {
      const r = await api.post(`/api/v1/devices/${api.seg(d.name)}/test`);
      if (r && r.ok) {
        const what = [r.video && `${r.video} video`, r.audio && `${r.audio} audio`].filter(Boolean).join(' and ');
        const warn = (r.warnings || []).map(sentence).join(' ');
        // The server now knows the camera's codecs, as after a viewer's
        // dial: say whether this browser plays them, and show them.
        const here = r.codecs ? hereVerdict(r.codecs, r.transcoded, await decodableCodecs()) : null;
        result.className = `test-result ok${here && here.tone === 'warn' ? ' warn' : ''}`;
        result.textContent = `Connected${what ? `: ${what}` : ''}.${here ? ` ${here.text}` : ''}${warn ? ` ${warn}` : ''}`;
        if (r.codecs) reload();
      } else {
        result.className = 'test-result bad';
        result.textContent = sentence(`Failed: ${(r && r.error) || 'no answer'}`);
      }
    } catch (err) {
      result.className = 'test-result bad';
      result.textContent = errorText(err);
    }
  }));
  const edit = h('button', { class: 'btn btn-small', type: 'button', 'data-action': 'edit', text: 'Edit', 'aria-label': `Edit ${d.name}` });
  edit.addEventListener('click', () => form.edit(d));
  const remove = h('button', { class: 'btn btn-small btn-danger-ghost', type: 'button', 'data-action': 'delete', text: 'Remove', 'aria-label': `Remove ${d.name}` });
  remove.addEventListener('click', async () => {
    if (!await confirm(`Remove ${d.name}?`, 'Viewers of this camera are disconnected and it leaves the list.', 'Remove')) return;
    try {
      await api.del(`/api/v1/devices/${api.seg(d.name)}`);
      announce(`${d.name} is removed.`, 'ok');
      results.delete(d.name);
      reload();
    } catch (err) {
      announce(errorText(err), 'error');
    }
  });
  const problems = [d.last_error && sentence(`Last error: ${d.last_error}`), ...(d.warnings || []).map(sentence)].filter(Boolean);
  return h('li', { class: 'row-item', 'data-test': `device-${d.name}` },
    h('span', { class: 'row-text' },
      h('span', { class: 'row-title' }, d.name, h('span', { class: `pill pill-${state}`, text: d.disabled ? 'Disabled' : (STATE_TEXT[state] || state) })),
      h('span', { class: 'row-meta', text: facts }),
      playbackLine(d),
      problems.length ? h('span', { class: 'row-warn', text: problems.join(' ') }) : null,
      result),
    h('span', { class: 'row-actions' }, test, edit, remove));
}

// deviceForm is the add/edit card; edit(d) fills it with a camera.
function deviceForm(onSaved) {
  const name = h('input', { id: 'device-name', type: 'text', required: true, autocapitalize: 'none', spellcheck: 'false', maxlength: '64', autocomplete: 'off' });
  const url = h('input', { id: 'device-url', type: 'text', required: true, placeholder: 'rtsp://user:password@192.0.2.10:554/stream', autocapitalize: 'none', spellcheck: 'false', inputmode: 'url', autocomplete: 'off' });
  const transport = h('select', { id: 'device-transport' },
    h('option', { value: '', text: 'Automatic' }), h('option', { value: 'tcp', text: 'TCP' }), h('option', { value: 'udp', text: 'UDP' }));
  const alwaysOn = h('input', { id: 'device-always-on', type: 'checkbox' });
  const disabled = h('input', { id: 'device-disabled', type: 'checkbox' });
  const restricted = h('input', { id: 'device-restricted', type: 'checkbox' });
  const viewers = h('input', { id: 'device-viewers', type: 'text', placeholder: 'alice, bob', autocapitalize: 'none', autocomplete: 'off' });
  const viewersField = field('Who may watch', viewers, 'User names, separated by commas. Admins always may.');
  const title = h('h2', { id: 'device-form-title', text: 'Add a camera' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'device-submit', text: 'Add camera' });
  const cancel = h('button', { class: 'btn btn-ghost', type: 'button', text: 'Cancel', hidden: true });
  const err = formError('device-error');
  const note = h('p', { class: 'hint', hidden: true, text: 'The URL is shown without its user name and password: type them again if the camera needs them.' });
  const urlHint = 'The camera’s RTSP address, with user name and password if it needs them. Only admins see it, without the password.';
  const form = h('form', { class: 'form', id: 'device-form', novalidate: true },
    field('Name', name, 'Letters, digits, dot, dash and underscore; viewers see it.'),
    field('RTSP URL', url, urlHint),
    note,
    field('Transport', transport),
    field('Always on (keep it connected without viewers)', alwaysOn),
    field('Disabled', disabled),
    field('Only some users may watch', restricted),
    viewersField,
    err, h('div', { class: 'actions' }, cancel, submit));
  const syncViewers = () => { viewersField.hidden = !restricted.checked; };
  restricted.addEventListener('change', syncViewers);
  syncViewers();

  let editing = '';
  const reset = () => {
    editing = '';
    form.reset();
    name.disabled = false;
    title.textContent = 'Add a camera';
    submit.textContent = 'Add camera';
    cancel.hidden = true;
    note.hidden = true;
    showError(err, '');
    syncViewers();
  };
  cancel.addEventListener('click', reset);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    showError(err, '');
    const n = name.value.trim();
    if (!n || !url.value.trim()) {
      showError(err, 'Enter a name and an RTSP URL.');
      return;
    }
    if (!/^rtsps?:\/\//i.test(url.value.trim())) {
      showError(err, 'The URL must start with rtsp:// (or rtsps://).');
      url.focus();
      return;
    }
    busy(submit, async () => {
      try {
        await api.put(`/api/v1/devices/${api.seg(n)}`, {
          url: url.value.trim(), transport: transport.value, always_on: alwaysOn.checked, disabled: disabled.checked,
          restricted: restricted.checked,
          viewers_allowed: restricted.checked ? viewers.value.split(/[\s,]+/).filter(Boolean) : [],
        });
        announce(editing ? `${n} is saved.` : `${n} is added.`, 'ok');
        reset();
        onSaved();
      } catch (e) {
        showError(err, errorText(e));
      }
    });
  });

  const el = h('section', { class: 'card', 'aria-labelledby': 'device-form-title' }, title, form);
  return {
    el,
    edit(d) {
      editing = d.name;
      name.value = d.name;
      name.disabled = true;
      url.value = d.url || '';
      transport.value = d.transport || '';
      alwaysOn.checked = Boolean(d.always_on);
      disabled.checked = Boolean(d.disabled);
      restricted.checked = Boolean(d.restricted);
      viewers.value = (d.viewers_allowed || []).join(', ');
      title.textContent = `Edit ${d.name}`;
      submit.textContent = 'Save camera';
      cancel.hidden = false;
      note.hidden = false;
      syncViewers();
      url.focus();
      el.scrollIntoView({ block: 'nearest' });
    },
  };
}
