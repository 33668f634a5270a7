package rtsp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtp"
)

var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1f, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00}
	testPPS = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
)

// cameraPackets packetizes access units the way a camera would, with a
// large payload size so repacketizing has work to do.
func cameraPackets(t testing.TB, aus [][][]byte, ts0 uint32) []*rtp.Packet {
	t.Helper()
	enc := &rtph264.Encoder{PayloadType: 96, PayloadMaxSize: 1400, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	var out []*rtp.Packet
	for i, au := range aus {
		pkts, err := enc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = ts0 + uint32(i)*3600
		}
		out = append(out, pkts...)
	}
	return out
}

func idr(size int) []byte {
	b := bytes.Repeat([]byte{0xaa}, size)
	b[0] = 0x65
	return b
}

func nonIDR(size int) []byte {
	b := bytes.Repeat([]byte{0xbb}, size)
	b[0] = 0x41
	return b
}

// Parameter sets known only from the SDP are put in-band before each IDR,
// AUDs are dropped, and no payload exceeds 1200 bytes.
func TestH264RepacketizeInjectsParameterSets(t *testing.T) {
	r, err := newH264Repacketizer(&format.H264{PayloadTyp: 96, SPS: testSPS, PPS: testPPS, PacketizationMode: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.profile != "42c01f" {
		t.Fatalf("profile %q", r.profile)
	}
	aud := []byte{0x09, 0xf0}
	in := cameraPackets(t, [][][]byte{{aud, idr(5000)}, {aud, nonIDR(800)}, {aud, idr(3000)}}, 1000)
	var out []*rtp.Packet
	keys := 0
	for _, p := range in {
		pkts, key := r.packet(p)
		if key {
			keys++
		}
		out = append(out, pkts...)
	}
	// The last unit completes on its marker bit.
	if keys != 2 {
		t.Fatalf("%d keyframes, want 2", keys)
	}
	dec := &rtph264.Decoder{PacketizationMode: 1}
	if err := dec.Init(); err != nil {
		t.Fatal(err)
	}
	var units [][][]byte
	for _, p := range out {
		if len(p.Payload) > webrtcPayloadMax {
			t.Fatalf("payload %d bytes > %d", len(p.Payload), webrtcPayloadMax)
		}
		au, err := dec.Decode(p)
		if err == nil {
			units = append(units, au)
		}
	}
	if len(units) != 3 {
		t.Fatalf("%d access units out, want 3", len(units))
	}
	for i, au := range units {
		types := []byte{}
		for _, n := range au {
			types = append(types, n[0]&0x1f)
		}
		want := []byte{1}
		if i != 1 {
			want = []byte{7, 8, 5}
		}
		if !bytes.Equal(types, want) {
			t.Errorf("unit %d NAL types %v, want %v", i, types, want)
		}
	}
	if out[0].Timestamp != 1000 || out[len(out)-1].Timestamp != 1000+2*3600 {
		t.Fatalf("timestamps %d..%d", out[0].Timestamp, out[len(out)-1].Timestamp)
	}
}

// Without sprop parameter sets nothing is sent until an in-band SPS, and
// the profile comes from it.
func TestH264WaitsForSPS(t *testing.T) {
	r, err := newH264Repacketizer(&format.H264{PayloadTyp: 96, PacketizationMode: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := cameraPackets(t, [][][]byte{{nonIDR(100)}, {testSPS, testPPS, idr(100)}, {nonIDR(100)}}, 0)
	sent := 0
	for _, p := range in {
		pkts, _ := r.packet(p)
		sent += len(pkts)
	}
	if r.profile != "42c01f" || sent == 0 {
		t.Fatalf("profile %q, %d packets", r.profile, sent)
	}
}

// A unit whose timestamp goes back in time marks B-frames.
func TestH264DetectsBFrames(t *testing.T) {
	r, _ := newH264Repacketizer(&format.H264{PayloadTyp: 96, SPS: testSPS, PPS: testPPS, PacketizationMode: 1})
	r.accessUnit([][]byte{idr(10)}, 9000)
	r.accessUnit([][]byte{nonIDR(10)}, 18000)
	if r.bframes {
		t.Fatal("B-frames reported for increasing timestamps")
	}
	r.accessUnit([][]byte{nonIDR(10)}, 12000)
	if !r.bframes {
		t.Fatal("B-frames not reported")
	}
}

func FuzzH264Repacketizer(f *testing.F) {
	for _, p := range cameraPackets(f, [][][]byte{{testSPS, testPPS, idr(3000)}, {nonIDR(200)}}, 0) {
		b, _ := p.Marshal()
		f.Add(b)
	}
	f.Add([]byte{0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x7c, 0x05})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := newH264Repacketizer(&format.H264{PayloadTyp: 96, SPS: testSPS, PPS: testPPS, PacketizationMode: 1})
		if err != nil {
			t.Fatal(err)
		}
		var p rtp.Packet
		if p.Unmarshal(b) != nil {
			return
		}
		for range 3 { // the same packet again: continuations, repeats
			pkts, _ := r.packet(&p)
			for _, q := range pkts {
				if len(q.Payload) > webrtcPayloadMax {
					t.Fatalf("payload %d bytes", len(q.Payload))
				}
			}
			p.SequenceNumber++
		}
	})
}

func TestDeviceValidate(t *testing.T) {
	good := []string{"lobby=rtsp://10.0.0.5/stream", "cam-2=rtsps://user:pw@cam.local:322/x#tcp#always-on"}
	for _, s := range good {
		if _, err := ParseDevice(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{"x=http://10.0.0.5/", "x=file:///etc/passwd", "x=exec:ls", "../x=rtsp://a/", "a/b=rtsp://a/", "x=rtsp:///nohost", "x=rtsp://a/#sctp", "noequals"}
	for _, s := range bad {
		if _, err := ParseDevice(s); !errors.Is(err, ErrInvalidDevice) {
			t.Errorf("%s: %v, want ErrInvalidDevice", s, err)
		}
	}
}

// Credentials never appear in redacted forms.
func TestDeviceRedaction(t *testing.T) {
	d, err := ParseDevice("c=rtsp://admin:s3cret@10.1.1.1/live")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(d.RedactedURL(), "s3cret") {
		t.Fatal(d.RedactedURL())
	}
	if got := d.redact("dial rtsp://admin:s3cret@10.1.1.1/live: refused (s3cret)"); strings.Contains(got, "s3cret") {
		t.Fatal(got)
	}
}

func TestCatalogStoredAndVolatile(t *testing.T) {
	ctx := t.Context()
	c := NewCatalog(nil)
	d, _ := ParseDevice("door=rtsp://u:p@10.0.0.9/s#udp")
	if err := c.Add(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := c.SetVolatile(Device{Name: "demo", URL: "rtsp://127.0.0.1:8554/demo"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(ctx, Device{Name: "bad", URL: "http://10.0.0.9/"}); !errors.Is(err, ErrInvalidDevice) {
		t.Fatalf("http URL: %v", err)
	}
	if got, err := c.Get(ctx, "door"); err != nil || got.Transport != TransportUDP {
		t.Fatalf("door: %+v %v", got, err)
	}
	if demo, err := c.Get(ctx, "demo"); err != nil || demo.Stored {
		t.Fatalf("demo %+v err=%v", demo, err)
	}
	if door, _ := c.Get(ctx, "door"); !door.Stored {
		t.Fatal("a device added to the store does not say so")
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "demo" || list[1].Name != "door" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := c.Remove(ctx, "demo"); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("removing a volatile device: %v", err)
	}
	if err := c.Remove(ctx, "door"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "door"); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("after remove: %v", err)
	}
}

// The dial guard refuses link-local and unlisted networks, redirects that
// would carry credentials to another host, and redirect loops.
func TestDialGuard(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	loop := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	g := &guard{host: "127.0.0.1", hasCreds: true, allowed: loop}
	ctx := context.Background()
	c, err := g.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("allowed dial: %v", err)
	}
	c.Close()
	if _, err := g.DialContext(ctx, "tcp", "127.0.0.2:554"); !errors.Is(err, errRedirect) {
		t.Fatalf("credentials to another host: %v", err)
	}
	for range maxDials {
		_, err = g.DialContext(ctx, "tcp", ln.Addr().String())
	}
	if !errors.Is(err, errRedirect) {
		t.Fatalf("dial %d: %v, want a refusal", maxDials+2, err)
	}
	open := &guard{host: "169.254.169.254", allowed: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}
	if _, err := open.DialContext(ctx, "tcp", "169.254.169.254:80"); err == nil || !strings.Contains(err.Error(), "outside the allowed networks") {
		t.Fatalf("metadata address: %v", err)
	}
	// Metadata services inside the default camera networks are refused too.
	def := &guard{allowed: mustNetworks(t, Config{}.withDefaults().AllowedNetworks)}
	for _, a := range []string{"fd00:ec2::254", "100.100.100.200", "169.254.169.254"} {
		if def.permitted(netip.MustParseAddr(a)) {
			t.Errorf("%s is permitted by the default networks", a)
		}
	}
	if !def.permitted(netip.MustParseAddr("100.100.100.201")) || !def.permitted(netip.MustParseAddr("fd00::1")) {
		t.Error("ordinary CGNAT and ULA camera addresses are refused")
	}
	lan := &guard{host: "127.0.0.1", allowed: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	if _, err := lan.DialContext(ctx, "tcp", ln.Addr().String()); err == nil {
		t.Fatal("dial outside the allowed networks succeeded")
	}
}

// mustNetworks parses allowed networks for a test.
func mustNetworks(t *testing.T, list []string) []netip.Prefix {
	t.Helper()
	p, err := parseNetworks(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
