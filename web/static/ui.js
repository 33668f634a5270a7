// ui.js: the small DOM toolkit every view shares: element building,
// status messages (an aria-live region), dialogs, icons and formatting.
// No framework: views build elements with h() and replace them wholesale.

// h builds an element. attrs: class, text, on{Event} handlers, boolean
// properties (disabled, hidden, checked, muted, ...), dataset via data-*,
// anything else as an attribute. Children: nodes, strings, arrays, or
// null/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k in BOOL_PROPS) el[BOOL_PROPS[k]] = Boolean(v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

const BOOL_PROPS = {
  disabled: 'disabled', hidden: 'hidden', checked: 'checked', muted: 'muted',
  autoplay: 'autoplay', playsinline: 'playsInline', required: 'required', selected: 'selected',
};

// append adds children (nested arrays, strings, nodes) to el.
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// replace swaps el's children for the given ones.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// $ is querySelector within root (document by default).
export function $(sel, root) {
  return (root || document).querySelector(sel);
}

let toastSeq = 0;

// announce shows a short status message and reads it to screen readers.
// kind: 'info', 'ok' or 'error'. Errors stay longer.
export function announce(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box || !message) return;
  const id = `toast-${++toastSeq}`;
  const close = h('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss', text: '×' });
  const t = h('div', { class: `toast toast-${kind}`, id, role: kind === 'error' ? 'alert' : null },
    h('span', { text: message }), close);
  const remove = () => t.remove();
  close.addEventListener('click', remove);
  box.append(t);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(remove, kind === 'error' ? 8000 : 4000);
}

// speak reads a message to screen readers without showing it, for what
// the screen already shows (an incoming call's ring screen).
export function speak(message) {
  const el = document.getElementById('spoken');
  if (!el || !message) return;
  el.textContent = '';
  setTimeout(() => { el.textContent = message; }, 50);
}

// errorText turns anything thrown into a sentence for a person.
export function errorText(err) {
  if (!err) return 'Something went wrong.';
  const msg = err.detail || err.message || String(err);
  return sentence(msg);
}

// sentence capitalises a message and ends it with a full stop.
export function sentence(s) {
  s = String(s || '').trim();
  if (!s) return '';
  s = s[0].toUpperCase() + s.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}

// field wraps a control in a label with an optional hint below.
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintEl = hint ? h('small', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  if (control.type === 'checkbox') {
    return h('div', { class: 'field field-check' }, control, h('label', { for: id, text: label }), hintEl);
  }
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), control, hintEl);
}

// formError is the inline error line of a form (role=alert when shown).
export function formError(id) {
  return h('p', { class: 'form-error', id, role: 'alert', hidden: true });
}

// showError fills a formError element, or hides it for an empty message.
export function showError(el, message) {
  el.textContent = message || '';
  el.hidden = !message;
}

// busy disables a button while an async action runs and returns its result.
export async function busy(button, fn) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = was;
    button.removeAttribute('aria-busy');
  }
}

// dialog opens a modal <dialog> with content and buttons and resolves with
// the value of the button chosen (or null when dismissed). A button's
// `form` flag makes it submit the dialog's form, validated by the browser.
export function dialog({ title, body, buttons }) {
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog', class: 'dialog-form' });
    const heading = h('h2', { text: title, id: `dlg-${++toastSeq}` });
    const row = h('div', { class: 'actions' });
    for (const b of buttons) {
      row.append(h('button', {
        class: `btn ${b.class || ''}`, type: b.submit ? 'submit' : 'button', value: b.value,
        'data-action': b.action || null, text: b.label,
        onclick: b.submit ? null : () => { result = b.value; d.close(); },
      }));
    }
    append(form, [heading, body || null, row]);
    const d = h('dialog', { class: 'dialog', 'aria-labelledby': heading.id }, form);
    let result = null;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      result = (ev.submitter && ev.submitter.value) || 'ok';
      d.close();
    });
    d.addEventListener('close', () => {
      d.remove();
      resolve(result);
    });
    document.body.append(d);
    d.showModal();
  });
}

