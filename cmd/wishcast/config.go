package main

import (
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/callbridge"
	"github.com/wishcast/wishcast/cluster"
	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/metrics"
	"github.com/wishcast/wishcast/rtsp"
	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
	"github.com/wishcast/wishcast/tlsx"
	"github.com/wishcast/wishcast/transcode"
)

// envPrefix starts every setting's name.
const envPrefix = "WISHCAST_"

// Config is every setting of the server, read once from the environment.
type Config struct {
	Listen          string        `env:"LISTEN" envDefault:":8080" desc:"address of the HTTP listener (app, API, WHIP, WHEP)"`
	DataDir         string        `env:"DATA_DIR" envDefault:"./data" desc:"directory for wishcast's own files: the account database (unless DATABASE_URL) and the camera list"`
	DatabaseURL     string        `env:"DATABASE_URL" desc:"the account store: empty for SQLite in DATA_DIR; postgres://user:password@host:port/database?sslmode=verify-full for PostgreSQL, which several wishcast nodes can share"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"text" desc:"log format: text or json"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info" desc:"log level: debug, info, warn or error"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s" desc:"how long shutdown waits for requests in flight"`
	RevocationCheck time.Duration `env:"REVOCATION_CHECK" envDefault:"5s" desc:"how often running sessions are checked against revoked keys and disabled users"`

	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s" desc:"time allowed to read request headers"`
	ReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"15s" desc:"time allowed to read a whole request"`
	WriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"30s" desc:"time allowed to write a response (covers waiting for on-demand sources)"`
	IdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"60s" desc:"how long an idle keep-alive connection stays open"`
	MaxHeaderBytes    int           `env:"HTTP_MAX_HEADER_BYTES" envDefault:"16384" desc:"largest request header block accepted"`

	CORS      httpx.CORSConfig
	WebRTC    session.Config
	Stream    stream.Config
	Camera    rtsp.Config
	Transcode transcode.Config
	Auth      auth.Config
	Calls     callbridge.Config
	Cluster   cluster.Config
	Metrics   metrics.Config
	TLS       tlsx.Config
}

// devicesFile is where the camera catalogue is kept.
func (c Config) devicesFile() string {
	if c.Camera.DevicesFile != "" {
		return c.Camera.DevicesFile
	}
	return filepath.Join(c.DataDir, "devices.json")
}

// cameraCodecsFile is where the cameras' last descriptions (their
// codecs) are kept across restarts.
func (c Config) cameraCodecsFile() string { return filepath.Join(c.DataDir, "camera-codecs.json") }

// storeAddress is where the account store lives: DATABASE_URL, or the
// SQLite file in the data directory.
func (c Config) storeAddress() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return "sqlite://" + filepath.Join(c.DataDir, auth.DefaultFileName)
}

// loadConfig parses the environment.
func loadConfig(environ map[string]string) (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Prefix: envPrefix, Environment: environ})
	if err != nil {
		return Config{}, fmt.Errorf("configuration: %w", culprit(environ, err))
	}
	switch cfg.LogFormat {
	case "text", "json":
	default:
		return Config{}, fmt.Errorf("configuration: %sLOG_FORMAT must be text or json, not %q", envPrefix, cfg.LogFormat)
	}
	if cfg.DatabaseURL != "" {
		if loc, err := auth.ParseLocation(cfg.DatabaseURL); err != nil || !loc.IsPostgres() {
			return Config{}, fmt.Errorf("configuration: %sDATABASE_URL must be a postgres:// URL (postgres://user:password@host:port/database?sslmode=...), or empty for SQLite in DATA_DIR", envPrefix)
		}
	}
	if cfg.Cluster, err = cfg.Cluster.Check(envPrefix, cfg.DatabaseURL != ""); err != nil {
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	if cfg.RevocationCheck <= 0 {
		return Config{}, fmt.Errorf("configuration: %sREVOCATION_CHECK must be positive", envPrefix)
	}
	if cfg.WriteTimeout <= cfg.Stream.OnDemandTimeout {
		return Config{}, fmt.Errorf("configuration: %sHTTP_WRITE_TIMEOUT (%s) must exceed %sON_DEMAND_TIMEOUT (%s)",
			envPrefix, cfg.WriteTimeout, envPrefix, cfg.Stream.OnDemandTimeout)
	}
	// A viewer of a person who is asked first waits for the answer, then
	// for the camera.
	if cfg.WriteTimeout <= cfg.Stream.OnDemandTimeout+cfg.Calls.AskTimeout {
		return Config{}, fmt.Errorf("configuration: %sHTTP_WRITE_TIMEOUT (%s) must exceed %sON_DEMAND_TIMEOUT plus %sWATCH_ASK_TIMEOUT (%s)",
			envPrefix, cfg.WriteTimeout, envPrefix, envPrefix, cfg.Stream.OnDemandTimeout+cfg.Calls.AskTimeout)
	}
	return cfg, nil
}

// culprit names the variable behind a parse error: env reports struct
// field names, while people set variable names.
func culprit(environ map[string]string, err error) error {
	for _, s := range settings() {
		v, ok := environ[s.Name]
		if !ok {
			continue
		}
		one := map[string]string{s.Name: v}
		if _, e := env.ParseAsWithOptions[Config](env.Options{Prefix: envPrefix, Environment: one}); e != nil {
			return fmt.Errorf("%s=%q: %w", s.Name, v, e)
		}
	}
	return err
}

// setting is one documented environment variable.
type setting struct{ Name, Default, Desc string }

// settings lists every setting of Config with its default and description,
// walking the same struct tags that env parses.
func settings() []setting {
	var out []setting
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type, prefix+f.Tag.Get("envPrefix"))
				continue
			}
			name := f.Tag.Get("env")
			if name == "" {
				continue
			}
			out = append(out, setting{Name: prefix + strings.Split(name, ",")[0], Default: f.Tag.Get("envDefault"), Desc: f.Tag.Get("desc")})
		}
	}
	walk(reflect.TypeFor[Config](), envPrefix)
	return out
}

// printHelp writes the usage text with every setting.
func printHelp(w io.Writer) {
	fmt.Fprintf(w, `wishcast: a WebRTC streaming server (WHIP to publish, WHEP to view)

Usage:
  wishcast [serve]                          run the server
  wishcast device list                      list the cameras (passwords hidden)
  wishcast device add NAME URL [tcp|udp] [always-on]
                                            add or replace a camera (rtsp:// or rtsps://)
  wishcast device remove NAME               remove a camera
  wishcast user list|add|passwd|disable|enable
                                            manage accounts (passwords on stdin, or generated)
  wishcast token create|list|revoke         manage publish keys for OBS, FFmpeg and players
  wishcast store copy [--from ADDR] [--to ADDR] [--replace]
                                            copy accounts, keys, cameras, settings and call
                                            history to another store (by default from the
                                            SQLite file of DATA_DIR to DATABASE_URL)
  wishcast fakecam                          serve only the demo camera over RTSP
  wishcast version                          print the version
  wishcast --help                           show this text

Settings are environment variables:
`)
	for _, s := range settings() {
		def := s.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(w, "  %-36s %s\n  %-36s default: %s\n", s.Name, s.Desc, "", def)
	}
}
