package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Spread is the least, median, 90th and 99th percentiles and greatest of
// a per-viewer figure (percentiles by the nearest rank).
type Spread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
}

func spread(v []float64) Spread {
	if len(v) == 0 {
		return Spread{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	rank := func(p float64) float64 { // nearest rank: ceil(p*n)-th smallest
		return s[max(int(math.Ceil(p*float64(len(s))))-1, 0)]
	}
	return Spread{Min: s[0], Median: m, P90: rank(0.9), P99: rank(0.99), Max: s[len(s)-1]}
}

// ServerStats is what /proc says about the server process.
type ServerStats struct {
	PID int `json:"pid"`
	// CPUSeconds is utime+stime over the window (10 ms resolution).
	CPUSeconds float64 `json:"cpu_s"`
	// SysSeconds is the part of CPUSeconds spent in the kernel (stime):
	// the send and receive syscalls and the UDP stack.
	SysSeconds float64 `json:"sys_s"`
	// SysPerPacketUs is SysSeconds per packet received.
	SysPerPacketUs float64 `json:"sys_us_per_packet_received"`
	// CPUPercent is CPUSeconds over the window, in % of one core.
	CPUPercent float64 `json:"cpu_pct_of_core"`
	// CPUPerPacketUs is server CPU per packet the viewers received.
	CPUPerPacketUs float64 `json:"cpu_us_per_packet_received"`
	// CPUPerSentUs is server CPU per packet the server sent, estimated as
	// received plus lost.
	CPUPerSentUs float64 `json:"cpu_us_per_packet_sent"`
	// BaselinePercent is the server's CPU with the publisher alone, in %
	// of one core; NetCPUPerPacketUs is CPUPerPacketUs less that baseline
	// (what the fan-out itself costs per packet). With few viewers it is
	// within the 10 ms tick noise and may even come out negative.
	BaselinePercent   float64 `json:"baseline_cpu_pct_of_core"`
	NetCPUPerPacketUs float64 `json:"net_cpu_us_per_packet_received"`
	// RSSBeforeKB is with the publisher alone; RSSConnectedKB once every
	// viewer is connected (and settled); RSSEndKB at the window's end.
	RSSBeforeKB    int64 `json:"rss_before_kb"`
	RSSConnectedKB int64 `json:"rss_connected_kb"`
	RSSEndKB       int64 `json:"rss_end_kb"`
	// RSSPerViewerKB is (connected - before) / viewers connected;
	// RSSPerViewerEndKB the same with the end-of-window figure.
	RSSPerViewerKB    float64 `json:"rss_per_viewer_kb"`
	RSSPerViewerEndKB float64 `json:"rss_per_viewer_end_kb"`
}

// Report is the outcome of a run.
type Report struct {
	Server  string `json:"server"`
	Stream  string `json:"stream"`
	Viewers int    `json:"viewers"`
	// Connected viewers came up; Failed did not (see Errors); Dropped
	// came up but failed or closed before the window ended.
	Connected int `json:"viewers_connected"`
	Failed    int `json:"viewers_failed"`
	Dropped   int `json:"viewers_dropped"`
	// ConnectSeconds is from the first viewer's start to the last one up.
	ConnectSeconds float64 `json:"connect_s"`
	// FirstPacketMs and FirstKeyMs are per viewer, from its connection
	// coming up to its first packet and its first keyframe start.
	FirstPacketMs Spread `json:"first_packet_ms"`
	FirstKeyMs    Spread `json:"first_keyframe_ms"`
	// SetupMs is per viewer, from its start (before its offer is made and
	// posted) to its first packet: what a player waits.
	SetupMs Spread `json:"setup_to_first_packet_ms"`
	// AnswerMs is per viewer, from its start to the server's answer
	// applied (the offer made, posted and answered); ConnectMs from then
	// to its connection up (ICE and DTLS). With FirstPacketMs they add up
	// to SetupMs, and tell which part of a set-up is slow.
	AnswerMs  Spread `json:"answer_ms"`
	ConnectMs Spread `json:"connect_ms"`

	// SRTPProfile is what the first viewer's DTLS negotiated.
	SRTPProfile string `json:"srtp_profile"`

	// Codec is the published stream: "vp8", the synthetic VP8-shaped
	// stream, or "h264", real H.264 of VideoSize encoded by FFmpeg.
	Codec     string `json:"codec"`
	VideoSize string `json:"video_size,omitempty"`
	// BitrateBps is the bitrate asked for (-bitrate); EncodedBitrateBps
	// the RTP payload bitrate of the stream made from it (for H.264, what
	// the encoder delivered over the clip); PublishedBitrateBps the RTP
	// payload bitrate the publisher sent over the window.
	BitrateBps          int `json:"bitrate_bps"`
	EncodedBitrateBps   int `json:"encoded_bitrate_bps"`
	PublishedBitrateBps int `json:"published_bitrate_bps"`
	// PacketsPerFrame is the mean number of RTP packets in a frame.
	PacketsPerFrame float64 `json:"packets_per_frame"`
	WindowSeconds   float64 `json:"window_s"`
	// PublishedPackets were written by the publisher in the window.
	PublishedPackets uint64  `json:"published_packets"`
	PublishedPPS     float64 `json:"published_pps"`
	PublishErrors    uint64  `json:"publish_errors"`
	PublishStalls    uint64  `json:"publish_stalls"`
	KeyframeRequests uint64  `json:"keyframe_requests"`
	NACKs            uint64  `json:"nacks_to_publisher"`
	// Received is the packets all viewers read in the window, which is
	// the server's outgoing packet count; ReceivedPPS per second.
	Received    uint64  `json:"received_packets"`
	ReceivedPPS float64 `json:"received_pps"`
	PerViewer   Spread  `json:"received_per_viewer"`
	// FullViewers received every packet published in the window, give or
	// take half a percent in flight at its edges (a server that sheds
	// viewers under overload keeps some of them whole).
	FullViewers int `json:"viewers_full_delivery"`
	// KeyframesPerViewer is the keyframe starts each viewer received in
	// the window (VP8 frame tags, or H.264 IDR NAL units).
	KeyframesPerViewer Spread `json:"keyframes_per_viewer"`
	// Delivery is Received / (PublishedPackets × Connected), in %.
	Delivery float64 `json:"delivery_pct"`
	// Lost is the sequence gaps net of late arrivals; LossPercent is
	// Lost / (Received + Lost).
	Lost        uint64  `json:"lost_packets"`
	Late        uint64  `json:"late_packets"`
	LossPercent float64 `json:"loss_pct"`

	ServerStats *ServerStats `json:"server_proc,omitempty"`

	// LoadCPUPercent is this process's CPU over the window (% of one
	// core); MachineBusyPercent all cores' busy time (% of all cores).
	LoadCPUPercent     float64 `json:"load_cpu_pct_of_core"`
	MachineBusyPercent float64 `json:"machine_busy_pct"`
	Cores              int     `json:"cores"`
	// OtherCPUPercent is the machine's busy time less the server's and
	// this process's, in % of one core: other processes competing for
	// the cores (with ServerPID only; tick resolution, so roughly).
	OtherCPUPercent float64 `json:"other_cpu_pct_of_core,omitempty"`
	// ServerCPU and LoadCPU are the cores the server and this process
	// were pinned to (-server-cpu, -load-cpu), with the threads pinned;
	// absent when not pinned by the tool.
	ServerCPU     *int `json:"server_cpu,omitempty"`
	ServerThreads int  `json:"server_threads_pinned,omitempty"`
	LoadCPU       *int `json:"load_cpu,omitempty"`
	LoadThreads   int  `json:"load_threads_pinned,omitempty"`

	// UDP is the host's UDP counters over the window (both ends of a
	// loopback run, and whatever else runs): receive-buffer overflows
	// tell drops in the kernel from drops in the server.
	UDP UDPStats `json:"udp_host"`

	CleanupSeconds float64  `json:"cleanup_s"`
	CleanupErrors  int      `json:"cleanup_errors"`
	Errors         []string `json:"errors,omitempty"`
}

// UDPStats are deltas of the host's UDP counters over the window.
type UDPStats struct {
	OutPerSecond float64 `json:"out_datagrams_per_s"`
	InPerSecond  float64 `json:"in_datagrams_per_s"`
	RcvbufErrors int64   `json:"rcvbuf_errors"`
	SndbufErrors int64   `json:"sndbuf_errors"`
}

// Check says whether the run counts as a success: at least 90% of the
// viewers connected and packets arrived.
func (r *Report) Check() error {
	if r.Viewers > 0 && float64(r.Connected) < 0.9*float64(r.Viewers) {
		return fmt.Errorf("only %d of %d viewers connected", r.Connected, r.Viewers)
	}
	if r.Viewers > 0 && r.Received == 0 {
		return errors.New("no packets arrived at the viewers")
	}
	return nil
}

// maxErrors bounds the distinct errors kept in a report.
const maxErrors = 10

// errorTally keeps the distinct errors of a run with their counts.
type errorTally struct {
	mu    sync.Mutex
	order []string
	count map[string]int
}

func (t *errorTally) add(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.count == nil {
		t.count = map[string]int{}
	}
	s := err.Error()
	if t.count[s] == 0 {
		t.order = append(t.order, s)
	}
	t.count[s]++
}

func (t *errorTally) list() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for i, s := range t.order {
		if i == maxErrors {
			out = append(out, fmt.Sprintf("... and %d more distinct errors", len(t.order)-maxErrors))
			break
		}
		out = append(out, fmt.Sprintf("%dx %s", t.count[s], s))
	}
	return out
}
