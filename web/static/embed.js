// embed.js: the embeddable player (/embed/<stream>), made to sit in an
// iframe on any site: the player alone, no navigation, for public streams
// only. A stream that is not public gets a sentence, not a sign-in form.
// The page tells its parent window the player's state with postMessage
// ({ wishcast: 'player', stream, state }), for sites that follow it.

import { APIError } from './api.js';
import { installDebug } from './debug.js';
import { createPlayer } from './player.js';
import { describe, streamInfo, watchLink } from './streams.js';
import { errorText, h, replace } from './ui.js';

// streamName is the stream named by the page's path.
function streamName() {
  const rest = location.pathname.slice('/embed/'.length).replace(/\/+$/, '');
  try {
    return rest.split('/').map(decodeURIComponent).join('/');
  } catch {
    return '';
  }
}

// tell posts the player's state to the page that frames this one.
function tell(stream, state) {
  if (window.parent !== window) window.parent.postMessage({ wishcast: 'player', stream, state }, '*');
}

// refuse shows why nothing plays here.
function refuse(stream, title, text) {
  document.body.dataset.state = 'refused';
  replace(document.getElementById('main'),
    h('div', { class: 'embed-refused', id: 'embed-refused', role: 'status' },
      h('img', { src: '/app/icon.svg', alt: '', width: '40', height: '40' }),
      h('h1', { text: title }),
      h('p', { text }),
      stream ? h('a', { href: watchLink(stream), target: '_blank', rel: 'noopener', text: 'Open it in wishcast' }) : null));
  tell(stream, 'refused');
}

async function boot() {
  installDebug();
  const stream = streamName();
  let info = null;
  try {
    if (!stream) throw new APIError(400, 'no stream is named in the address');
    info = await streamInfo(stream, { allow401: true });
  } catch (err) {
    if (err.status === 400) refuse('', 'There is no such stream.', `This player’s address does not name a stream: ${errorText(err)}`);
    else refuse(stream, 'The player cannot start.', errorText(err));
    return;
  }
  if (!info.public) {
    refuse(stream, 'This stream is not public.', 'Only streams that an admin of this wishcast made public play here, for anyone. Open it in wishcast to sign in and watch.');
    return;
  }
  const d = describe(stream, false);
  document.title = `${d.title} · wishcast`;
  const player = createPlayer(stream, {
    label: d.label, startText: d.start,
    signInText: 'This stream is not public any more.',
    onState: (state) => {
      document.body.dataset.state = state;
      tell(stream, state);
    },
  });
  player.el.id = 'player';
  player.el.classList.add('player-embed');
  replace(document.getElementById('main'), player.el);
  tell(stream, 'connecting');
}

boot().finally(() => { document.body.dataset.ready = 'true'; });
