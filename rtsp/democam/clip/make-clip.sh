#!/bin/sh
# make-clip.sh regenerates the demo camera's embedded clip: clip.h264 (an
# H.264 test pattern, raw Annex-B) and clip.opus (a 440 Hz tone, Ogg Opus).
#
# Needs FFmpeg with libx264 and libopus (Debian's ffmpeg 5.1 has both).
# Run from anywhere: the files are written next to this script.
#
# Video: 640x360, 25 fps, constrained baseline (no B-frames, so decode order
# is presentation order), an IDR every 50 frames (2 s) and no scene-cut
# keyframes, 400 kbit/s (8 s is about 410 KB), one slice per picture.
# -threads 1 also makes the output the same on every run. Every access
# unit starts with an AUD NAL (h264_metadata=aud=insert), which is how the
# Go parser finds access unit boundaries; x264's version SEI (type 6) is
# removed so that the file does not depend on the x264 build's version
# string. x264 repeats SPS and PPS before every IDR.
#
# Audio: one channel, 48 kHz, 20 ms Opus frames at 32 kbit/s.
#
# Both are exactly DURATION seconds; the server loops the video every
# DURATION seconds and sends the audio packets that fall inside that period.
set -eu

cd "$(dirname "$0")"

FFMPEG=${FFMPEG:-ffmpeg}
DURATION=8

# The label needs drawtext (libfreetype) and a font fontconfig can find;
# without them the clip is made without the label.
LABEL="drawtext=text='wishcast demo':font=Sans:fontsize=28:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8:x=(w-text_w)/2:y=h-text_h-24"

# video FILTER: encodes clip.h264, with the video filter FILTER if not empty.
video() {
	"$FFMPEG" -hide_banner -loglevel error -y \
		-f lavfi -i "testsrc2=size=640x360:rate=25" \
		-t "$DURATION" \
		${1:+-vf "$1"} \
		-c:v libx264 -profile:v baseline -level:v 3.0 -pix_fmt yuv420p \
		-preset veryfast -tune zerolatency -threads 1 \
		-g 50 -keyint_min 50 -sc_threshold 0 \
		-b:v 400k -maxrate 400k -bufsize 400k \
		-bsf:v "h264_metadata=aud=insert,filter_units=remove_types=6" \
		-fflags +bitexact -flags:v +bitexact -map_metadata -1 \
		-f h264 clip.h264
}

if ! video "$LABEL"; then
	echo "make-clip.sh: drawtext failed, making the clip without the label" >&2
	video ""
fi

"$FFMPEG" -hide_banner -loglevel error -y \
	-f lavfi -i "sine=frequency=440:sample_rate=48000" \
	-t "$DURATION" \
	-ac 1 -c:a libopus -b:a 32k -frame_duration 20 -application audio \
	-fflags +bitexact -flags:a +bitexact -map_metadata -1 \
	-f ogg clip.opus

ls -l clip.h264 clip.opus
