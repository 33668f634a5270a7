// Package transcode turns a hub track that a viewer cannot decode into one
// it can, with FFmpeg run as a separate process (never linked in): H.264
// to VP8, H.265 to H.264 or VP8, AAC to Opus. Each transcode is an
// on-demand source of the hub under its own name, "transcode/{target}/
// {source}": one per source and target, shared by every viewer who needs
// it, started by the first and stopped after the grace once the last has
// left, with the hub's keyframe cache for joining viewers. A transcode
// whose FFmpeg ends is restarted with backoff while its viewers stay.
package transcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// Prefix is the hub namespace of transcodes.
const Prefix = "transcode/"

// ErrUnavailable wraps why a transcode cannot be started: FFmpeg missing
// or the limit of concurrent transcodes reached.
var ErrUnavailable = errors.New("transcoding unavailable")

// Manager is the hub's on-demand source of transcode/* names.
type Manager struct {
	cfg Config
	hub *stream.Hub
	log *slog.Logger

	started, restarts atomic.Uint64
	cpuMicros         atomic.Uint64

	// mu guards all following fields.
	mu     sync.Mutex
	jobs   map[string]*job
	closed bool
	wg     sync.WaitGroup
}

// New returns a manager that runs transcodes for hub. Register it with
// hub.AddSource(transcode.Prefix, m).
func New(cfg Config, hub *stream.Hub, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg.withDefaults(), hub: hub, log: log, jobs: map[string]*job{}}
}

// Name returns the hub name of source's track of kind k transcoded into
// target, and whether such a transcode exists (FFmpeg aside).
func (m *Manager) Name(source string, from, target stream.Codec) (string, bool) {
	t, ok := targetOf(target)
	if !ok {
		return "", false
	}
	for _, n := range routes[strings.ToLower(from.MimeType)] {
		if n == t.name {
			name := Prefix + t.name + "/" + source
			return name, stream.ValidateName(name) == nil
		}
	}
	return "", false
}

// Available reports whether viewers whose browser cannot decode codec c
// get it transcoded: FFmpeg is found now and a transcode of c exists.
func (m *Manager) Available(c stream.Codec) bool {
	if _, err := m.ffmpeg(); err != nil {
		return false
	}
	return len(m.Targets(c)) > 0
}

// Targets lists the codecs a track of codec c can be transcoded into, the
// best first.
func (m *Manager) Targets(c stream.Codec) []stream.Codec {
	var out []stream.Codec
	for _, n := range routes[strings.ToLower(c.MimeType)] {
		if t, ok := targetNamed(n); ok {
			out = append(out, t.codec)
		}
	}
	return out
}

// Check reports (wrapping ErrUnavailable) why the transcode name cannot
// be started now: FFmpeg is not found, or the limit of concurrent
// transcodes is reached. A transcode already running is always available.
func (m *Manager) Check(name string) error {
	m.mu.Lock()
	_, running := m.jobs[name]
	n := len(m.jobs)
	m.mu.Unlock()
	if running {
		return nil
	}
	if _, err := m.ffmpeg(); err != nil {
		return err
	}
	if n >= m.cfg.MaxTranscodes {
		return fmt.Errorf("%w: the limit of %d transcodes at once is reached (WISHCAST_MAX_TRANSCODES)", ErrUnavailable, m.cfg.MaxTranscodes)
	}
	return nil
}

// ffmpeg returns the FFmpeg executable's path.
func (m *Manager) ffmpeg() (string, error) {
	p, err := exec.LookPath(m.cfg.FFmpeg)
	if err != nil {
		return "", fmt.Errorf("%w: FFmpeg (%q, WISHCAST_FFMPEG) is not installed or not executable", ErrUnavailable, m.cfg.FFmpeg)
	}
	return p, nil
}

// parse splits a transcode name into its target and source.
func parse(name string) (target, string, error) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return target{}, "", fmt.Errorf("%q is not a transcode", name)
	}
	tn, source, ok := strings.Cut(rest, "/")
	t, known := targetNamed(tn)
	if !ok || !known || source == "" || strings.HasPrefix(source, Prefix) {
		return target{}, "", fmt.Errorf("%q is not a transcode", name)
	}
	return t, source, nil
}

// Start implements stream.Source: it starts the transcode name in the
// background; it publishes once FFmpeg's first packet is out.
func (m *Manager) Start(_ context.Context, name string) error {
	t, source, err := parse(name)
	if err != nil {
		return err
	}
	bin, err := m.ffmpeg()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("transcoding is shut down")
	}
	if j := m.jobs[name]; j != nil {
		j.refs++
		return nil
	}
	if len(m.jobs) >= m.cfg.MaxTranscodes {
		return fmt.Errorf("%w: the limit of %d transcodes at once is reached", ErrUnavailable, m.cfg.MaxTranscodes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{m: m, name: name, source: source, t: t, bin: bin, cancel: cancel, done: make(chan struct{}), refs: 1,
		log: m.log.With("stream", name)}
	m.jobs[name] = j
	m.started.Add(1)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		j.run(ctx)
	}()
	return nil
}

// Stop implements stream.Source.
func (m *Manager) Stop(name string) {
	m.mu.Lock()
	j := m.jobs[name]
	if j == nil {
		m.mu.Unlock()
		return
	}
	if j.refs--; j.refs > 0 && !m.closed {
		m.mu.Unlock()
		return
	}
	delete(m.jobs, name)
	m.mu.Unlock()
	j.cancel()
	<-j.done
}

// Grace implements stream.GraceSource.
func (m *Manager) Grace() time.Duration { return m.cfg.Grace }

// Close stops every transcode.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	jobs := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		jobs = append(jobs, j)
	}
	m.jobs = map[string]*job{}
	m.mu.Unlock()
	for _, j := range jobs {
		j.cancel()
		<-j.done
	}
	m.wg.Wait()
}

// Stats are the transcodes' counters.
type Stats struct {
	// Running counts transcodes running now.
	Running int
	// Started counts transcodes started; Restarts, FFmpeg processes
	// started again after one ended.
	Started, Restarts uint64
	// CPUSeconds is the CPU time (user and system) FFmpeg used.
	CPUSeconds float64
}

// Stats returns the transcodes' counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	n := len(m.jobs)
	m.mu.Unlock()
	return Stats{Running: n, Started: m.started.Load(), Restarts: m.restarts.Load(),
		CPUSeconds: float64(m.cpuMicros.Load()) / 1e6}
}

// PIDs returns the process ids of the FFmpeg processes running now.
func (m *Manager) PIDs() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for _, j := range m.jobs {
		if pid := int(j.pid.Load()); pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}

var _ stream.GraceSource = (*Manager)(nil)
