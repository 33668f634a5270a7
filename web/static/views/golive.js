// views/golive.js: the "Go live" form of the home page (admins): share the
// screen as the live stream live/<name>, with the microphone or not, and
// stop it; while live it offers the stream's link.

import { goLive, onLive, state, stopLive } from '../live.js';
import { watchLink } from '../streams.js';
import { announce, copyText, errorText, field, formError, h, replace, showError } from '../ui.js';

// NAME_RE is a live stream's name after live/ (one to three segments).
const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}(\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}){0,2}$/;

// goLiveCard returns { el, destroy } for the form.
export function goLiveCard() {
  const name = h('input', { id: 'golive-name', type: 'text', value: 'screen', required: true, autocapitalize: 'none', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'golive-name-hint' });
  const mic = h('input', { id: 'golive-mic', type: 'checkbox' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'golive-start', text: 'Share my screen' });
  const err = formError('golive-error');
  const form = h('form', { class: 'form', id: 'golive-form', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'golive-name', text: 'Stream' }),
      h('div', { class: 'input-prefix' }, h('span', { 'aria-hidden': 'true', text: 'live/' }), name),
      h('small', { class: 'hint', id: 'golive-name-hint', text: 'Everyone signed in can watch it; make it public on its page to share it further.' })),
    field('With my microphone (else the sound of what I share, if any)', mic),
    err, h('div', { class: 'actions' }, submit));
  const onAir = h('div', { id: 'golive-on', class: 'golive-on', hidden: true });
  const el = h('section', { class: 'card', 'aria-labelledby': 'golive-title', id: 'golive' },
    h('h2', { id: 'golive-title', text: 'Go live' }), form, onAir);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError(err, '');
    const n = name.value.trim().replace(/^\/+|\/+$/g, '').replace(/^live\//, '');
    if (!NAME_RE.test(n)) {
      showError(err, 'Enter a stream name such as screen (letters, digits, dot, dash, underscore).');
      name.focus();
      return;
    }
    try {
      if (await goLive(n, { microphone: mic.checked })) announce(`You are live on live/${n}.`, 'ok');
    } catch (e) {
      showError(err, errorText(e));
    }
  });

  function draw() {
    submit.disabled = state.starting;
    submit.textContent = state.starting ? 'Starting…' : 'Share my screen';
    form.hidden = Boolean(state.name);
    onAir.hidden = !state.name;
    if (!state.name) return;
    const stop = h('button', { class: 'btn btn-danger', type: 'button', id: 'golive-stop', text: 'Stop', onclick: () => stopLive() });
    const copy = h('button', { class: 'btn', type: 'button', text: 'Copy link', onclick: () => copyText(watchLink(state.name), 'Link') });
    replace(onAir,
      h('p', { class: 'golive-state' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
        h('span', {}, 'You are live on ', h('a', { href: `#/watch/${state.name}`, text: state.name }), '.')),
      h('div', { class: 'actions' }, copy, stop));
  }
  const unsub = onLive(draw);
  draw();
  return { el, destroy: unsub };
}
