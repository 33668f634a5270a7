// views/call.js: the call screens, drawn by calls.js: the ring screen
// (accept or decline an incoming call) and the in-call screen (the peer's
// video, my preview, mute, camera off, share the screen, hang up, status
// and duration).

import { avatar, duration, h, icon } from '../ui.js';

// ringView is the incoming-call screen.
export function ringView(peer, peerLabel, { onAccept, onDecline }) {
  const accept = h('button', { class: 'btn btn-round btn-accept', type: 'button', id: 'call-accept', 'aria-label': `Accept the call from ${peerLabel}` },
    icon('phone'), h('span', { class: 'btn-label', text: 'Accept' }));
  const decline = h('button', { class: 'btn btn-round btn-hangup', type: 'button', id: 'call-decline', 'aria-label': `Decline the call from ${peerLabel}` },
    icon('hangup'), h('span', { class: 'btn-label', text: 'Decline' }));
  accept.addEventListener('click', () => { accept.disabled = true; decline.disabled = true; onAccept(); });
  decline.addEventListener('click', () => { accept.disabled = true; decline.disabled = true; onDecline(); });
  const el = h('section', { class: 'ring', id: 'ring', role: 'alertdialog', 'aria-labelledby': 'ring-title', 'aria-describedby': 'ring-sub' },
    h('div', { class: 'ring-avatar' }, avatar(peer, peerLabel)),
    h('h2', { id: 'ring-title', text: `${peerLabel} is calling` }),
    h('p', { id: 'ring-sub', class: 'muted', text: 'Incoming video call' }),
    h('div', { class: 'call-controls' }, decline, accept));
  return { el, focus: () => accept.focus() };
}

// callView is the in-call screen. handlers: onMute(bool), onCamera(bool
// off), onShare() (start or stop sharing the screen), onHangup(),
// onClose().
export function callView(peer, peerLabel, handlers) {
  const remote = h('video', { playsinline: true, autoplay: true, 'aria-label': `Video of ${peerLabel}` });
  const local = h('video', { playsinline: true, autoplay: true, muted: true, 'aria-label': 'Your camera' });
  const status = h('p', { id: 'call-status', class: 'call-status', role: 'status', 'aria-live': 'polite' });
  const clock = h('span', { id: 'call-duration', class: 'call-duration', 'aria-label': 'Call duration', hidden: true });
  const placeholderText = h('p', { class: 'call-placeholder-text' });
  const closeBtn = h('button', { class: 'btn', type: 'button', id: 'call-close', text: 'Close', hidden: true });
  const placeholder = h('div', { class: 'call-placeholder' }, h('div', { class: 'ring-avatar' }, avatar(peer, peerLabel)), placeholderText, closeBtn);
  const mute = h('button', { class: 'btn btn-round', type: 'button', id: 'call-mute', 'aria-pressed': 'false' });
  const camera = h('button', { class: 'btn btn-round', type: 'button', id: 'call-camera', 'aria-pressed': 'false' });
  const screen = h('button', { class: 'btn btn-round', type: 'button', id: 'call-share', 'aria-pressed': 'false', hidden: true });
  const hangup = h('button', { class: 'btn btn-round btn-hangup', type: 'button', id: 'call-hangup', 'aria-label': 'Hang up' },
    icon('hangup'), h('span', { class: 'btn-label', text: 'Hang up' }));
  const controls = h('div', { class: 'call-controls' }, mute, camera, screen, hangup);
  const el = h('section', { class: 'call', id: 'call', 'data-state': 'calling', 'aria-label': `Call with ${peerLabel}` },
    h('div', { class: 'call-remote', id: 'call-remote' }, remote, placeholder),
    h('div', { class: 'call-local', id: 'call-local' }, local),
    h('header', { class: 'call-top' }, h('h2', { text: peerLabel }), status, clock),
    controls);

  let muted = false;
  let cameraOff = false;
  let sharing = false;
  let timer = 0;
  const draw = () => {
    mute.replaceChildren(icon(muted ? 'mic+slash' : 'mic'), h('span', { class: 'btn-label', text: muted ? 'Unmute' : 'Mute' }));
    mute.setAttribute('aria-label', muted ? 'Unmute your microphone' : 'Mute your microphone');
    mute.setAttribute('aria-pressed', String(muted));
    camera.replaceChildren(icon(cameraOff ? 'cam+slash' : 'cam'), h('span', { class: 'btn-label', text: cameraOff ? 'Camera on' : 'Camera off' }));
    camera.setAttribute('aria-label', cameraOff ? 'Turn your camera on' : 'Turn your camera off');
    camera.setAttribute('aria-pressed', String(cameraOff));
    el.classList.toggle('camera-off', cameraOff && !sharing);
    screen.replaceChildren(icon('screen'), h('span', { class: 'btn-label', text: sharing ? 'Stop sharing' : 'Share screen' }));
    screen.setAttribute('aria-label', sharing ? 'Stop sharing your screen' : 'Share your screen instead of your camera');
    screen.setAttribute('aria-pressed', String(sharing));
    el.classList.toggle('sharing', sharing);
  };
  mute.addEventListener('click', () => { muted = !muted; draw(); handlers.onMute(muted); });
  camera.addEventListener('click', () => { cameraOff = !cameraOff; draw(); handlers.onCamera(cameraOff); });
  screen.addEventListener('click', () => handlers.onShare());
  hangup.addEventListener('click', () => { hangup.disabled = true; handlers.onHangup(); });
  closeBtn.addEventListener('click', () => handlers.onClose());
  remote.addEventListener('playing', () => {
    if (el.dataset.state !== 'ended') el.classList.add('has-video');
  });
  draw();

  return {
    el,
    focus: () => hangup.focus(),
    // setState: 'calling', 'connecting', 'active' or 'ended', with the
    // sentence shown.
    setStatus(state, text) {
      el.dataset.state = state;
      status.textContent = text;
      placeholderText.textContent = state === 'ended' ? text : (state === 'calling' ? 'Ringing…' : 'Waiting for video…');
    },
    setRemote(media) {
      if (remote.srcObject !== media) remote.srcObject = media;
      remote.play().catch(() => {
        // Refused sound without a gesture: play muted rather than not at all.
        remote.muted = true;
        remote.play().catch(() => {});
      });
    },
    // setLocal shows what I send: my camera, or my screen (sharing).
    setLocal(media, isScreen = false) {
      local.srcObject = media;
      local.play().catch(() => {});
      sharing = isScreen;
      draw();
    },
    // canShare shows the Share screen button (a call without my camera
    // has no video to replace).
    canShare(ok) {
      screen.hidden = !ok || !navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia;
    },
    startClock(since) {
      clearInterval(timer);
      clock.hidden = false;
      const tick = () => { clock.textContent = duration(Date.now() - since); };
      tick();
      timer = setInterval(tick, 1000);
    },
    ended(text) {
      clearInterval(timer);
      el.classList.remove('has-video');
      this.setStatus('ended', text);
      remote.srcObject = null;
      local.srcObject = null;
      controls.hidden = true;
      closeBtn.hidden = false;
      closeBtn.focus();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
