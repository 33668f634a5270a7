// views/signin.js: the sign-in screen. A wrong password, a disabled
// account or too many attempts show the server's sentence under the form.

import * as api from '../api.js';
import { errorText, formError, h, showError } from '../ui.js';

// signInView renders the form; onSignedIn runs after a successful sign-in.
// note, if given, says what signing in is for.
export function signInView(onSignedIn, note = '') {
  const name = h('input', { id: 'login-name', name: 'username', type: 'text', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { id: 'login-submit', class: 'btn btn-primary btn-block', type: 'submit', text: 'Sign in' });
  const error = formError('login-error');
  const form = h('form', { class: 'signin-form', 'aria-labelledby': 'signin-title', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'login-name', text: 'User name' }), name),
    h('div', { class: 'field' }, h('label', { for: 'login-password', text: 'Password' }), password),
    error,
    submit);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!name.value.trim() || !password.value) {
      showError(error, 'Enter your user name and password.');
      (name.value.trim() ? password : name).focus();
      return;
    }
    showError(error, '');
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      await api.post('/api/v1/login', { name: name.value.trim(), password: password.value }, { allow401: true });
      password.value = '';
      await onSignedIn();
    } catch (err) {
      let msg = errorText(err).replace(/^Sign in: (.)/i, (_, c) => c.toUpperCase());
      if (err.status === 429 && err.retryAfter) msg = `${msg} You can try again in ${Math.ceil(err.retryAfter)} s.`;
      showError(error, msg);
      password.select();
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });

  const el = h('div', { class: 'signin' },
    h('div', { class: 'signin-card card' },
      h('div', { class: 'signin-brand' }, h('img', { src: '/app/icon.svg', alt: '', width: '40', height: '40' }), h('span', { text: 'wishcast' })),
      h('h1', { id: 'signin-title', text: 'Sign in', tabindex: '-1' }),
      h('p', { class: 'muted', text: 'Watch cameras, see who is around, and call each other.' }),
      note ? h('p', { class: 'signin-note', id: 'signin-note', role: 'status', text: note }) : null,
      form));
  return { el, focus: () => name.focus() };
}
