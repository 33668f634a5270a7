// events.js: the server-sent event feed (/api/v1/events). It keeps one
// EventSource open, hands each named event's JSON to its listeners and
// reports the connection state ('connecting', 'open', 'reconnecting',
// 'closed') so the app can show it. EventSource reconnects by itself after
// a network error; when the server refuses the stream (the browser gives
// up) the feed asks `check` whether the user is still signed in, then
// reconnects with backoff.

const EVENTS = ['hello', 'presence', 'publish-request', 'publish-stop', 'watchers', 'watch-ask', 'watch-ask-end',
  'call-incoming', 'call-accepted', 'call-ended'];

// EventFeed is the app's one event stream.
export class EventFeed {
  constructor(url, check) {
    this.url = url;
    this.check = check; // async () => boolean: still signed in?
    this.listeners = new Map();
    this.state = 'closed';
    this.es = null;
    this.timer = 0;
    this.failures = 0;
    this.unloadHooked = false;
  }

  // on registers fn for an event type ('state' for connection changes)
  // and returns a function that unregisters it.
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type).delete(fn);
  }

  emit(type, data) {
    for (const fn of this.listeners.get(type) || []) {
      try {
        fn(data);
      } catch (err) {
        console.error(`event ${type}:`, err);
      }
    }
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  // hookUnload closes the stream as the page is about to go away, before
  // the navigation cuts it (which Firefox reports as an error), and opens
  // it again if the page stays or comes back from the back-forward cache.
  hookUnload() {
    if (this.unloadHooked) return;
    this.unloadHooked = true;
    const close = () => {
      if (!this.es) return;
      this.es.close();
      this.es = null;
    };
    window.addEventListener('beforeunload', () => {
      close();
      // The page may stay after all (a prompt, a download link): then
      // this timer runs, and the stream opens again.
      setTimeout(() => {
        if (this.state !== 'closed') this.start();
      }, 1000);
    });
    window.addEventListener('pagehide', close);
    window.addEventListener('pageshow', (ev) => {
      if (ev.persisted && this.state !== 'closed') this.start();
    });
  }

  // start opens the stream (once).
  start() {
    if (this.es) return;
    this.hookUnload();
    clearTimeout(this.timer);
    this.setState(this.failures ? 'reconnecting' : 'connecting');
    const es = new EventSource(this.url);
    this.es = es;
    es.addEventListener('open', () => {
      this.failures = 0;
      this.setState('open');
    });
    es.addEventListener('error', () => {
      if (this.es !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        this.es = null;
        this.failures++;
        this.setState('reconnecting');
        this.recover();
      } else {
        this.setState('reconnecting');
      }
    });
    for (const type of EVENTS) {
      es.addEventListener(type, (ev) => {
        let data = {};
        try {
          data = ev.data ? JSON.parse(ev.data) : {};
        } catch {
          return; // not JSON: not an event of this contract
        }
        this.emit(type, data);
      });
    }
  }

  // recover runs after the browser gave up on the stream: if the session
  // ended, the check signs out; otherwise retry after a growing delay.
  async recover() {
    let signedIn = true;
    try {
      signedIn = await this.check();
    } catch {
      signedIn = true; // the server is unreachable: keep trying
    }
    if (!signedIn || this.state === 'closed') return;
    const delay = Math.min(30000, 1000 * 2 ** Math.min(this.failures - 1, 5));
    this.timer = setTimeout(() => this.start(), delay);
  }

  // stop closes the stream for good (sign-out).
  stop() {
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.es = null;
    this.failures = 0;
    this.setState('closed');
  }
}
