package transcode

import (
	"runtime"
	"time"
)

// Config holds the transcoding settings. cmd parses it from the
// environment with caarlos0/env; the desc tag feeds the --help generator.
type Config struct {
	FFmpeg        string        `env:"FFMPEG" envDefault:"ffmpeg" desc:"FFmpeg executable for transcoding (a name looked up on PATH, or a path); cameras and streams a viewer's browser cannot decode are transcoded by it"`
	MaxTranscodes int           `env:"MAX_TRANSCODES" envDefault:"0" desc:"most transcodes running at once (one per source and target codec, shared by its viewers); 0: the number of CPU cores"`
	VideoKbps     int           `env:"TRANSCODE_VIDEO_KBPS" envDefault:"1500" desc:"bit rate of transcoded video, kbit/s"`
	AudioKbps     int           `env:"TRANSCODE_AUDIO_KBPS" envDefault:"64" desc:"bit rate of transcoded (Opus) audio, kbit/s"`
	Grace         time.Duration `env:"TRANSCODE_GRACE" envDefault:"3s" desc:"how long a transcode keeps running after its last viewer left"`
	RestartMin    time.Duration `env:"TRANSCODE_RESTART_MIN" envDefault:"200ms" desc:"first wait before restarting a transcode whose FFmpeg ended; doubles up to TRANSCODE_RESTART_MAX"`
	RestartMax    time.Duration `env:"TRANSCODE_RESTART_MAX" envDefault:"5s" desc:"longest wait between restarts of a failing transcode"`
}

// Defaults of the fields whose zero value means "default".
const (
	defaultVideoKbps  = 1500
	defaultAudioKbps  = 64
	defaultGrace      = 3 * time.Second
	defaultRestartMin = 200 * time.Millisecond
	defaultRestartMax = 5 * time.Second
)

// withDefaults returns c with zero or negative fields set to defaults.
func (c Config) withDefaults() Config {
	if c.FFmpeg == "" {
		c.FFmpeg = "ffmpeg"
	}
	if c.MaxTranscodes <= 0 {
		c.MaxTranscodes = runtime.NumCPU()
	}
	if c.VideoKbps <= 0 {
		c.VideoKbps = defaultVideoKbps
	}
	if c.AudioKbps <= 0 {
		c.AudioKbps = defaultAudioKbps
	}
	if c.Grace <= 0 {
		c.Grace = defaultGrace
	}
	if c.RestartMin <= 0 {
		c.RestartMin = defaultRestartMin
	}
	if c.RestartMax < c.RestartMin {
		c.RestartMax = max(defaultRestartMax, c.RestartMin)
	}
	return c
}
