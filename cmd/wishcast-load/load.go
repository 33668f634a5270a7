package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"
)

// Config is one load run.
type Config struct {
	Server   string // base URL of the wishcast server
	Token    string // Bearer token sent with every request
	User     string // with Password: sign in to get a token
	Password string
	Stream   string        // stream name to publish and view
	Viewers  int           // WHEP viewers to connect
	Bitrate  int           // bits/s of video payload
	Packet   int           // largest RTP payload, bytes
	FPS      int           // frames per second
	GOP      int           // frames from one keyframe to the next
	Duration time.Duration // measurement window
	Ramp     float64       // viewers started per second

	// Codec is the published stream: codecVP8, the synthetic VP8-shaped
	// stream, or codecH264, real H.264 encoded once at start by FFmpeg
	// (see newH264Source) and repeated.
	Codec string
	// Width and Height are the H.264 stream's picture size.
	Width, Height int
	// FFmpeg is the ffmpeg executable that encodes the H.264 stream.
	FFmpeg string

	// ServerCPU, when >= 0 (with ServerPID), is the one core every thread
	// of the server is pinned to before the run; LoadCPU, when >= 0, the
	// one core this process is pinned to. Linux only.
	ServerCPU, LoadCPU int

	// SRTP, when not empty, is the one SRTP profile the peers offer
	// (gcm256, gcm128 or cm128); empty offers pion's default list.
	SRTP string

	// ServerPID, when not zero, is the server's process, for its CPU time
	// and RSS from /proc.
	ServerPID int
	// Settle is the pause after the publisher connected and after the
	// viewers connected, before memory and the window are sampled.
	Settle time.Duration
	// Baseline is how long the server's CPU is measured with the
	// publisher alone (only with ServerPID), to tell the cost of ingest
	// and housekeeping from that of the fan-out.
	Baseline time.Duration
	// ConnectTimeout bounds each connection (signalling and ICE/DTLS).
	ConnectTimeout time.Duration
	// CleanupTimeout bounds the DELETEs and closes at the end.
	CleanupTimeout time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// defaultConfig holds the flag defaults.
func defaultConfig() Config {
	return Config{
		Server:         "http://127.0.0.1:8080",
		Stream:         "live/load",
		Viewers:        150,
		Bitrate:        2_000_000,
		Packet:         1100,
		FPS:            30,
		GOP:            60,
		Codec:          codecVP8,
		Width:          1280,
		Height:         720,
		FFmpeg:         "ffmpeg",
		ServerCPU:      -1,
		LoadCPU:        -1,
		Duration:       20 * time.Second,
		Ramp:           50,
		Settle:         time.Second,
		Baseline:       3 * time.Second,
		ConnectTimeout: 15 * time.Second,
		CleanupTimeout: 15 * time.Second,
	}
}

func (c Config) validate() error {
	switch {
	case c.Viewers < 0:
		return errors.New("-viewers must be >= 0")
	case c.Bitrate < 8*c.FPS:
		return errors.New("-bitrate too low for -fps")
	case c.Packet < 16 || c.Packet > 1200:
		return errors.New("-packet must be within 16..1200 bytes")
	case c.FPS < 1 || c.FPS > 1000:
		return errors.New("-fps must be within 1..1000")
	case c.GOP < 1:
		return errors.New("-gop must be >= 1")
	case c.Duration <= 0:
		return errors.New("-duration must be > 0")
	case c.Ramp <= 0:
		return errors.New("-ramp must be > 0")
	case c.Codec != codecVP8 && c.Codec != codecH264:
		return fmt.Errorf("-codec must be vp8 or h264, not %q", c.Codec)
	case c.Width < 16 || c.Height < 16 || c.Width > 4096 || c.Height > 4096 || c.Width%2 != 0 || c.Height%2 != 0:
		return fmt.Errorf("-size %dx%d: want even sizes within 16..4096", c.Width, c.Height)
	case c.ServerCPU >= 0 && c.ServerPID == 0:
		return errors.New("-server-cpu needs -server-pid")
	case c.SRTP != "" && !validSRTP(c.SRTP):
		return fmt.Errorf("-srtp must be gcm256, gcm128 or cm128, not %q", c.SRTP)
	case c.ConnectTimeout <= 0 || c.CleanupTimeout <= 0 || c.Settle < 0 || c.Baseline < 0:
		return errors.New("timeouts must be > 0")
	}
	return nil
}

// logf writes a progress line.
func (c Config) logf(format string, a ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, time.Now().Format("15:04:05.000 ")+format+"\n", a...)
	}
}

