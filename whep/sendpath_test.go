package whep

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// BenchmarkSendPath measures the whole path of one published packet to n
// viewers, as the server runs it once the viewers are connected: the hub's
// fan-out, each subscription's rewrite, the viewer's sendTrack, the
// viewer's interceptor chain (session.ViewerInterceptors: retransmission history,
// RTCP reports), real SRTP (AES-GCM-128) and a real UDP socket on
// loopback, batched as the server's ICE socket is (session.SendBatcher)
// and written with WriteToUDPAddrPort as pion's ICE mux does. What it
// leaves out is pion's DTLS/ICE plumbing between SRTP and the socket.
//
// ns/op and allocs/op are per published packet; allocs/sent is per packet
// per viewer, and cpu-ns/sent the process's CPU time (user and system)
// per packet per viewer.
func BenchmarkSendPath(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) { benchSendPath(b, n) })
	}
}

func benchSendPath(b *testing.B, viewers int) {
	// The viewers' socket is never read: its buffer stays full and the
	// kernel drops what reaches it, so the process's CPU time is the
	// sender's alone (a reader here would share the core and be counted,
	// more or less of it as the sender leaves it time to run).
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	_ = rx.SetReadBuffer(4096)
	defer func() { _ = rx.Close() }()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	batcher := session.NewSendBatcher()
	tx := batcher.Wrap(udp)
	defer func() { _ = tx.Close() }()

	queue := min(b.N+1, 1<<20)
	hub := stream.NewHub(stream.Config{SubscriberQueue: queue, KeyframeRequestInterval: time.Hour}, nil)
	defer hub.Close()
	hub.SetBatcher(batcher)
	pub, err := hub.Publish("bench/send", []stream.TrackInfo{{Kind: stream.Video, Codec: stream.Codec{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}}})
	if err != nil {
		b.Fatal(err)
	}
	track := pub.Track(stream.Video)

	_, ir, err := session.ViewerInterceptors(session.Config{}, nil, new(session.RetransmitCounts))
	if err != nil {
		b.Fatal(err)
	}
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	vs := make([]*benchViewer, viewers)
	for i := range vs {
		v, err := newBenchViewer(ir, tx, to, uint32(1000+i))
		if err != nil {
			b.Fatal(err)
		}
		defer v.close()
		vs[i] = v
	}

	key, inter := vp8Frame(true, 0), vp8Frame(false, 0)
	key, inter = append(key, make([]byte, 1000)...), append(inter, make([]byte, 1000)...)
	pkts := make([]rtp.Packet, b.N)
	for i := range pkts {
		p := &pkts[i]
		p.Version, p.PayloadType, p.SSRC = 2, 96, 1
		p.SequenceNumber = uint16(i)
		p.Timestamp = uint32(i/5) * 3000
		p.Marker = i%5 == 4
		p.Payload = inter
		if i == 0 {
			p.Payload = key
		}
	}
	for _, v := range vs {
		v.sub = track.Subscribe(v.local)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()

	b.ReportAllocs()
	b.ResetTimer()
	for i := range pkts {
		track.Write(&pkts[i])
	}
	var sent uint64
	for _, v := range vs {
		for {
			st := v.sub.Stats()
			if st.Sent+st.Errors+st.Dropped+st.Skipped >= uint64(b.N) {
				if st.Errors > 0 || st.Dropped > 0 {
					b.Fatalf("viewer: %d send errors, %d queue drops", st.Errors, st.Dropped)
				}
				sent += st.Sent
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&after)
	if sent > 0 {
		st := batcher.Stats()
		b.ReportMetric(float64(st.Calls+st.Direct)/float64(sent), "syscalls/sent")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(sent), "cpu-ns/sent")
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(sent), "allocs/sent")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(sent), "B/sent")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sent), "ns/sent")
	}
	for _, v := range vs {
		v.sub.Close()
	}
}

// benchViewer is one viewer's send side, bound as a peer connection binds
// it, without the peer connection.
type benchViewer struct {
	local *sendTrack
	sub   *stream.Subscription
	chain interceptor.Interceptor
	srtp  *srtp.SessionSRTP
	conn  *udpTo
}

