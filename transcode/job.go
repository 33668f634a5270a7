package transcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/wishcast/wishcast/stream"
)

// Bounds of one FFmpeg run.
const (
	listenWithin = 5 * time.Second  // FFmpeg must bind its input port by then
	stallAfter   = 10 * time.Second // no output for this long: FFmpeg is restarted
	inputPT      = 96               // payload type of the packets FFmpeg is fed
	maxPacket    = 1500
	socketBuffer = 4 << 20
)

// job is one running transcode: a viewer of its source stream, feeding
// FFmpeg, publishing what FFmpeg encodes under its own name.
type job struct {
	m      *Manager
	name   string
	source string
	t      target
	bin    string
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	refs   int // Starts not yet matched by Stop; guarded by Manager.mu
	pid    atomic.Int64
	// fedTS0 is the RTP timestamp of the first packet fed to the current
	// FFmpeg (-1 before one), which its first output frame carries: it
	// ties output frames to source frames for delay measurements.
	fedTS0 atomic.Int64
	// wantKF is set by a viewer's keyframe request (through the hub,
	// coalesced) until the feed asks FFmpeg for a keyframe.
	wantKF atomic.Bool

	// Owned by run's goroutine (and, during a run, its reader).
	pub     *stream.Publication
	out     *stream.Track
	seq     uint16
	lastTS  uint32
	lastAt  time.Time
	sent    bool // a packet was published: lastTS and lastAt are set
	runBase uint32
	runTS0  uint32
	runLive bool // this run's first packet came
	// runBegan is when this run's FFmpeg was started, for the DEBUG
	// timeline of its start-up (set before its reader starts).
	runBegan time.Time
	// runJumps counts the input time jumps (keyframe requests) the feed
	// made that have not come out of FFmpeg yet; runShift is the total of
	// those that did, taken off the output's timestamps; runPrev is the
	// output timestamp of the previous packet.
	runJumps *atomic.Int32
	runShift uint32
	runPrev  uint32
}

// requestKeyframe is the transcode track's keyframe callback: the next
// frame fed to FFmpeg comes keyframeEvery later in its time, which forces
// a keyframe (keyframeExpr).
func (j *job) requestKeyframe() { j.wantKF.Store(true) }

// jumpTicks is the size of a keyframe request's time jump in units of
// clock rate; 0 for audio, which has no keyframes.
func (j *job) jumpTicks(rate uint32) uint32 {
	if j.t.kind != stream.Video {
		return 0
	}
	return uint32(keyframeEvery.Seconds() * float64(rate))
}

// run keeps FFmpeg running until ctx ends, restarting it with backoff;
// viewers keep their sessions across restarts (a short freeze).
func (j *job) run(ctx context.Context) {
	defer close(j.done)
	defer func() {
		if j.pub != nil {
			j.pub.Close()
		}
	}()
	lease, err := j.m.hub.Acquire(ctx, j.source)
	if err != nil {
		if ctx.Err() == nil {
			j.m.hub.SourceFailed(j.name, fmt.Errorf("source %q: %w", j.source, err))
		}
		return
	}
	defer lease.Release()
	backoff := j.m.cfg.RestartMin
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			j.m.restarts.Add(1)
		}
		live, err := j.once(ctx, lease)
		if ctx.Err() != nil {
			return
		}
		if live {
			backoff = j.m.cfg.RestartMin
		}
		j.log.Warn("transcode ended, restarting", "err", err, "retry_in", backoff)
		if j.pub == nil {
			j.m.hub.SourceFailed(j.name, fmt.Errorf("transcoding failed: %w", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, j.m.cfg.RestartMax)
	}
}