// Run publishes the stream (see Config.Codec), connects the viewers,
// measures for cfg.Duration and tears everything down. The report is filled as far as
// the run got, also when err is not nil; ctx ending cuts the run short
// (the cleanup still happens).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	whip, err := endpointURL(cfg.Server, "whip", cfg.Stream)
	if err != nil {
		return nil, err
	}
	whep, _ := endpointURL(cfg.Server, "whep", cfg.Stream)
	local, err := localAddrFor(cfg.Server)
	if err != nil {
		return nil, err
	}
	api, err := newAPI(cfg.SRTP, cfg.Codec, local)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		Server: cfg.Server, Stream: cfg.Stream, Viewers: cfg.Viewers, Cores: runtime.NumCPU(),
		Codec: cfg.Codec, BitrateBps: cfg.Bitrate,
	}
	if err := pin(ctx, cfg, rep); err != nil {
		return rep, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	hc := &http.Client{Timeout: cfg.ConnectTimeout, Transport: tr}
	defer tr.CloseIdleConnections()
	if cfg.Token == "" && cfg.Password != "" {
		tok, err := signIn(ctx, hc, cfg.Server, cfg.User, cfg.Password)
		if err != nil {
			return rep, err
		}
		cfg.Token = tok
	}
	if cfg.Token != "" {
		hc.Transport = bearer{token: cfg.Token, next: tr}
	}

	src, err := newSource(ctx, cfg)
	if err != nil {
		return rep, err
	}
	rep.PacketsPerFrame = src.packetsPerFrame()
	rep.EncodedBitrateBps = src.bitrate()
	if cfg.Codec == codecH264 {
		rep.VideoSize = fmt.Sprintf("%dx%d", cfg.Width, cfg.Height)
	}
	var errs errorTally
	defer func() { rep.Errors = errs.list() }()

	var server *ServerStats
	sample := func() procSample {
		if server == nil {
			return procSample{}
		}
		s, err := readProc(server.PID)
		if err != nil {
			errs.add(fmt.Errorf("server process: %w", err))
		}
		return s
	}
	if cfg.ServerPID != 0 {
		if _, err := readProc(cfg.ServerPID); err != nil {
			return rep, fmt.Errorf("-server-pid: %w", err)
		}
		server = &ServerStats{PID: cfg.ServerPID}
		rep.ServerStats = server
	}

	// The publisher.
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	pub, err := startPublisher(pctx, api, hc, whip, cfg.Codec, src, cfg.FPS)
	cancel()
	if err != nil {
		return rep, err
	}
	cfg.logf("publisher up on %s: %s at %.2f Mbit/s, %.1f packets/frame, %d fps, %.0f packets/s", whip, cfg.Codec, float64(src.bitrate())/1e6, src.packetsPerFrame(), cfg.FPS, src.packetsPerFrame()*float64(cfg.FPS))
	viewers := make([]*viewer, cfg.Viewers)
	defer func() {
		t0 := time.Now()
		rep.CleanupErrors = cleanup(context.WithoutCancel(ctx), cfg, hc, pub, viewers, &errs)
		rep.CleanupSeconds = time.Since(t0).Seconds()
		cfg.logf("cleanup done in %.1fs, %d errors", rep.CleanupSeconds, rep.CleanupErrors)
	}()
	if !sleep(ctx, cfg.Settle) {
		return rep, ctx.Err()
	}
	if server != nil && cfg.Baseline > 0 {
		a := sample()
		if !sleep(ctx, cfg.Baseline) {
			return rep, ctx.Err()
		}
		b := sample()
		server.BaselinePercent = 100 * (b.cpu - a.cpu).Seconds() / b.at.Sub(a.at).Seconds()
		cfg.logf("server with the publisher alone: %.1f%% of a core", server.BaselinePercent)
	}
	server.rssBefore(sample())

	// The viewers, cfg.Ramp per second.
	t0 := time.Now()
	var wg sync.WaitGroup
	var upMu sync.Mutex
	var lastUp time.Time
	for i := range viewers {
		if !sleepUntil(ctx, t0.Add(time.Duration(float64(i)/cfg.Ramp*float64(time.Second)))) {
			break
		}
		wg.Go(func() {
			vctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
			defer cancel()
			v, err := startViewer(vctx, api, hc, whep, keyStartFunc(cfg.Codec))
			viewers[i] = v
			if err == nil {
				err = v.watch.waitUp(vctx)
			}
			if err != nil {
				errs.add(err)
				return
			}
			upMu.Lock()
			lastUp = time.Now()
			upMu.Unlock()
		})
	}
	wg.Wait()
	var up []*viewer
	for _, v := range viewers {
		if v != nil && v.upAt.Load() != 0 {
			up = append(up, v)
		}
	}
	rep.Connected, rep.Failed = len(up), cfg.Viewers-len(up)
	if len(up) > 0 {
		rep.ConnectSeconds = lastUp.Sub(t0).Seconds()
		rep.SRTPProfile = srtpProfile(up[0].pc)
	}
	cfg.logf("viewers: %d of %d up in %.2fs", len(up), cfg.Viewers, rep.ConnectSeconds)
	if !sleep(ctx, cfg.Settle) {
		return rep, ctx.Err()
	}

	// The window.
	type snapshot struct {
		at      time.Time
		server  procSample
		machine machineCPU
		udp     udpCounters
		self    time.Duration
		pub     uint64
		pubB    uint64
		viewers []viewerCounts
	}
	snap := func() snapshot {
		s := snapshot{self: selfCPU(), server: sample(), pub: pub.sent.Load(), pubB: pub.bytes.Load(), viewers: make([]viewerCounts, len(up))}
		for i, v := range up {
			s.viewers[i] = v.counts()
		}
		s.machine, _ = readMachineCPU()
		s.udp, _ = readUDPCounters()
		s.at = time.Now()
		return s
	}
	a := snap()
	server.rssConnected(a.server, len(up))
	cfg.logf("measuring for %s", cfg.Duration)
	sleep(ctx, cfg.Duration)
	b := snap()
	cfg.logf("measured")

	win := b.at.Sub(a.at).Seconds()
	rep.WindowSeconds = win
	rep.PublishedPackets = b.pub - a.pub
	rep.PublishedPPS = float64(rep.PublishedPackets) / win
	rep.PublishedBitrateBps = int(float64(8*(b.pubB-a.pubB)) / win)
	rep.PublishErrors = pub.errors.Load()
	rep.PublishStalls = pub.stalls.Load()
	rep.KeyframeRequests = pub.plis.Load()
	rep.NACKs = pub.nacks.Load()
	per, keys := make([]float64, len(up)), make([]float64, len(up))
	var gaps, late uint64
	var firstPkt, firstKey, setup, answer, connect []float64
	for i, v := range up {
		d := b.viewers[i].recv - a.viewers[i].recv
		per[i] = float64(d)
		if d > 0 && d >= rep.PublishedPackets-rep.PublishedPackets/200 { // packets in flight at the window's edges
			rep.FullViewers++
		}
		keys[i] = float64(b.viewers[i].keys - a.viewers[i].keys)
		rep.Received += d
		gaps += b.viewers[i].gaps - a.viewers[i].gaps
		late += b.viewers[i].late - a.viewers[i].late
		select {
		case <-v.watch.down:
			rep.Dropped++
		default:
		}
		upAt := v.upAt.Load()
		if t := v.firstPkt.Load(); t != 0 {
			firstPkt = append(firstPkt, float64(t-upAt)/1e6)
			setup = append(setup, float64(t-v.startAt)/1e6)
			answer = append(answer, float64(v.answerAt-v.startAt)/1e6)
			connect = append(connect, float64(upAt-v.answerAt)/1e6)
		}
		if t := v.firstKey.Load(); t != 0 {
			firstKey = append(firstKey, float64(t-upAt)/1e6)
		}
	}
	rep.PerViewer = spread(per)
	rep.KeyframesPerViewer = spread(keys)
	rep.FirstPacketMs = spread(firstPkt)
	rep.FirstKeyMs = spread(firstKey)
	rep.SetupMs = spread(setup)
	rep.AnswerMs, rep.ConnectMs = spread(answer), spread(connect)
	rep.ReceivedPPS = float64(rep.Received) / win
	if rep.PublishedPackets > 0 && len(up) > 0 {
		rep.Delivery = 100 * float64(rep.Received) / float64(rep.PublishedPackets*uint64(len(up)))
	}
	rep.Late = late
	if gaps > late {
		rep.Lost = gaps - late
	}
	if rep.Received+rep.Lost > 0 {
		rep.LossPercent = 100 * float64(rep.Lost) / float64(rep.Received+rep.Lost)
	}
	rep.LoadCPUPercent = 100 * (b.self - a.self).Seconds() / win
	if dt := b.machine.total - a.machine.total; dt > 0 {
		rep.MachineBusyPercent = 100 * float64(b.machine.busy-a.machine.busy) / float64(dt)
	}
	rep.UDP = UDPStats{
		OutPerSecond: float64(b.udp.outDatagrams-a.udp.outDatagrams) / win,
		InPerSecond:  float64(b.udp.inDatagrams-a.udp.inDatagrams) / win,
		RcvbufErrors: b.udp.rcvbufErrors - a.udp.rcvbufErrors,
		SndbufErrors: b.udp.sndbufErrors - a.udp.sndbufErrors,
	}
	if server != nil {
		cpu := (b.server.cpu - a.server.cpu).Seconds()
		server.CPUSeconds = cpu
		server.SysSeconds = (b.server.sys - a.server.sys).Seconds()
		server.CPUPercent = 100 * cpu / b.server.at.Sub(a.server.at).Seconds()
		if rep.Received > 0 {
			server.CPUPerPacketUs = cpu * 1e6 / float64(rep.Received)
			server.CPUPerSentUs = cpu * 1e6 / float64(rep.Received+rep.Lost)
			server.SysPerPacketUs = server.SysSeconds * 1e6 / float64(rep.Received)
			server.NetCPUPerPacketUs = (cpu - server.BaselinePercent/100*win) * 1e6 / float64(rep.Received)
		}
		server.RSSEndKB = b.server.rssKB
		rep.OtherCPUPercent = max(0, rep.MachineBusyPercent*float64(rep.Cores)-server.CPUPercent-rep.LoadCPUPercent)
		if len(up) > 0 {
			server.RSSPerViewerEndKB = float64(server.RSSEndKB-server.RSSBeforeKB) / float64(len(up))
		}
	}
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	return rep, nil
}

