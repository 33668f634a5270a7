package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/callbridge"
	"github.com/wishcast/wishcast/rtsp"
	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
	"github.com/wishcast/wishcast/transcode"
)

// Sources are the parts of the server read at scrape time; nil parts are
// left out.
type Sources struct {
	Sessions *session.Manager
	Hub      *stream.Hub
	Cameras  *rtsp.Puller
	Accounts *auth.Store
	Calls    *callbridge.Bridge
	// Transcodes are the FFmpeg transcodes.
	Transcodes *transcode.Manager
}

// Watch registers a collector that reads src at every scrape.
func (m *Metrics) Watch(src Sources) {
	m.reg.MustRegister(&stateCollector{src: src, deviceLabels: m.cfg.DeviceLabels, d: newDescs()})
	if src.Transcodes != nil {
		m.reg.MustRegister(newTranscodeCollector(src.Transcodes))
	}
}

// stateCollector turns the server's state into metrics when scraped.
type stateCollector struct {
	src          Sources
	deviceLabels bool
	d            descs
}

// descs are the descriptions of stateCollector's metrics.
type descs struct {
	sessionsActive *prometheus.Desc
	retransmits    *prometheus.Desc
	resendRefused  *prometheus.Desc
	udpDrops       *prometheus.Desc
	udpQueueDrops  *prometheus.Desc
	udpSendCalls   *prometheus.Desc
	udpSent        *prometheus.Desc
	udpShort       *prometheus.Desc
	udpSendErrors  *prometheus.Desc
	streamsLive    *prometheus.Desc
	streamViewers  *prometheus.Desc
	layerViewers   *prometheus.Desc
	packets        *prometheus.Desc
	bytes          *prometheus.Desc
	dropped        *prometheus.Desc
	stalls         *prometheus.Desc
	overloaded     *prometheus.Desc
	overRefused    *prometheus.Desc
	overBehind     *prometheus.Desc
	overShed       *prometheus.Desc
	kFSent         *prometheus.Desc
	kFCoalesced    *prometheus.Desc
	cacheJoins     *prometheus.Desc
	cameras        *prometheus.Desc
	cameraUp       *prometheus.Desc
	cameraViewers  *prometheus.Desc
	cameraRecon    *prometheus.Desc
	cameraRate     *prometheus.Desc
	cameraFirstKF  *prometheus.Desc
	signIns        *prometheus.Desc
	callsActive    *prometheus.Desc
	callsStarted   *prometheus.Desc
	callsEnded     *prometheus.Desc
	feeds          *prometheus.Desc
	online         *prometheus.Desc
}