// sourceTrack returns the source's track that this transcode reads.
func (j *job) sourceTrack(lease *stream.Lease) (*stream.Track, error) {
	kind := stream.Video
	if j.t.kind == stream.Audio {
		kind = stream.Audio
	}
	for _, t := range lease.Tracks() {
		if t.Kind() == kind {
			if _, ok := j.m.Name(j.source, t.Codec(), j.t.codec); !ok {
				return nil, fmt.Errorf("source %q sends %s, which is not transcoded to %s", j.source, t.Codec().MimeType, j.t.codec.MimeType)
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("source %q has no %s track now", j.source, kind)
}

// once runs FFmpeg until it ends, stalls, its source track ends or ctx
// ends. live reports whether it produced output.
func (j *job) once(ctx context.Context, lease *stream.Lease) (live bool, err error) {
	src, err := j.sourceTrack(lease)
	if err != nil {
		return false, err
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return false, fmt.Errorf("listen for FFmpeg's output: %w", err)
	}
	defer conn.Close()
	_ = conn.SetReadBuffer(socketBuffer)
	_ = conn.SetWriteBuffer(socketBuffer)
	outPort := conn.LocalAddr().(*net.UDPAddr).Port
	inPort, err := freeUDPPort()
	if err != nil {
		return false, err
	}

	pctx, stop := context.WithCancel(ctx)
	defer stop()
	out := fmt.Sprintf("rtp://127.0.0.1:%d?pkt_size=1200&rtcpport=%d", outPort, outPort)
	// The input is described by SDP, so FFmpeg probes only the first
	// frame. It starts from the source's cached keyframe and the frames
	// after it, sent at once (see feed): a socket buffer that holds such a
	// burst, and no "-fflags nobuffer", which would throw away the packets
	// read while probing, the keyframe among them, and leave FFmpeg
	// waiting for the source's next one (up to a GOP, 2 s for the demo
	// camera).
	args := []string{"-hide_banner", "-nostats", "-loglevel", "error",
		"-protocol_whitelist", "pipe,udp,rtp", "-flags", "low_delay",
		"-probesize", "32", "-analyzeduration", "0", "-reorder_queue_size", "0", "-buffer_size", strconv.Itoa(socketBuffer),
		"-f", "sdp", "-i", "pipe:0"}
	args = append(args, j.t.encoderArgs(j.m.cfg, out)...)
	cmd := exec.CommandContext(pctx, j.bin, args...)
	cmd.Stdin = strings.NewReader(inputSDP(src.Kind(), src.Codec(), inputPT, inPort))
	tail := &stderrTail{}
	cmd.Stderr = tail
	cmd.WaitDelay = 2 * time.Second
	dieWithParent(cmd)
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start FFmpeg: %w", err)
	}
	pid := cmd.Process.Pid
	j.log.Debug("FFmpeg started", "pid", pid, "took", time.Since(began))
	j.pid.Store(int64(pid))
	defer j.pid.Store(0)
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	var accounted time.Duration
	defer func() {
		stop()
		<-exited
		if ps := cmd.ProcessState; ps != nil {
			total := ps.UserTime() + ps.SystemTime()
			if total > accounted {
				j.m.cpuMicros.Add(uint64((total - accounted).Microseconds()))
			}
		}
		if err != nil && tail.String() != "" {
			err = fmt.Errorf("%w (FFmpeg said: %s)", err, tail.String())
		}
	}()

	if err := waitBound(inPort, exited, listenWithin); err != nil {
		return false, err
	}
	j.log.Debug("FFmpeg listening", "after", time.Since(began))
	j.fedTS0.Store(-1)
	j.wantKF.Store(false) // FFmpeg's first frame is a keyframe
	j.runLive = false
	j.runBegan = began
	j.runJumps, j.runShift = new(atomic.Int32), 0
	sink := &feed{conn: conn, to: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: inPort}, first: &j.fedTS0,
		mime: src.Codec().MimeType, log: j.log, began: began,
		want: &j.wantKF, jumps: j.runJumps, jump: j.jumpTicks(src.Codec().ClockRate)}
	sub := src.Subscribe(sink)
	defer sub.Close()

	got := make(chan struct{}, 1)
	readErr := make(chan error, 1)
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		readErr <- j.read(conn, got)
	}()
	defer func() {
		_ = conn.SetReadDeadline(time.Now())
		rwg.Wait()
	}()

	stall := time.NewTimer(stallAfter)
	defer stall.Stop()
	cpu := time.NewTicker(2 * time.Second)
	defer cpu.Stop()
	for {
		select {
		case <-ctx.Done():
			return live, ctx.Err()
		case <-exited:
			if waitErr == nil {
				waitErr = errors.New("FFmpeg exited")
			}
			return live, fmt.Errorf("FFmpeg ended: %w", waitErr)
		case <-sub.Done():
			return live, fmt.Errorf("source %q track ended", j.source)
		case err := <-readErr:
			return live, err
		case <-got:
			live = true
			stall.Reset(stallAfter)
			sink.fed.Store(0)
		case <-stall.C:
			if sink.fed.Swap(0) == 0 {
				// The source is silent (a camera redialled): FFmpeg has
				// nothing to encode, and a new one would not either.
				stall.Reset(stallAfter)
				continue
			}
			return live, fmt.Errorf("FFmpeg sent nothing for %s while fed", stallAfter)
		case <-cpu.C:
			if d, err := cpuOf(pid); err == nil && d > accounted {
				j.m.cpuMicros.Add(uint64((d - accounted).Microseconds()))
				accounted = d
			}
		}
	}
}

// read publishes FFmpeg's RTP output until the socket fails (closed, or
// its deadline set to end the run); got hears of packets (without
// blocking).
func (j *job) read(conn *net.UDPConn, got chan<- struct{}) error {
	buf := make([]byte, maxPacket)
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			return fmt.Errorf("read FFmpeg's output: %w", err)
		}
		if n < 12 || (buf[1] >= 192 && buf[1] <= 223) { // RTCP (RFC 5761 §4)
			continue
		}
		p := &rtp.Packet{}
		if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
			continue
		}
		if err := j.publish(p); err != nil {
			return err
		}
		select {
		case got <- struct{}{}:
		default:
		}
	}
}

