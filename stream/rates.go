package stream

import (
	"sync"
	"time"
)

// rateMeter turns a track's running counters into a bitrate and a frame
// rate, sampled when asked (by the viewers choosing a simulcast layer, a
// few times a second at most): nothing is done per packet beyond the
// counters Track.Write keeps anyway.
type rateMeter struct {
	// mu guards all following fields.
	mu            sync.Mutex
	at            time.Time
	bytes, frames uint64
	bps           int64
	fps           float64
}

// rateWindow is the shortest time over which rates are measured.
const rateWindow = time.Second

// Rates returns the track's payload bitrate (bits per second) and frame
// rate over the last measurement window of at least a second (zero until
// one has passed since the first call).
func (t *Track) Rates() (bps int64, fps float64) {
	return t.rates.sample(time.Now(), t.bytes.Load(), t.frames.Load())
}

func (m *rateMeter) sample(now time.Time, bytes, frames uint64) (int64, float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch dt := now.Sub(m.at); {
	case m.at.IsZero():
		m.at, m.bytes, m.frames = now, bytes, frames
	case dt >= rateWindow:
		secs := dt.Seconds()
		m.bps = int64(float64(bytes-m.bytes) * 8 / secs)
		m.fps = float64(frames-m.frames) / secs
		m.at, m.bytes, m.frames = now, bytes, frames
	}
	return m.bps, m.fps
}