// newSource makes the stream cfg asks for.
func newSource(ctx context.Context, cfg Config) (source, error) {
	if cfg.Codec != codecH264 {
		return newVP8Source(cfg.Bitrate, cfg.Packet, cfg.FPS, cfg.GOP), nil
	}
	t0 := time.Now()
	src, err := newH264Source(ctx, h264Options{
		FFmpeg: cfg.FFmpeg, Width: cfg.Width, Height: cfg.Height,
		FPS: cfg.FPS, GOP: cfg.GOP, Bitrate: cfg.Bitrate, Packet: cfg.Packet,
	})
	if err != nil {
		return nil, err
	}
	cfg.logf("H.264 clip of %d frames (%dx%d) encoded in %.1fs: %.2f Mbit/s, %.1f packets/frame", len(src.frames), cfg.Width, cfg.Height, time.Since(t0).Seconds(), float64(src.bitrate())/1e6, src.packetsPerFrame())
	return src, nil
}

// pinSettle is how long the run waits after pinning the server. A Go
// program (1.25 and later) lowers GOMAXPROCS to the cores it may use
// within about a second of its affinity changing; the server sizes a
// stream's writers by GOMAXPROCS when the stream starts, so the publisher
// waits for that, as if the server had been started under taskset.
const pinSettle = 1500 * time.Millisecond

