package democam

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// startDelay is how long after a (re)start the first access unit is sent.
// The player starts when the first reader's PLAY is being handled, and
// gortsplib activates that reader just after our OnPlay returns: waiting
// a little gives it the opening IDR instead of a two-second wait for the
// next one.
const startDelay = 50 * time.Millisecond

// maxLag is how late the player may fall behind (a stalled machine, a
// suspended process) before it stops catching up and starts a new loop.
const maxLag = time.Second

// packetWriter receives the player's RTP packets; *gortsplib.ServerStream
// is one.
type packetWriter interface {
	WritePacketRTP(medi *description.Media, pkt *rtp.Packet) error
}

// track paces one medium of the clip. Loop number n of the track starts
// at player.start + n*clip.period and at RTP timestamp base + n*period.
type track struct {
	media  *description.Media
	units  []unit
	rate   uint64 // clock rate
	period uint64 // loop length in clock ticks
	encode func(u unit) ([]*rtp.Packet, error)
	base   uint32 // RTP timestamp of the start of loop 0

	loop uint64 // loop of the next unit
	idx  int    // index of the next unit in units
}

// timestamp returns the RTP timestamp of the next unit. It only grows
// with loop and idx (modulo 2^32), which is what keeps timestamps
// continuous across loops and restarts.
func (t *track) timestamp() uint32 {
	return t.base + uint32(t.loop*t.period+t.units[t.idx].offset)
}

// advance moves to the next unit, wrapping to the next loop.
func (t *track) advance() {
	t.idx++
	if t.idx == len(t.units) {
		t.idx = 0
		t.loop++
	}
}

// player loops the clip in real time into a packetWriter. It is not safe
// for concurrent use: one goroutine at a time runs it (Server hands it
// over under its mutex).
type player struct {
	clip   *clip
	out    packetWriter
	tracks []*track

	ran   bool      // resume has been called before
	start time.Time // wall time of the start of loop 0

	written   uint64 // RTP packets written
	writeErrs uint64 // RTP packets the writer refused
}

// newPlayer makes a player of c into out, one track per media of desc
// (H.264 first, then Opus, as built by Server). Timestamps start at a
// random value (RFC 3550 section 5.1).
func newPlayer(c *clip, desc *description.Session, out packetWriter) (*player, error) {
	p := &player{clip: c, out: out}
	if len(desc.Medias) != 2 || len(desc.Medias[0].Formats) != 1 || len(desc.Medias[1].Formats) != 1 {
		return nil, errors.New("player: want one H.264 and one Opus media")
	}
	video, audio := desc.Medias[0], desc.Medias[1]
	vf, ok1 := video.Formats[0].(*format.H264)
	af, ok2 := audio.Formats[0].(*format.Opus)
	if !ok1 || !ok2 {
		return nil, errors.New("player: want one H.264 and one Opus media")
	}

	venc, err := vf.CreateEncoder()
	if err != nil {
		return nil, fmt.Errorf("h264 encoder: %w", err)
	}
	aenc, err := af.CreateEncoder()
	if err != nil {
		return nil, fmt.Errorf("opus encoder: %w", err)
	}
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, err
	}
	p.tracks = []*track{{
		media: video, units: c.video, rate: videoClockRate, period: c.videoPeriod(),
		base: binary.BigEndian.Uint32(seed[:4]),
		encode: func(u unit) ([]*rtp.Packet, error) {
			return venc.Encode(u.nalus)
		},
	}, {
		media: audio, units: c.audio, rate: audioClockRate, period: c.audioPeriod(),
		base: binary.BigEndian.Uint32(seed[4:]),
		encode: func(u unit) ([]*rtp.Packet, error) {
			pkt, err := aenc.Encode(u.opus)
			if err != nil {
				return nil, err
			}
			return []*rtp.Packet{pkt}, nil
		},
	}}
	return p, nil
}

// due returns the wall time at which t's next unit is to be sent.
func (p *player) due(t *track) time.Time {
	off := time.Duration(t.units[t.idx].offset) * time.Second / time.Duration(t.rate)
	return p.start.Add(time.Duration(t.loop)*p.clip.period + off)
}

// resume (re)starts playing at a loop boundary, so a new reader gets an
// IDR first. The new loop is later than any loop played before and not
// earlier than the wall time elapsed since loop 0, so RTP timestamps
// never go back and keep roughly in step with the clock over idle gaps.
func (p *player) resume(now time.Time) {
	var loop uint64
	if p.ran {
		for _, t := range p.tracks {
			loop = max(loop, t.loop+1)
		}
		if el := now.Sub(p.start); el > 0 {
			loop = max(loop, uint64((el+p.clip.period-1)/p.clip.period))
		}
	}
	p.ran = true
	p.start = now.Add(startDelay - time.Duration(loop)*p.clip.period)
	for _, t := range p.tracks {
		t.loop, t.idx = loop, 0
	}
}

// step writes every unit due at now and returns when the next one is due.
func (p *player) step(now time.Time) time.Time {
	for _, t := range p.tracks {
		for len(t.units) > 0 {
			due := p.due(t)
			if due.After(now) {
				break
			}
			if now.Sub(due) > maxLag {
				p.resume(now)
				return p.next()
			}
			p.send(t)
		}
	}
	return p.next()
}

// next returns when the earliest next unit is due.
func (p *player) next() time.Time {
	var next time.Time
	for _, t := range p.tracks {
		if len(t.units) == 0 {
			continue
		}
		if d := p.due(t); next.IsZero() || d.Before(next) {
			next = d
		}
	}
	return next
}

// send writes t's next unit and advances t.
func (p *player) send(t *track) {
	ts := t.timestamp()
	pkts, err := t.encode(t.units[t.idx])
	t.advance()
	if err != nil {
		p.writeErrs++
		return
	}
	for _, pkt := range pkts {
		pkt.Timestamp = ts
		if err := p.out.WritePacketRTP(t.media, pkt); err != nil {
			p.writeErrs++
			continue
		}
		p.written++
	}
}
