// api.js: the JSON API client. Requests go to this origin with the
// session cookie; failures become an APIError whose message is the
// server's problem+json detail (a sentence meant for the user).

// APIError is a failed request: HTTP status, the server's detail and code,
// and Retry-After in seconds when the server sent one.
export class APIError extends Error {
  constructor(status, detail, code, retryAfter) {
    super(detail);
    this.name = 'APIError';
    this.status = status;
    this.detail = detail;
    this.code = code || '';
    this.retryAfter = retryAfter || 0;
  }
}

let onUnauthorized = null;

// setUnauthorizedHandler sets what happens when a request (other than
// sign-in) answers 401: the session has ended, so the app signs out.
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// FALLBACK are sentences for statuses that came without a readable detail.
const FALLBACK = {
  400: 'The request was not accepted',
  401: 'Sign in first',
  403: 'You are not allowed to do that',
  404: 'It does not exist (any more)',
  409: 'That conflicts with the current state; try again',
  413: 'That is too large',
  422: 'The server cannot handle that',
  429: 'Too many requests; wait a moment and try again',
  500: 'The server failed; try again',
  502: 'The server is unreachable; try again',
  503: 'The server is busy; try again in a moment',
};

// retryAfterSeconds reads a Retry-After header (seconds or an HTTP date).
export function retryAfterSeconds(res) {
  const v = res.headers.get('Retry-After');
  if (!v) return 0;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(0, n);
  const t = Date.parse(v);
  return Number.isNaN(t) ? 0 : Math.max(0, Math.ceil((t - Date.now()) / 1000));
}

// errorFrom builds an APIError from a failed response, reading its
// problem+json (or plain text) body.
export async function errorFrom(res) {
  let detail = '';
  let code = '';
  const text = await res.text().catch(() => '');
  const ctype = res.headers.get('Content-Type') || '';
  if (/json/.test(ctype)) {
    try {
      const p = JSON.parse(text);
      detail = p.detail || p.error || p.title || '';
      code = p.code || '';
    } catch {
      // Not JSON after all: fall through to the fallback sentence.
    }
  } else if (text && text.length < 300 && !/^\s*</.test(text)) {
    detail = text.trim();
  }
  return new APIError(res.status, detail || FALLBACK[res.status] || `The server answered ${res.status}`, code, retryAfterSeconds(res));
}

// networkError is what a request that never got an answer throws.
export function networkError(err) {
  if (err && err.name === 'AbortError') return err;
  return new APIError(0, 'Cannot reach the server; check the connection and try again', 'network');
}

// request sends one API request and returns the decoded JSON (or null for
// an empty body). body, when given, is sent as JSON.
export async function request(method, path, body, opts = {}) {
  const init = { method, headers: { Accept: 'application/json' }, signal: opts.signal, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw networkError(err);
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && !opts.allow401 && onUnauthorized) onUnauthorized(err);
    throw err;
  }
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// get, post, patch, put and del are request with the method filled in.
export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const patch = (path, body, opts) => request('PATCH', path, body, opts);
export const put = (path, body, opts) => request('PUT', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

// seg escapes one path segment (a user or device name).
export const seg = (s) => encodeURIComponent(s);

// streamPath escapes a stream name segment by segment ("users/bob").
export const streamPath = (name) => String(name).split('/').map(seg).join('/');
