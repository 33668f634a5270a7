// views/settings.js: my settings: display name, password, who may watch
// me (everyone signed in, ask me each time, people I choose, nobody),
// whose calls are answered at once, and the people I choose. Saved with
// PATCH /api/v1/users/<me> (and POST .../password).

import * as api from '../api.js';
import { changed, displayName, loadUsers, normaliseMe, store } from '../store.js';
import { announce, busy, errorText, field, formError, h, replace, showError } from '../ui.js';

// settingsView renders the settings; onSignedOut runs after a password
// change (which ends every session).
export function settingsView(onSignedOut) {
  const me = store.me;
  const path = `/api/v1/users/${api.seg(me.name)}`;

  // Display name.
  const dn = h('input', { id: 'settings-display-name', type: 'text', value: me.display_name || '', maxlength: '64', autocomplete: 'name' });
  const dnSave = h('button', { class: 'btn btn-primary', type: 'submit', id: 'settings-display-name-save', text: 'Save' });
  const dnErr = formError('settings-display-name-error');
  const dnForm = h('form', { class: 'form' }, field('Display name', dn, 'How others see you in the people list and in calls.'), dnErr, h('div', { class: 'actions' }, dnSave));
  dnForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    showError(dnErr, '');
    busy(dnSave, async () => {
      try {
        const u = await api.patch(path, { display_name: dn.value.trim() });
        Object.assign(store.me, normaliseMe({ ...store.me, ...u }));
        changed();
        announce('Your display name is saved.', 'ok');
      } catch (err) {
        showError(dnErr, errorText(err));
      }
    });
  });

  // Choices about watching and calls: saved as soon as they change.
  async function save(patch, undo) {
    try {
      const u = await api.patch(path, patch);
      Object.assign(store.me, normaliseMe({ ...store.me, ...u }));
      changed();
      announce('Saved.', 'ok');
      return true;
    } catch (err) {
      undo();
      announce(errorText(err), 'error');
      return false;
    }
  }

  // choice is a group of radio buttons for the choice key.
  function choice(key, legend, options) {
    const inputs = options.map(([value, label, hint]) => {
      const input = h('input', { type: 'radio', name: `settings-${key}`, id: `settings-${key}-${value}`, value, checked: me[key] === value });
      return { input, row: h('div', { class: 'field field-check' }, input, h('label', { for: input.id, text: label }), hint ? h('small', { class: 'hint', text: hint }) : null) };
    });
    for (const { input } of inputs) {
      input.addEventListener('change', async () => {
        if (!input.checked) return;
        const was = me[key];
        inputs.forEach((x) => { x.input.disabled = true; });
        await save({ [key]: input.value }, () => inputs.forEach((x) => { x.input.checked = x.input.value === was; }));
        inputs.forEach((x) => { x.input.disabled = false; });
        drawChosen();
      });
    }
    return h('fieldset', { class: 'choice', id: `settings-${key}` }, h('legend', { text: legend }), ...inputs.map((x) => x.row));
  }

  const watch = choice('watch', 'Who may watch my camera', [
    ['everyone', 'Everyone signed in', 'When someone opens your camera, this page shares it until they leave. You always see who is watching.'],
    ['ask', 'Ask me each time', 'This page asks you, naming the person, before your camera turns on for them.'],
    ['chosen', 'Only people I choose', 'The people ticked below; nobody else, admins included.'],
    ['nobody', 'Nobody', 'Your camera is never shared by being watched.'],
  ]);
  const answer = choice('answer', 'Answer calls at once from', [
    ['everyone', 'Everyone', 'The call starts without a click, camera on.'],
    ['chosen', 'Only people I choose', 'Calls from others ring and wait for you to accept.'],
    ['nobody', 'Nobody', 'Every call rings and waits for you to accept.'],
  ]);

  // The people I choose, for either choice.
  const chosenBox = h('fieldset', { class: 'choice chosen', id: 'settings-chosen' });
  function drawChosen() {
    const used = me.watch === 'chosen' || me.answer === 'chosen';
    chosenBox.hidden = !used;
    if (!used) return;
    const others = (store.users || []).filter((u) => u.name !== me.name && !u.disabled);
    const picked = new Set(me.chosen || []);
    const boxes = others.map((u) => {
      const box = h('input', { type: 'checkbox', id: `settings-chosen-${u.name}`, value: u.name, checked: picked.has(u.name) });
      box.addEventListener('change', async () => {
        const list = [...chosenBox.querySelectorAll('input[type=checkbox]')].filter((x) => x.checked).map((x) => x.value);
        box.disabled = true;
        await save({ chosen: list }, () => { box.checked = !box.checked; });
        box.disabled = false;
      });
      return h('div', { class: 'field field-check' }, box, h('label', { for: box.id, text: displayName(u.name) }));
    });
    replace(chosenBox, h('legend', { text: 'People I choose' }),
      ...(boxes.length ? boxes : [h('p', { class: 'muted', text: 'Nobody else has an account yet.' })]));
  }
  drawChosen();
  loadUsers().then(drawChosen).catch(() => {});

  // Password.
  const cur = h('input', { id: 'settings-current-password', type: 'password', autocomplete: 'current-password', required: true });
  const pw1 = h('input', { id: 'settings-new-password', type: 'password', autocomplete: 'new-password', required: true });
  const pw2 = h('input', { id: 'settings-new-password2', type: 'password', autocomplete: 'new-password', required: true });
  const pwSave = h('button', { class: 'btn btn-primary', type: 'submit', id: 'settings-password-save', text: 'Change password' });
  const pwErr = formError('settings-password-error');
  const pwForm = h('form', { class: 'form' },
    // For password managers: whose password this is.
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: me.name, hidden: true, readonly: true, tabindex: '-1' }),
    field('Current password', cur),
    field('New password', pw1),
    field('New password again', pw2, 'Changing it signs you out everywhere, here too.'),
    pwErr, h('div', { class: 'actions' }, pwSave));
  pwForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    showError(pwErr, '');
    if (!cur.value || !pw1.value) {
      showError(pwErr, 'Enter your current password and the new one.');
      return;
    }
    if (pw1.value !== pw2.value) {
      showError(pwErr, 'The new passwords do not match.');
      pw2.focus();
      return;
    }
    busy(pwSave, async () => {
      try {
        await api.post(`${path}/password`, { password: pw1.value, current_password: cur.value }, { allow401: true });
        announce('Your password is changed. Sign in with the new one.', 'ok');
        onSignedOut();
      } catch (err) {
        showError(pwErr, errorText(err));
      }
    });
  });

  const el = h('div', { class: 'page narrow' },
    h('h1', { text: 'Settings', tabindex: '-1' }),
    h('section', { class: 'card', 'aria-labelledby': 'set-profile' },
      h('h2', { id: 'set-profile', text: 'Profile' }),
      h('p', { class: 'muted', text: `Signed in as ${me.name}${me.role === 'admin' ? ' (admin)' : ''}.` }),
      dnForm),
    h('section', { class: 'card', 'aria-labelledby': 'set-privacy' },
      h('h2', { id: 'set-privacy', text: 'Watching and calls' }),
      watch, answer, chosenBox,
      h('p', { class: 'muted', text: 'Calls always ring while nobody may watch your camera.' })),
    h('section', { class: 'card', 'aria-labelledby': 'set-password' },
      h('h2', { id: 'set-password', text: 'Password' }),
      me.change_password ? h('p', { class: 'notice', id: 'settings-password-notice', text: 'You still use the password wishcast made when it was installed. Choose one of your own.' }) : null,
      pwForm));
  return { el };
}