// pin pins this process to cfg.LoadCPU and the server to cfg.ServerCPU
// (when they are >= 0), notes it in rep, and after pinning the server
// waits pinSettle.
func pin(ctx context.Context, cfg Config, rep *Report) error {
	if cfg.LoadCPU >= 0 {
		n, err := pinProcess(os.Getpid(), cfg.LoadCPU)
		if err != nil {
			return fmt.Errorf("-load-cpu %d: %w", cfg.LoadCPU, err)
		}
		rep.LoadCPU, rep.LoadThreads = &cfg.LoadCPU, n
		cfg.logf("load process pinned to CPU %d (%d threads)", cfg.LoadCPU, n)
	}
	if cfg.ServerCPU >= 0 {
		n, err := pinProcess(cfg.ServerPID, cfg.ServerCPU)
		if err != nil {
			return fmt.Errorf("-server-cpu %d: %w", cfg.ServerCPU, err)
		}
		rep.ServerCPU, rep.ServerThreads = &cfg.ServerCPU, n
		cfg.logf("server (process %d) pinned to CPU %d (%d threads)", cfg.ServerPID, cfg.ServerCPU, n)
		if !sleep(ctx, pinSettle) {
			return ctx.Err()
		}
	}
	return nil
}

func (s *ServerStats) rssBefore(p procSample) {
	if s != nil {
		s.RSSBeforeKB = p.rssKB
	}
}