func newDescs() descs {
	return descs{
		sessionsActive: prometheus.NewDesc("wishcast_sessions_active", "WebRTC sessions open now, by direction and state (pending: not connected yet).", []string{"direction", "state"}, nil),
		retransmits:    prometheus.NewDesc("wishcast_retransmitted_packets_total", "RTP packets sent to viewers again in answer to their NACKs.", nil, nil),
		resendRefused:  prometheus.NewDesc("wishcast_retransmissions_refused_total", "RTP packets viewers asked for again that the server held but did not send, their track's retransmission budget (NACK_SHARE of its bytes) being spent.", nil, nil),
		udpDrops:       prometheus.NewDesc("wishcast_ice_udp_receive_drops_total", "Datagrams the kernel dropped on the ICE UDP port's sockets because their receive buffers were full (all queues; Linux only).", nil, nil),
		udpQueueDrops:  prometheus.NewDesc("wishcast_ice_udp_receive_queue_drops_total", "Datagrams the kernel dropped on the ICE UDP port because a receive buffer was full, by queue: media (publishers' RTP) and control (STUN, DTLS, RTCP) where the kernel steers them apart, shared where the port is one socket (Linux only).", []string{"queue"}, nil),
		udpSendCalls:   prometheus.NewDesc("wishcast_ice_udp_send_batches_total", "sendmmsg calls on the ICE UDP socket: batches of the datagrams that the fan-out of one packet (or more) produced.", nil, nil),
		udpSent:        prometheus.NewDesc("wishcast_ice_udp_sent_datagrams_total", "Datagrams sent on the ICE UDP socket, by how: in a batch (batched) or on their own while no batch was open (direct).", []string{"how"}, nil),
		udpShort:       prometheus.NewDesc("wishcast_ice_udp_short_batches_total", "Batches the kernel took only part of (the rest was sent again or, if refused, counted as a send error).", nil, nil),
		udpSendErrors:  prometheus.NewDesc("wishcast_ice_udp_send_errors_total", "Datagrams the ICE UDP socket failed to send.", nil, nil),
		streamsLive:    prometheus.NewDesc("wishcast_streams_live", "Streams with a publisher now, by namespace.", []string{"namespace"}, nil),
		streamViewers:  prometheus.NewDesc("wishcast_stream_viewers_max", "Viewers (watching or waiting) of the most watched live stream now; wishcast_stream_peak_viewers has the distribution.", nil, nil),
		layerViewers:   prometheus.NewDesc("wishcast_simulcast_viewers", "Viewers of simulcast streams by the layer they get, ranked per stream (0: its best layer).", []string{"rank"}, nil),
		packets:        prometheus.NewDesc("wishcast_rtp_packets_total", "RTP packets received from publishers (in) and handed to viewers' senders (out).", []string{"direction"}, nil),
		bytes:          prometheus.NewDesc("wishcast_rtp_payload_bytes_total", "RTP payload bytes received from publishers (in) and handed to viewers' senders (out).", []string{"direction"}, nil),
		dropped:        prometheus.NewDesc("wishcast_fanout_dropped_packets_total", "Packets dropped by the fan-out because a viewer's queue was full (slow viewer).", nil, nil),
		stalls:         prometheus.NewDesc("wishcast_fanout_stalls_total", "Times a viewer's send held up its stream's fan-out for longer than FANOUT_STALL_TIMEOUT, and that viewer was given a queue of its own for a while.", nil, nil),
		overloaded:     prometheus.NewDesc("wishcast_fanout_overloaded", "1 while the fan-out is behind (a packet waited longer than FANOUT_OVERLOAD_LAG, lately) and new viewers are refused.", nil, nil),
		overRefused:    prometheus.NewDesc("wishcast_viewers_refused_overload_total", "Viewers refused with 503 because the fan-out was behind.", nil, nil),
		overBehind:     prometheus.NewDesc("wishcast_fanout_behind_packets_total", "Packets that waited longer than FANOUT_OVERLOAD_LAG for their stream's fan-out, or found its queue full.", nil, nil),
		overShed:       prometheus.NewDesc("wishcast_fanout_shed_packets_total", "Video packets not sent to the newest viewers of a stream whose fan-out could not keep up (they resume at a keyframe once it can).", nil, nil),
		kFSent:         prometheus.NewDesc("wishcast_keyframe_requests_sent_total", "Keyframe requests sent to publishers, after coalescing.", nil, nil),
		kFCoalesced:    prometheus.NewDesc("wishcast_keyframe_requests_coalesced_total", "Keyframe requests absorbed by an earlier one.", nil, nil),
		cacheJoins:     prometheus.NewDesc("wishcast_keyframe_cache_joins_total", "Viewers started from the server's keyframe cache, with no request to the publisher.", nil, nil),
		cameras:        prometheus.NewDesc("wishcast_cameras", "Cameras by state (idle, connecting, live, failed).", []string{"state"}, nil),
		cameraUp:       prometheus.NewDesc("wishcast_camera_up", "1 if the camera is live, 0 otherwise.", []string{"device", "state"}, nil),
		cameraViewers:  prometheus.NewDesc("wishcast_camera_viewers", "Viewers watching or waiting for the camera.", []string{"device"}, nil),
		cameraRecon:    prometheus.NewDesc("wishcast_camera_reconnects_total", "Times the camera's connection was lost or failed and was dialled again.", []string{"device"}, nil),
		cameraRate:     prometheus.NewDesc("wishcast_camera_inbound_bytes_per_second", "Bytes per second received from the camera (last few seconds).", []string{"device"}, nil),
		cameraFirstKF:  prometheus.NewDesc("wishcast_camera_first_keyframe_seconds", "Time from dialling the camera to its first video keyframe, for the latest connection.", []string{"device"}, nil),
		signIns:        prometheus.NewDesc("wishcast_signins_total", "Sign-in attempts by result (ok, bad_credentials, disabled, rate_limited, error).", []string{"result"}, nil),
		callsActive:    prometheus.NewDesc("wishcast_calls_active", "Calls now, by state (ringing, active).", []string{"state"}, nil),
		callsStarted:   prometheus.NewDesc("wishcast_calls_started_total", "Calls placed (refused ones included).", nil, nil),
		callsEnded:     prometheus.NewDesc("wishcast_calls_ended_total", "Calls ended, by reason (hangup, canceled, declined, timeout, busy, offline, dropped, server_shutdown).", []string{"reason"}, nil),
		feeds:          prometheus.NewDesc("wishcast_event_feeds", "Open server-sent event feeds (pages of the app).", nil, nil),
		online:         prometheus.NewDesc("wishcast_users_online", "Users with the app open.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.d.sessionsActive, c.d.retransmits, c.d.resendRefused, c.d.udpDrops, c.d.udpQueueDrops, c.d.udpSendCalls, c.d.udpSent, c.d.udpShort, c.d.udpSendErrors, c.d.streamsLive, c.d.streamViewers, c.d.layerViewers, c.d.packets, c.d.bytes,
		c.d.dropped, c.d.stalls, c.d.overloaded, c.d.overRefused, c.d.overBehind, c.d.overShed, c.d.kFSent, c.d.kFCoalesced, c.d.cacheJoins, c.d.cameras, c.d.cameraUp, c.d.cameraViewers,
		c.d.cameraRecon, c.d.cameraRate, c.d.cameraFirstKF, c.d.signIns, c.d.callsActive, c.d.callsStarted,
		c.d.callsEnded, c.d.feeds, c.d.online} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if m := c.src.Sessions; m != nil {
		n := map[[2]string]int{}
		for _, s := range m.Sessions() {
			state := "pending"
			if s.Connected() {
				state = "connected"
			}
			n[[2]string{direction(s.Protocol), state}]++
		}
		for _, d := range []string{"publish", "view"} {
			for _, st := range []string{"pending", "connected"} {
				gauge(c.d.sessionsActive, float64(n[[2]string{d, st}]), d, st)
			}
		}
		counter(c.d.retransmits, m.Retransmissions())
		counter(c.d.resendRefused, m.RetransmissionsRefused())
		byQueue := m.ReceiveDropsByQueue()
		var drops uint64
		for q, n := range byQueue {
			counter(c.d.udpQueueDrops, n, q)
			drops += n
		}
		counter(c.d.udpDrops, drops)
		ss := m.SendStats()
		counter(c.d.udpSendCalls, ss.Calls)
		counter(c.d.udpSent, ss.Batched, "batched")
		counter(c.d.udpSent, ss.Direct, "direct")
		counter(c.d.udpShort, ss.Short)
		counter(c.d.udpSendErrors, ss.Errors)
	}
	if h := c.src.Hub; h != nil {
		c.collectHub(h, gauge, counter)
	}
	if p := c.src.Cameras; p != nil {
		c.collectCameras(p, gauge, counter)
	}
	if a := c.src.Accounts; a != nil {
		s := a.SignIns()
		counter(c.d.signIns, s.OK, "ok")
		counter(c.d.signIns, s.BadCredentials, "bad_credentials")
		counter(c.d.signIns, s.Disabled, "disabled")
		counter(c.d.signIns, s.RateLimited, "rate_limited")
		counter(c.d.signIns, s.Error, "error")
	}
	if b := c.src.Calls; b != nil {
		s := b.Stats()
		gauge(c.d.callsActive, float64(s.Ringing), "ringing")
		gauge(c.d.callsActive, float64(s.Active), "active")
		counter(c.d.callsStarted, s.Started)
		for reason, n := range s.Ended {
			counter(c.d.callsEnded, n, reason)
		}
		gauge(c.d.feeds, float64(s.Feeds))
		gauge(c.d.online, float64(s.Online))
	}
}

func (c *stateCollector) collectHub(h *stream.Hub, gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, uint64, ...string)) {
	live := map[string]int{"users": 0, "calls": 0, "devices": 0, "live": 0}
	most := 0
	for _, st := range h.Live("") {
		live[namespace(st.Name)]++
		most = max(most, st.Viewers)
	}
	for rank, n := range h.LayerViewers() {
		gauge(c.d.layerViewers, float64(n), strconv.Itoa(rank))
	}
	for ns, n := range live {
		gauge(c.d.streamsLive, float64(n), ns)
	}
	gauge(c.d.streamViewers, float64(most))
	t := h.Totals()
	counter(c.d.packets, t.PacketsIn, "in")
	counter(c.d.packets, t.PacketsOut, "out")
	counter(c.d.bytes, t.BytesIn, "in")
	counter(c.d.bytes, t.BytesOut, "out")
	counter(c.d.dropped, t.Dropped)
	counter(c.d.stalls, h.FanoutStalls())
	ov := h.Overload()
	over := 0.0
	if ov.Overloaded {
		over = 1
	}
	gauge(c.d.overloaded, over)
	counter(c.d.overRefused, ov.Refused)
	counter(c.d.overBehind, ov.Behind)
	counter(c.d.overShed, ov.Shed)
	counter(c.d.kFSent, t.KeyframeRequestsSent)
	counter(c.d.kFCoalesced, t.KeyframeRequestsCoalesced)
	counter(c.d.cacheJoins, t.CacheJoins)
}

func (c *stateCollector) collectCameras(p *rtsp.Puller, gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, uint64, ...string)) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	list, _ := p.Status(ctx) // a store error still lists the volatile cameras
	states := map[string]int{rtsp.StateIdle: 0, rtsp.StateConnecting: 0, rtsp.StateLive: 0, rtsp.StateFailed: 0}
	for _, st := range list {
		states[st.State]++
		if !c.deviceLabels {
			continue
		}
		up := 0.0
		if st.State == rtsp.StateLive {
			up = 1
		}
		gauge(c.d.cameraUp, up, st.Name, st.State)
		gauge(c.d.cameraViewers, float64(st.Viewers), st.Name)
		counter(c.d.cameraRecon, uint64(st.Reconnects), st.Name)
		gauge(c.d.cameraRate, float64(st.BitrateBPS)/8, st.Name)
		if st.FirstKeyframe > 0 {
			gauge(c.d.cameraFirstKF, st.FirstKeyframe.Seconds(), st.Name)
		}
	}
	for s, n := range states {
		gauge(c.d.cameras, float64(n), s)
	}
}