// confirm asks a yes/no question; resolves true for the confirming button.
export async function confirm(title, message, action = 'Confirm', danger = true) {
  const v = await dialog({
    title,
    body: h('p', { text: message }),
    buttons: [
      { label: 'Cancel', value: 'cancel', class: 'btn-ghost' },
      { label: action, value: 'yes', class: danger ? 'btn-danger' : 'btn-primary', submit: true, action: 'confirm' },
    ],
  });
  return v === 'yes';
}

// copyText puts text on the clipboard and says so; where the browser
// refuses, it shows the text selected in a dialog, to copy by hand.
// what names it ("Link").
export async function copyText(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    announce(`${what} copied.`, 'ok');
  } catch {
    const input = h('input', { type: 'text', readonly: true, value: text, 'aria-label': what, spellcheck: 'false' });
    const done = dialog({
      title: `Copy the ${what.toLowerCase()}`,
      body: [h('p', { text: 'Select it and copy it with the keyboard.' }), input],
      buttons: [{ label: 'Done', value: 'ok', class: 'btn-primary', submit: true }],
    });
    input.focus();
    input.select();
    await done;
  }
}

// initials are the first letters of a name's first two words, for avatars.
export function initials(name) {
  const parts = String(name || '?').trim().split(/[\s._-]+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[1][0] : (parts[0] || '?')[0];
  return s.toUpperCase();
}

// avatar is a round badge with initials, coloured by a hash of the name.
export function avatar(name, label) {
  let hash = 0;
  for (const c of String(name)) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return h('span', { class: `avatar hue-${hash % 8}`, 'aria-hidden': 'true', text: initials(label || name) });
}

// ago says how long ago a time was, in words.
export function ago(t) {
  const d = t ? new Date(t) : null;
  if (!d || Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return 'never';
  const s = Math.max(0, (Date.now() - d.getTime()) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)} days ago`;
  return d.toLocaleDateString();
}

// duration formats milliseconds as m:ss or h:mm:ss.
export function duration(ms) {
  const t = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(t / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

// when formats a time as a short local date and time.
export function when(t) {
  const d = t ? new Date(t) : null;
  if (!d || Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return '—';
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

// ICONS are stroke paths on a 24×24 grid, drawn with currentColor.
const ICONS = {
  mic: ['M9 5a3 3 0 0 1 6 0v6a3 3 0 0 1-6 0z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3'],
  cam: ['M3 8a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z', 'M15 10l6-3v10l-6-3'],
  hangup: ['M3 14.5c5-4.7 13-4.7 18 0l-2.2 2.7-3.8-1.2v-2.6a10 10 0 0 0-6 0V16l-3.8 1.2z'],
  phone: ['M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2'],
  eye: ['M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z', 'M12 9a3 3 0 1 1 0 6 3 3 0 0 1 0-6'],
  full: ['M4 9V4h5', 'M20 9V4h-5', 'M4 15v5h5', 'M20 15v5h-5'],
  sound: ['M4 9h4l5-4v14l-5-4H4z', 'M16.5 8.5a5 5 0 0 1 0 7'],
  stats: ['M5 20V10', 'M12 20V4', 'M19 20v-7'],
  slash: ['M3 3l18 18'],
  screen: ['M3 5a1 1 0 0 1 1-1h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1z', 'M8 20h8', 'M12 16v4'],
};

// icon returns an inline SVG icon; names joined by '+' are overlaid
// ('mic+slash').
export function icon(names) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  for (const [k, v] of Object.entries({
    viewBox: '0 0 24 24', width: '20', height: '20', fill: 'none', stroke: 'currentColor',
    'stroke-width': '2', 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true',
    focusable: 'false', class: 'icon',
  })) svg.setAttribute(k, v);
  for (const name of names.split('+')) {
    for (const d of ICONS[name] || []) {
      const p = document.createElementNS(ns, 'path');
      p.setAttribute('d', d);
      svg.append(p);
    }
  }
  return svg;
}
