// screen.js: sharing the screen (getDisplayMedia): in a call, where the
// screen's track takes the camera's place in the same session
// (RTCRtpSender.replaceTrack, no renegotiation), and as a live stream
// (live.js). The browser asks the person what to share.

// canShare reports whether this browser can share a screen here.
export function canShare() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
}

// screenError turns a getDisplayMedia failure into a sentence; null when
// the person only changed their mind (closed the browser's picker).
export function screenError(err) {
  switch (err && err.name) {
    case 'NotAllowedError':
      return null;
    case 'NotFoundError':
      return new Error('There is no screen to share');
    case 'NotReadableError':
      return new Error('The screen could not be captured; another program may be holding it');
    case 'NotSupportedError':
    case 'TypeError':
      return new Error('This browser cannot share a screen here');
    default:
      return new Error((err && err.message) || 'The screen could not be shared');
  }
}

// getScreen asks for a screen (or window or tab) to share, with its sound
// when audio is set and the browser offers it. It returns the
// MediaStream, or null when the person cancelled; other failures throw
// an Error with a sentence.
export async function getScreen(audio = false) {
  if (!canShare()) throw new Error('This browser cannot share a screen here; open wishcast over HTTPS (or on localhost)');
  const video = { frameRate: { ideal: 15, max: 30 } };
  try {
    return await navigator.mediaDevices.getDisplayMedia({ video, audio });
  } catch (err) {
    const e = screenError(err);
    if (!e) return null;
    if (!audio) throw e;
  }
  // Some browsers cannot capture sound with the screen: the picture alone.
  try {
    return await navigator.mediaDevices.getDisplayMedia({ video, audio: false });
  } catch (err) {
    const e = screenError(err);
    if (!e) return null;
    throw e;
  }
}
