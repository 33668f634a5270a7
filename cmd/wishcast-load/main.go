// Command wishcast-load measures what fan-out costs a wishcast server.
//
// It publishes one video stream over WHIP, a keyframe every -gop frames at
// -fps: by default (-codec vp8) a synthetic VP8-shaped stream, each frame
// split into as many RTP packets of -packet payload bytes as -bitrate
// needs; with -codec h264 real H.264 of -size (1280x720) at -bitrate,
// encoded once at start by FFmpeg (libx264 from lavfi's testsrc2) into a
// clip of about four seconds, packetized by pion's H.264 payloader into
// payloads of at most -packet bytes and repeated with timestamps and
// sequence numbers running on. Keyframe requests from the server are
// counted, not answered. It then connects -viewers WHEP viewers
// (video only, recvonly) at -ramp per second, waits until they are up,
// then counts for -duration the packets every viewer receives and the
// gaps in their sequence numbers. With -server-pid it also reads the
// server's CPU time (utime+stime from /proc/PID/stat, in clock ticks taken
// as 100 per second, the value of sysconf(_SC_CLK_TCK) on Linux) and its
// RSS (/proc/PID/status) with the publisher alone and with every viewer
// connected, and reports server CPU per outgoing packet and memory per
// viewer. At the end every session is DELETEd.
//
// The viewers are meant to cost the load process little: one shared pion
// API with only the one codec and no interceptors, one reused read buffer
// per viewer, and only the RTP sequence number and the payload's first
// bytes (keyframe starts) parsed.
//
// On Linux, -load-cpu N pins this process to core N before it starts,
// and -server-cpu N (with -server-pid) pins every thread of the server
// to core N, with sched_setaffinity, as taskset -a -p would.
//
// Usage:
//
//	wishcast-load [-server URL] [-stream NAME] [-viewers N] [-bitrate BPS]
//	    [-codec vp8|h264] [-size WxH] [-packet BYTES] [-fps N] [-gop FRAMES]
//	    [-duration D] [-ramp N/s] [-server-pid PID] [-server-cpu N]
//	    [-load-cpu N] [-srtp P] [-baseline D] [-settle D] [-json] [-q]
//
// It exits with status 1 when fewer than 90% of the viewers connected or
// no packet arrived, 2 on bad flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its arguments and streams, returning the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("wishcast-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Server, "server", cfg.Server, "base URL of the wishcast server")
	fs.StringVar(&cfg.Token, "token", cfg.Token, "Bearer token (an admin's session token) for every request")
	fs.StringVar(&cfg.User, "user", "admin", "user to sign in as when -password is given")
	fs.StringVar(&cfg.Password, "password", "", "password to sign in with (instead of -token)")
	fs.StringVar(&cfg.Stream, "stream", cfg.Stream, "stream name to publish and view")
	fs.IntVar(&cfg.Viewers, "viewers", cfg.Viewers, "WHEP viewers to connect")
	fs.IntVar(&cfg.Bitrate, "bitrate", cfg.Bitrate, "video payload bitrate, bits/s")
	fs.IntVar(&cfg.Packet, "packet", cfg.Packet, "RTP payload bytes per packet (the last of a frame carries the rest)")
	fs.IntVar(&cfg.FPS, "fps", cfg.FPS, "frames per second")
	fs.IntVar(&cfg.GOP, "gop", cfg.GOP, "frames from one keyframe to the next")
	fs.StringVar(&cfg.Codec, "codec", cfg.Codec, "stream to publish: vp8 (synthetic VP8-shaped packets) or h264 (real H.264 encoded by FFmpeg)")
	size := fs.String("size", fmt.Sprintf("%dx%d", cfg.Width, cfg.Height), "picture size of the H.264 stream, WxH")
	fs.StringVar(&cfg.FFmpeg, "ffmpeg", cfg.FFmpeg, "ffmpeg executable for -codec h264")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measurement window, once every viewer is connected")
	fs.Float64Var(&cfg.Ramp, "ramp", cfg.Ramp, "viewers started per second")
	fs.StringVar(&cfg.SRTP, "srtp", "", "the one SRTP profile to offer: gcm256, gcm128 or cm128 (default: pion's list, GCM-256 first)")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "server process id, to read its CPU time and RSS from /proc (optional)")
	fs.IntVar(&cfg.ServerCPU, "server-cpu", cfg.ServerCPU, "with -server-pid: pin every thread of the server to this core (Linux; -1: leave it)")
	fs.IntVar(&cfg.LoadCPU, "load-cpu", cfg.LoadCPU, "pin this process to this core before starting (Linux; -1: leave it)")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "pause after connecting, before sampling memory and measuring")
	fs.DurationVar(&cfg.Baseline, "baseline", cfg.Baseline, "with -server-pid: how long to measure the server's CPU with the publisher alone")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "time allowed for each connection")
	fs.DurationVar(&cfg.CleanupTimeout, "cleanup-timeout", cfg.CleanupTimeout, "time allowed for the DELETEs at the end")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if _, err := fmt.Sscanf(*size, "%dx%d", &cfg.Width, &cfg.Height); err != nil {
		fmt.Fprintf(stderr, "wishcast-load: -size %q: want WxH\n", *size)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wishcast-load: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(stderr, "wishcast-load:", err)
		return 2
	}
	if !*quiet {
		cfg.Log = stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg)
	switch {
	case rep == nil:
	case err != nil && rep.WindowSeconds == 0:
		// Nothing was measured; the errors are all there is to tell.
		for _, e := range rep.Errors {
			fmt.Fprintln(stderr, "wishcast-load:", e)
		}
	default:
		if *asJSON {
			enc := json.NewEncoder(stdout)
			if e := enc.Encode(rep); e != nil {
				fmt.Fprintln(stderr, "wishcast-load:", e)
			}
		} else {
			printTable(stdout, rep)
		}
	}
	if err == nil {
		err = rep.Check()
	}
	if err != nil {
		fmt.Fprintln(stderr, "wishcast-load:", err)
		return 1
	}
	return 0
}

