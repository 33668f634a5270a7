// views/settings.js: my settings: display name, password, whether others
// may watch me, and whether calls are answered at once. Saved with PATCH
// /api/v1/users/<me> (and POST .../password).

import * as api from '../api.js';
import { changed, normaliseMe, store } from '../store.js';
import { announce, busy, errorText, field, formError, h, showError } from '../ui.js';

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

  // Privacy and calls: toggles saved at once.
  const toggle = (key, id, label, hint) => {
    const box = h('input', { type: 'checkbox', id, checked: Boolean(me[key]), role: 'switch' });
    box.addEventListener('change', async () => {
      const want = box.checked;
      box.disabled = true;
      try {
        const u = await api.patch(path, { [key]: want });
        store.me[key] = u && u[key] !== undefined ? u[key] : want;
        box.checked = Boolean(store.me[key]);
        changed();
        announce('Saved.', 'ok');
      } catch (err) {
        box.checked = !want;
        announce(errorText(err), 'error');
      } finally {
        box.disabled = false;
      }
    });
    return field(label, box, hint);
  };

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
      toggle('allow_watch', 'settings-allow-watch', 'Let others watch my camera',
        'When someone opens your camera, this page shares it until they leave. You always see who is watching.'),
      toggle('auto_answer', 'settings-auto-answer', 'Answer calls at once',
        'Off: calls ring and wait for you to accept. Calls always ring while others may not watch your camera.')),
    h('section', { class: 'card', 'aria-labelledby': 'set-password' },
      h('h2', { id: 'set-password', text: 'Password' }),
      pwForm));
  return { el };
}