// publish rewrites an output packet so that the transcode's track stays
// continuous across FFmpeg restarts, and writes it to the hub, publishing
// the transcode at its first packet.
func (j *job) publish(p *rtp.Packet) error {
	now := time.Now()
	if !j.runLive {
		j.runLive = true
		j.log.Debug("FFmpeg's first output", "after", now.Sub(j.runBegan), "keyframe", stream.KeyframeStart(j.t.codec.MimeType, p.Payload))
		j.runTS0, j.runPrev = p.Timestamp, p.Timestamp
		if j.sent {
			j.runBase = j.lastTS + uint32(now.Sub(j.lastAt).Seconds()*float64(j.t.codec.ClockRate))
		}
	}
	// A frame that comes most of a jump after the previous one while a
	// jump is on its way is the frame the feed moved on: the jump, not
	// time that passed, so it is taken out.
	if jump := j.jumpTicks(j.t.codec.ClockRate); jump > 0 && int32(p.Timestamp-j.runPrev) >= int32(jump-jump/4) && j.runJumps.Load() > 0 {
		j.runJumps.Add(-1)
		j.runShift += jump
		j.log.Debug("keyframe on request out of FFmpeg", "keyframe", stream.KeyframeStart(j.t.codec.MimeType, p.Payload))
	}
	j.runPrev = p.Timestamp
	p.Timestamp = j.runBase + (p.Timestamp - j.runTS0 - j.runShift)
	p.SequenceNumber = j.seq
	j.seq++
	p.Extension, p.Extensions = false, nil
	if j.pub == nil {
		info := stream.TrackInfo{Kind: j.t.kind, Codec: j.t.codec}
		if j.t.kind == stream.Video {
			info.RequestKeyframe = j.requestKeyframe
		}
		pub, err := j.m.hub.Publish(j.name, []stream.TrackInfo{info})
		if err != nil {
			return fmt.Errorf("publish %s: %w", j.name, err)
		}
		j.pub, j.out = pub, pub.Track(j.t.kind)
		j.log.Info("transcode live", "codec", j.t.codec.MimeType)
	}
	j.lastTS, j.lastAt, j.sent = p.Timestamp, now, true
	j.out.Write(p)
	return nil
}

// feed is the source subscription's sink: it sends each packet to
// FFmpeg's input port.
type feed struct {
	conn  *net.UDPConn
	to    *net.UDPAddr
	buf   [maxPacket + 100]byte
	hdr   rtp.Header
	first *atomic.Int64 // set to the first packet's timestamp
	fed   atomic.Uint64 // packets sent since the run last heard from FFmpeg
	// For the DEBUG timeline of a start: the source's codec, when FFmpeg
	// was started, and whether a packet and a keyframe start were fed.
	mime          string
	log           *slog.Logger
	began         time.Time
	fedAny, fedKF bool
	// Keyframe requests: want is taken at the next frame start, which
	// moves the timestamps fed on by jump (source clock units, 0: never)
	// for good, shift in all; jumps counts them for the output side.
	want   *atomic.Bool
	jumps  *atomic.Int32
	jump   uint32
	shift  uint32
	lastTS uint32
	haveTS bool
}

// WriteRTP implements stream.Sink.
func (f *feed) WriteRTP(p *rtp.Packet) error {
	if f.first.Load() < 0 {
		f.first.Store(int64(p.Timestamp))
	}
	if !f.fedKF && f.log != nil {
		key := stream.KeyframeStart(f.mime, p.Payload)
		if !f.fedAny || key {
			f.log.Debug("fed FFmpeg", "after", time.Since(f.began), "keyframe", key)
		}
		f.fedAny, f.fedKF = true, key || f.mime == "" || !strings.HasPrefix(f.mime, "video/")
	}
	if f.jump > 0 && (!f.haveTS || p.Timestamp != f.lastTS) {
		// A new frame: the place to ask for a keyframe.
		if f.haveTS && f.want.Swap(false) {
			f.shift += f.jump
			f.jumps.Add(1)
		}
		f.lastTS, f.haveTS = p.Timestamp, true
	}
	f.hdr = p.Header
	f.hdr.Timestamp += f.shift
	f.hdr.PayloadType = inputPT
	f.hdr.Extension, f.hdr.Extensions = false, nil
	n, err := f.hdr.MarshalTo(f.buf[:])
	if err != nil {
		return err
	}
	if n+len(p.Payload) > len(f.buf) {
		return errors.New("packet too large for FFmpeg's input")
	}
	n += copy(f.buf[n:], p.Payload)
	f.fed.Add(1)
	_, err = f.conn.WriteToUDP(f.buf[:n], f.to)
	return err
}