// printTable writes the report for people.
func printTable(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("viewers", "%d connected, %d failed, %d dropped (of %d); all up in %.2fs", r.Connected, r.Failed, r.Dropped, r.Viewers, r.ConnectSeconds)
	row("SRTP", "%s", r.SRTPProfile)
	row("set-up to first packet", "median %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms (from each viewer's start)", r.SetupMs.Median, r.SetupMs.P90, r.SetupMs.P99, r.SetupMs.Max)
	row("  of which answer", "median %.0f ms, p90 %.0f ms, p99 %.0f ms (offer made, posted, answered)", r.AnswerMs.Median, r.AnswerMs.P90, r.AnswerMs.P99)
	row("  of which connect", "median %.0f ms, p90 %.0f ms, p99 %.0f ms (ICE and DTLS after the answer)", r.ConnectMs.Median, r.ConnectMs.P90, r.ConnectMs.P99)
	row("first packet / keyframe", "median %.0f / %.0f ms, p99 %.0f / %.0f ms, max %.0f / %.0f ms after connection up", r.FirstPacketMs.Median, r.FirstKeyMs.Median, r.FirstPacketMs.P99, r.FirstKeyMs.P99, r.FirstPacketMs.Max, r.FirstKeyMs.Max)
	row("stream", "%s %s, %.2f Mbit/s asked, %.2f Mbit/s encoded", r.Codec, r.VideoSize, float64(r.BitrateBps)/1e6, float64(r.EncodedBitrateBps)/1e6)
	row("published", "%.2f Mbit/s, %.1f packets/frame, %.0f packets/s over %.1fs; %d stalls, %d errors", float64(r.PublishedBitrateBps)/1e6, r.PacketsPerFrame, r.PublishedPPS, r.WindowSeconds, r.PublishStalls, r.PublishErrors)
	row("outgoing (received)", "%.0f packets/s, %d packets, delivery %.2f%%", r.ReceivedPPS, r.Received, r.Delivery)
	row("per viewer", "min %.0f  median %.0f  max %.0f packets; keyframes min %.0f  max %.0f", r.PerViewer.Min, r.PerViewer.Median, r.PerViewer.Max, r.KeyframesPerViewer.Min, r.KeyframesPerViewer.Max)
	row("loss", "%.3f%% (%d lost, %d late)", r.LossPercent, r.Lost, r.Late)
	row("keyframe requests / NACKs", "%d / %d (to the publisher, whole run)", r.KeyframeRequests, r.NACKs)
	if s := r.ServerStats; s != nil {
		row("server CPU", "%.2fs = %.1f%% of a core (%.1f%% with the publisher alone); %.2fs in the kernel", s.CPUSeconds, s.CPUPercent, s.BaselinePercent, s.SysSeconds)
		row("server CPU per packet", "%.2f µs received, %.2f µs sent, %.2f µs net of the publisher-alone baseline; %.2f µs of it in the kernel", s.CPUPerPacketUs, s.CPUPerSentUs, s.NetCPUPerPacketUs, s.SysPerPacketUs)
		row("server RSS", "%d KB alone, %d KB connected, %d KB at end", s.RSSBeforeKB, s.RSSConnectedKB, s.RSSEndKB)
		row("server RSS per viewer", "%.0f KB connected, %.0f KB at end", s.RSSPerViewerKB, s.RSSPerViewerEndKB)
	}
	row("load process CPU", "%.1f%% of a core; machine busy %.1f%% of %d cores", r.LoadCPUPercent, r.MachineBusyPercent, r.Cores)
	if r.ServerCPU != nil {
		row("server pinned", "CPU %d (%d threads)", *r.ServerCPU, r.ServerThreads)
	}
	if r.LoadCPU != nil {
		row("load process pinned", "CPU %d (%d threads)", *r.LoadCPU, r.LoadThreads)
	}
	if r.ServerStats != nil {
		row("other processes", "%.0f%% of a core", r.OtherCPUPercent)
	}
	row("host UDP", "%.0f datagrams/s out, %.0f in; %d receive-buffer and %d send-buffer overflows", r.UDP.OutPerSecond, r.UDP.InPerSecond, r.UDP.RcvbufErrors, r.UDP.SndbufErrors)
	row("cleanup", "%.1fs, %d errors", r.CleanupSeconds, r.CleanupErrors)
	for _, e := range r.Errors {
		row("error", "%s", e)
	}
	_ = tw.Flush()
}