func (s *ServerStats) rssConnected(p procSample, viewers int) {
	if s == nil {
		return
	}
	s.RSSConnectedKB = p.rssKB
	if viewers > 0 {
		s.RSSPerViewerKB = float64(s.RSSConnectedKB-s.RSSBeforeKB) / float64(viewers)
	}
}

// cleanup deletes every session, viewers first, within cfg.CleanupTimeout,
// and returns how many DELETEs failed.
func cleanup(ctx context.Context, cfg Config, hc *http.Client, pub *publisher, viewers []*viewer, errs *errorTally) int {
	ctx, cancel := context.WithTimeout(ctx, cfg.CleanupTimeout)
	defer cancel()
	var mu sync.Mutex
	failed := 0
	fail := func(err error) {
		errs.add(fmt.Errorf("cleanup: %w", err))
		mu.Lock()
		failed++
		mu.Unlock()
	}
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, v := range viewers {
		if v == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		wg.Go(func() {
			defer func() {
				select {
				case <-sem:
				default:
				}
			}()
			if err := v.close(ctx, hc); err != nil {
				fail(err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		fail(errors.New("viewers not all closed in time"))
	}
	if err := pub.close(ctx, hc); err != nil {
		fail(err)
	}
	return failed
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	return sleep(ctx, time.Until(at))
}

func validSRTP(name string) bool {
	_, ok := parseSRTP(name)
	return ok
}
