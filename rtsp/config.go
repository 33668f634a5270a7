package rtsp

import "time"

// Config is the camera configuration.
type Config struct {
	Devices         []string      `env:"DEVICES" envSeparator:" " desc:"cameras, space-separated, as name=rtsp://[user:pass@]host[:port]/path with optional #tcp, #udp, #always-on"`
	DevicesFile     string        `env:"DEVICES_FILE" desc:"camera list of older versions, imported into the account database at start and renamed *.imported (default: DATA_DIR/devices.json)"`
	DemoCamera      bool          `env:"DEMO_CAMERA" envDefault:"true" desc:"serve the built-in demo camera on loopback as device demo"`
	DemoAddr        string        `env:"DEMO_CAMERA_ADDR" envDefault:"127.0.0.1:8554" desc:"RTSP address of the built-in demo camera"`
	AllowedNetworks []string      `env:"RTSP_ALLOWED_NETWORKS" envSeparator:"," envDefault:"127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7" desc:"networks cameras may be on; link-local (cloud metadata) is always refused"`
	Timeout         time.Duration `env:"RTSP_TIMEOUT" envDefault:"10s" desc:"RTSP dial, read and write timeout"`
	ReconnectMin    time.Duration `env:"RTSP_RECONNECT_MIN" envDefault:"1s" desc:"first delay before redialling a camera"`
	ReconnectMax    time.Duration `env:"RTSP_RECONNECT_MAX" envDefault:"10s" desc:"longest delay between redials (exponential backoff with jitter)"`
	OutageHold      time.Duration `env:"RTSP_OUTAGE_HOLD" envDefault:"5m" desc:"how long the viewers of a camera that dropped stay attached while it is redialled (a reboot); after that their sessions end"`
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = time.Second
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = 10 * time.Second
	}
	if c.OutageHold <= 0 {
		c.OutageHold = 5 * time.Minute
	}
	if len(c.AllowedNetworks) == 0 {
		c.AllowedNetworks = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"}
	}
	return c
}
