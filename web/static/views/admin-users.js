// views/admin-users.js: managing accounts (admins only): add a user,
// disable or enable, reset a password, delete.

import * as api from '../api.js';
import { isOnline, loadUsers, store, subscribe } from '../store.js';
import { ago, announce, avatar, busy, confirm, dialog, errorText, field, formError, h, replace, showError } from '../ui.js';

// usersView renders the users page.
export function usersView() {
  const list = h('ul', { class: 'rows', id: 'admin-users', 'aria-label': 'Users' });
  const el = h('div', { class: 'page' },
    h('h1', { text: 'Users', tabindex: '-1' }),
    h('div', { class: 'admin-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'users-title' },
        h('h2', { id: 'users-title', text: 'Accounts' }), list),
      addForm()));

  const draw = () => replace(list, store.users.map(row));
  const unsub = subscribe(draw);
  draw();
  loadUsers().catch((err) => announce(errorText(err), 'error'));
  return { el, destroy: unsub };
}

// row is one user with its actions.
function row(u) {
  const self = store.me && u.name === store.me.name;
  const who = u.display_name || u.name;
  const state = u.disabled ? 'Disabled' : (isOnline(u) ? 'Online' : `Seen ${ago(u.last_seen)}`);
  const toggle = h('button', { class: 'btn btn-small', type: 'button', 'data-action': u.disabled ? 'enable' : 'disable', disabled: self, text: u.disabled ? 'Enable' : 'Disable', 'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${who}` });
  toggle.addEventListener('click', () => busy(toggle, async () => {
    try {
      await api.patch(`/api/v1/users/${api.seg(u.name)}`, { disabled: !u.disabled });
      announce(`${who} is ${u.disabled ? 'enabled' : 'disabled'}.`, 'ok');
      await loadUsers();
    } catch (err) {
      announce(errorText(err), 'error');
    }
  }));
  const reset = h('button', { class: 'btn btn-small', type: 'button', 'data-action': 'reset-password', text: 'Reset password', 'aria-label': `Reset the password of ${who}` });
  reset.addEventListener('click', () => resetPassword(u));
  const remove = h('button', { class: 'btn btn-small btn-danger-ghost', type: 'button', 'data-action': 'delete', disabled: self, text: 'Delete', 'aria-label': `Delete ${who}` });
  remove.addEventListener('click', async () => {
    if (!await confirm(`Delete ${who}?`, `The account ${u.name}, its sessions and its publish keys go away for good.`, 'Delete')) return;
    try {
      await api.del(`/api/v1/users/${api.seg(u.name)}`);
      announce(`${who} is deleted.`, 'ok');
      await loadUsers();
    } catch (err) {
      announce(errorText(err), 'error');
    }
  });
  return h('li', { class: `row-item${u.disabled ? ' is-disabled' : ''}`, 'data-test': `user-${u.name}` },
    avatar(u.name, who),
    h('span', { class: 'row-text' },
      h('span', { class: 'row-title' }, who, u.role === 'admin' ? h('span', { class: 'pill pill-admin', text: 'admin' }) : null, self ? h('span', { class: 'pill', text: 'you' }) : null),
      h('span', { class: 'row-meta', text: `${u.name} · ${state}` })),
    h('span', { class: 'row-actions' }, toggle, reset, remove));
}

// resetPassword asks for a new password for u and sets it.
async function resetPassword(u) {
  const pw = h('input', { type: 'password', id: 'reset-password', autocomplete: 'new-password', required: true, minlength: '8' });
  const v = await dialog({
    title: `New password for ${u.display_name || u.name}`,
    body: h('div', {},
      h('input', { type: 'text', name: 'username', autocomplete: 'username', value: u.name, hidden: true, readonly: true, tabindex: '-1' }),
      field('New password', pw, 'Their sessions end; tell them the new password.')),
    buttons: [
      { label: 'Cancel', value: 'cancel', class: 'btn-ghost' },
      { label: 'Set password', value: 'set', class: 'btn-primary', submit: true, action: 'confirm' },
    ],
  });
  if (v !== 'set') return;
  try {
    await api.post(`/api/v1/users/${api.seg(u.name)}/password`, { password: pw.value });
    announce(`The password of ${u.name} is changed.`, 'ok');
  } catch (err) {
    announce(errorText(err), 'error');
  }
}

// addForm is the "Add a user" card.
function addForm() {
  const name = h('input', { id: 'new-user-name', type: 'text', required: true, autocapitalize: 'none', spellcheck: 'false', pattern: '[A-Za-z0-9._\\-]+', maxlength: '64', autocomplete: 'off' });
  const display = h('input', { id: 'new-user-display', type: 'text', maxlength: '64', autocomplete: 'off' });
  const password = h('input', { id: 'new-user-password', type: 'password', required: true, autocomplete: 'new-password' });
  const role = h('select', { id: 'new-user-role' }, h('option', { value: 'user', text: 'User' }), h('option', { value: 'admin', text: 'Admin' }));
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'new-user-submit', text: 'Add user' });
  const err = formError('new-user-error');
  const form = h('form', { class: 'form', id: 'new-user-form', novalidate: true },
    field('User name', name, 'Letters, digits, dot, dash and underscore.'),
    field('Display name', display),
    field('Password', password),
    field('Role', role),
    err, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    showError(err, '');
    if (!name.value.trim() || !password.value) {
      showError(err, 'Enter a user name and a password.');
      return;
    }
    busy(submit, async () => {
      try {
        const u = await api.post('/api/v1/users', {
          name: name.value.trim(), display_name: display.value.trim(), password: password.value, role: role.value,
        });
        announce(`${(u && u.name) || name.value} can sign in now.`, 'ok');
        form.reset();
        await loadUsers();
        name.focus();
      } catch (e) {
        showError(err, errorText(e));
      }
    });
  });
  return h('section', { class: 'card', 'aria-labelledby': 'add-user-title' },
    h('h2', { id: 'add-user-title', text: 'Add a user' }), form);
}
