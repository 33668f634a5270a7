// Package democam is wishcast's demo camera: a small RTSP server that
// plays a looping test clip and relays whatever is pushed to it.
//
// PLAY of the demo path (default "demo") streams an embedded clip, an
// H.264 test pattern (640x360, 25 fps, constrained baseline, an IDR every
// 2 s) and an Opus 440 Hz tone, in real time and forever: RTP timestamps
// keep growing across loops, SPS and PPS are both in the SDP
// (sprop-parameter-sets) and in-band before each IDR. The clip is only
// paced while someone watches it, and for a while after the last reader
// leaves.
//
// Any other path works like a tiny RTSP relay: a client that ANNOUNCEs
// and RECORDs there (FFmpeg's "-f rtsp" output, for instance) becomes its
// publisher, and PLAY clients of that path receive what it sends. PLAY of
// a path nobody publishes is answered 404.
//
// The clip is made by clip/make-clip.sh and embedded in the binary.
package democam