func newBenchViewer(ir *interceptor.Registry, tx addrPortWriter, to netip.AddrPort, ssrc uint32) (*benchViewer, error) {
	conn := &udpTo{pc: tx, to: to, closed: make(chan struct{})}
	profile := srtp.ProtectionProfileAeadAes128Gcm
	keyLen, _ := profile.KeyLen()
	saltLen, _ := profile.SaltLen()
	secret := make([]byte, 2*(keyLen+saltLen))
	_, _ = rand.Read(secret)
	sess, err := srtp.NewSessionSRTP(conn, &srtp.Config{Profile: profile, LoggerFactory: session.NewLoggerFactory(nil), Keys: srtp.SessionKeys{
		LocalMasterKey: secret[:keyLen], LocalMasterSalt: secret[keyLen : keyLen+saltLen],
		RemoteMasterKey: secret[keyLen+saltLen : 2*keyLen+saltLen], RemoteMasterSalt: secret[2*keyLen+saltLen:],
	}})
	if err != nil {
		return nil, err
	}
	ws, err := sess.OpenWriteStream()
	if err != nil {
		return nil, err
	}
	chain, err := ir.Build(fmt.Sprint(ssrc))
	if err != nil {
		return nil, err
	}
	chain.BindRTCPWriter(interceptor.RTCPWriterFunc(func([]rtcp.Packet, interceptor.Attributes) (int, error) { return 0, nil }))
	info := &interceptor.StreamInfo{
		ID: fmt.Sprint(ssrc), SSRC: ssrc, PayloadType: 96, ClockRate: 90000, MimeType: webrtc.MimeTypeVP8,
		RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: "transport-cc"}},
	}
	w := chain.BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
		return ws.WriteRTP(h, payload)
	}))
	local, err := newSendTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "bench")
	if err != nil {
		return nil, err
	}
	ctx := &benchContext{ssrc: ssrc, w: w}
	if _, err := local.Bind(ctx); err != nil {
		return nil, err
	}
	return &benchViewer{local: local, chain: chain, srtp: sess, conn: conn}, nil
}

func (v *benchViewer) close() {
	_ = v.chain.Close()
	_ = v.srtp.Close()
}

// benchContext is the webrtc.TrackLocalContext of a benchViewer.
type benchContext struct {
	ssrc uint32
	w    interceptor.RTPWriter
}

func (c *benchContext) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}}
}
func (c *benchContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (c *benchContext) SSRC() webrtc.SSRC                                      { return webrtc.SSRC(c.ssrc) }
func (c *benchContext) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c *benchContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c *benchContext) WriteStream() webrtc.TrackLocalWriter                   { return c }
func (c *benchContext) ID() string                                             { return fmt.Sprint(c.ssrc) }
func (c *benchContext) RTCPReader() interceptor.RTCPReader                     { return nil }

// WriteRTP implements webrtc.TrackLocalWriter: into the interceptor chain,
// as pion's RTPSender does.
func (c *benchContext) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	return c.w.Write(h, payload, nil)
}

func (c *benchContext) Write([]byte) (int, error) { return 0, errors.New("not used") }

// addrPortWriter is a UDP socket as pion's ICE mux writes to it.
type addrPortWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	LocalAddr() net.Addr
}

// udpTo is the net.Conn SRTP writes to: one shared UDP socket sending to
// one address, as ICE's UDP mux does. Reads block until Close.
type udpTo struct {
	pc     addrPortWriter
	to     netip.AddrPort
	once   sync.Once
	closed chan struct{}
}

func (c *udpTo) Write(b []byte) (int, error) { return c.pc.WriteToUDPAddrPort(b, c.to) }
func (c *udpTo) Read([]byte) (int, error) {
	<-c.closed
	return 0, net.ErrClosed
}
func (c *udpTo) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}
func (c *udpTo) LocalAddr() net.Addr              { return c.pc.LocalAddr() }
func (c *udpTo) RemoteAddr() net.Addr             { return net.UDPAddrFromAddrPort(c.to) }
func (c *udpTo) SetDeadline(time.Time) error      { return nil }
func (c *udpTo) SetReadDeadline(time.Time) error  { return nil }
func (c *udpTo) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkViewerMemory reports the heap a viewer's send side holds once
// its retransmission history is full (512 packets sent, shared payloads),
// apart from the payloads: B/viewer, over 100 viewers.
func BenchmarkViewerMemory(b *testing.B) {
	const viewers, packets = 100, 512
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tx.Close() }()
	to := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 9) // discard
	_, ir, err := session.ViewerInterceptors(session.Config{}, nil, new(session.RetransmitCounts))
	if err != nil {
		b.Fatal(err)
	}
	pkts := make([]rtp.Packet, packets)
	for i := range pkts {
		pkts[i] = rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i), Timestamp: uint32(i/5) * 3000, Marker: i%5 == 4},
			Payload: append(vp8Frame(false, i), make([]byte, 1000)...)}
	}
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		vs := make([]*benchViewer, viewers)
		for i := range vs {
			v, err := newBenchViewer(ir, tx, to, uint32(1000+i))
			if err != nil {
				b.Fatal(err)
			}
			vs[i] = v
			for j := range pkts {
				if err := v.local.WriteRTP(&pkts[j]); err != nil {
					b.Fatal(err)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/viewers, "B/viewer")
		for _, v := range vs {
			v.close()
		}
		runtime.KeepAlive(pkts)
	}
}
