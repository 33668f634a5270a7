package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenTestPort opens an ICE UDP port on ip as the server does, with a
// receive buffer of rcvbuf bytes on each socket, steered or not.
func listenTestPort(t testing.TB, ip net.IP, rcvbuf int, steer bool) (*udpSockets, *BatchConn) {
	t.Helper()
	u, err := newUDPSockets(rcvbuf, nil)
	if err != nil {
		t.Fatal(err)
	}
	u.steer = steer
	c, err := u.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Skipf("no loopback %s: %v", ip, err)
	}
	bc := c.(*BatchConn)
	t.Cleanup(func() { _ = bc.Close() })
	if steer && bc.rx == nil {
		t.Fatal("the port is one socket: the kernel refused steering")
	}
	return u, bc
}

// lowPortClient is a UDP socket on ip whose port is below 32768, so that
// the first byte of its UDP header (the source port's high byte) reads as
// anything but RTP: a datagram of it that the steering program takes for
// RTP was judged by its payload.
func lowPortClient(t *testing.T, ip net.IP, to net.Addr) *net.UDPConn {
	t.Helper()
	for p := 20000 + os.Getpid()%5000; p < 32000; p += 7 {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: ip, Port: p}, to.(*net.UDPAddr))
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
	}
	t.Fatal("no free port below 32768")
	return nil
}

// TestSteering: the kernel puts RTP on the media socket and everything
// else (RTCP, STUN, DTLS, TURN channel data, odd or short datagrams) on
// the control socket, judging the UDP payload.
func TestSteering(t *testing.T) {
	cases := []struct {
		name  string
		data  []byte
		media bool
	}{
		{"RTP PT 96", []byte{0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, true},
		{"RTP marker PT 96", []byte{0x80, 0x80 | 96, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1}, true},
		{"RTP marker PT 127", []byte{0x80, 0xFF, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1}, true},
		{"RTP PT 0 (PCMU)", []byte{0x80, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1}, true},
		{"RTP marker PT 63", []byte{0x80, 0x80 | 63, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1}, true},
		{"RTP padding, extension, CSRCs", []byte{0xBF, 111, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1}, true},
		{"RTCP 192 (FIR, RFC 2032)", []byte{0x80, 192, 0, 1}, false},
		{"RTCP SR", []byte{0x80, 200, 0, 6}, false},
		{"RTCP RR", []byte{0x81, 201, 0, 7}, false},
		{"RTCP SDES", []byte{0x81, 202, 0, 2}, false},
		{"RTCP BYE", []byte{0x81, 203, 0, 1}, false},
		{"RTCP APP", []byte{0x80, 204, 0, 2}, false},
		{"RTCP NACK", []byte{0x81, 205, 0, 3}, false},
		{"RTCP transport-cc", []byte{0x8F, 205, 0, 4}, false},
		{"RTCP PLI", []byte{0x81, 206, 0, 2}, false},
		{"RTCP 223", []byte{0x80, 223, 0, 1}, false},
		{"STUN binding request", []byte{0x00, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42}, false},
		{"STUN binding response", []byte{0x01, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42}, false},
		{"DTLS handshake", []byte{22, 0xFE, 0xFD, 0, 0}, false},
		{"DTLS application data", []byte{23, 0xFE, 0xFD, 0, 1}, false},
		{"TURN channel data", []byte{0x40, 0x00, 0, 4}, false},
		{"version 3", []byte{0xC0, 96, 0, 1}, false},
		{"version 1", []byte{0x40 | 0x3F, 96, 0, 1}, false},
		{"one byte of RTP", []byte{0x80}, false},
		{"empty", []byte{}, false},
	}
	for _, ip := range []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} {
		t.Run(ip.String(), func(t *testing.T) {
			_, bc := listenTestPort(t, ip, 1<<20, true)
			cl := lowPortClient(t, ip, bc.LocalAddr())
			socks := map[bool]int{true: bc.rx.fds[steerMedia], false: bc.rx.fds[steerControl]}
			buf := make([]byte, 2048)
			for _, tc := range cases {
				if _, err := cl.Write(tc.data); err != nil {
					t.Fatal(err)
				}
				// Read the socket it belongs on, directly: a datagram on
				// the other one leaves this read waiting until its deadline.
				n, err := recvFD(socks[tc.media], buf, 3*time.Second)
				if err != nil {
					t.Fatalf("%s (%x) not on the %s socket: %v", tc.name, tc.data, queueName(tc.media), err)
				}
				if string(buf[:n]) != string(tc.data) {
					t.Fatalf("%s: the %s socket had %x", tc.name, queueName(tc.media), buf[:n])
				}
			}
			for media, fd := range socks {
				if n, err := recvFD(fd, buf, 50*time.Millisecond); err == nil {
					t.Fatalf("the %s socket has a datagram left: %x", queueName(media), buf[:n])
				}
			}
			// The sending socket, third of the group, gets nothing.
			_ = bc.UDPConn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if n, err := bc.UDPConn.Read(buf); err == nil {
				t.Fatalf("the sending socket received %x", buf[:n])
			}
		})
	}
}

// recvFD reads a datagram from socket fd, waiting at most d.
func recvFD(fd int, b []byte, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) || (err == nil && n == 0) {
			continue
		}
		if err != nil {
			return 0, err
		}
		m, _, err := unix.Recvfrom(fd, b, unix.MSG_DONTWAIT)
		return m, err
	}
}

func queueName(media bool) string {
	if media {
		return QueueMedia
	}
	return QueueControl
}

// floodResult is what a reader got of a flood to an unread port.
type floodResult struct {
	rtp, control int // received
	drops        map[string]uint64
}

// floodUnread sends control datagrams (RTCP receiver reports) far beyond
// the port's receive buffer, with an RTP datagram among every
// controlPerRTP of them, while nobody reads; then reads everything.
func floodUnread(t *testing.T, u *udpSockets, bc *BatchConn, control, controlPerRTP int) floodResult {
	t.Helper()
	cl, err := net.DialUDP("udp", nil, bc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rr := make([]byte, 100)
	rr[0], rr[1] = 0x81, 201
	rtp := make([]byte, 300)
	rtp[0], rtp[1] = 0x80, 96
	seq := 0
	for i := range control {
		if i%controlPerRTP == controlPerRTP/2 {
			binary.BigEndian.PutUint16(rtp[2:], uint16(seq))
			seq++
			_, _ = cl.Write(rtp)
		}
		_, _ = cl.Write(rr) // a full receiver drops; the sender does not see it
	}
	var res floodResult
	seen := map[uint16]bool{}
	buf := make([]byte, 2048)
	for {
		// Everything sent is in the kernel already: a read that waits
		// has found both queues empty.
		_ = bc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, _, err := bc.ReadFromAddrPort(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case n == len(rtp) && buf[0] == 0x80:
			seen[binary.BigEndian.Uint16(buf[2:])] = true
		case n == len(rr) && buf[1] == 201:
			res.control++
		default:
			t.Fatalf("read %d bytes nobody sent: %x", n, buf[:min(n, 8)])
		}
	}
	res.rtp = len(seen)
	res.drops = u.dropsByQueue()
	if got, want := res.rtp, seq; got > want {
		t.Fatalf("%d RTP datagrams read of %d sent", got, want)
	}
	return res
}

// TestSteeredPriority: a flood of viewers' RTCP far beyond the receive
// buffer, while the server reads nothing, costs no publisher packet: every
// RTP datagram is read afterwards, and what was dropped is RTCP, counted
// as the control queue's. On one socket the same flood loses RTP: the
// check that this test can fail.
func TestSteeredPriority(t *testing.T) {
	const control, perRTP = 20000, 500
	const rtp = control / perRTP
	t.Run("steered", func(t *testing.T) {
		u, bc := listenTestPort(t, net.IPv4(127, 0, 0, 1), 64<<10, true)
		r := floodUnread(t, u, bc, control, perRTP)
		if r.rtp != rtp {
			t.Fatalf("%d of %d RTP datagrams read after the flood (drops %v)", r.rtp, rtp, r.drops)
		}
		if r.control >= control {
			t.Fatalf("all %d RTCP datagrams read: the flood did not overflow a 64 KB buffer", control)
		}
		if d := r.drops[QueueMedia]; d != 0 {
			t.Fatalf("%d drops on the media queue", d)
		}
		if d, lost := r.drops[QueueControl], uint64(control-r.control); d != lost {
			t.Fatalf("control queue: %d RTCP datagrams lost, %d drops counted", lost, d)
		}
		t.Logf("read %d of %d RTP and %d of %d RTCP; drops %v", r.rtp, rtp, r.control, control, r.drops)
	})
	t.Run("one socket", func(t *testing.T) {
		u, bc := listenTestPort(t, net.IPv4(127, 0, 0, 1), 64<<10, false)
		r := floodUnread(t, u, bc, control, perRTP)
		if r.rtp == rtp {
			t.Fatalf("all %d RTP datagrams read from one socket after the flood: the flood cannot tell steering from none", rtp)
		}
		if d, lost := r.drops[QueueShared], uint64(control-r.control+rtp-r.rtp); d != lost {
			t.Fatalf("%d datagrams lost, %d drops counted", lost, d)
		}
		t.Logf("read %d of %d RTP and %d of %d RTCP; drops %v", r.rtp, rtp, r.control, control, r.drops)
	})
}

// TestSteeredPortExclusive: a port held by a steered pair cannot be
// taken by a second server, steered or not, and is free again once
// closed.
func TestSteeredPortExclusive(t *testing.T) {
	lo := net.IPv4(127, 0, 0, 1)
	_, bc := listenTestPort(t, lo, 0, true)
	addr := bc.LocalAddr().(*net.UDPAddr)
	u2, err := newUDPSockets(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := u2.ListenUDP("udp", addr); err == nil {
		_ = c.Close()
		t.Fatalf("a second server listened on %s too", addr)
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second server on %s: %v, want address in use", addr, err)
	}
	if c, err := net.ListenUDP("udp", addr); err == nil {
		_ = c.Close()
		t.Fatalf("a plain socket bound %s too", addr)
	}
	if err := bc.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := u2.ListenUDP("udp", addr)
	if err != nil {
		t.Fatalf("%s after the first server closed it: %v", addr, err)
	}
	_ = c.Close()
}

// TestSteeredCloseEndsRead: closing the port ends a read waiting on it
// with net.ErrClosed and leaves no goroutine behind.
func TestSteeredCloseEndsRead(t *testing.T) {
	before := runtime.NumGoroutine()
	u, err := newUDPSockets(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := u.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	bc := c.(*BatchConn)
	if bc.rx == nil {
		t.Fatal("the port is one socket")
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := bc.ReadFromAddrPort(make([]byte, 1500))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it wait; it would return at once otherwise, which is no worse
	if err := bc.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed port: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read still waits 5 s after the port closed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, err := bc.ReadFromAddrPort(make([]byte, 1500)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}

// TestSteeredReadDeadline: a read deadline ends a waiting read with a
// timeout, as on a plain socket, and the port reads on afterwards.
func TestSteeredReadDeadline(t *testing.T) {
	_, bc := listenTestPort(t, net.IPv4(127, 0, 0, 1), 0, true)
	_ = bc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _, err := bc.ReadFromAddrPort(make([]byte, 1500))
	if !errors.Is(err, os.ErrDeadlineExceeded) || !os.IsTimeout(err) {
		t.Fatalf("read past its deadline: %v", err)
	}
	_ = bc.SetReadDeadline(time.Time{})
	cl, err := net.DialUDP("udp", nil, bc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := []byte{0x80, 96, 0, 1}
	if _, err := cl.Write(want); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, from, err := bc.ReadFromAddrPort(buf)
	if err != nil || string(buf[:n]) != string(want) {
		t.Fatalf("read after a deadline: %x, %v", buf[:n], err)
	}
	if from != cl.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("from %s, sent from %s", from, cl.LocalAddr())
	}
}

// TestSteeredReadAllocs: reading a steered port allocates nothing per
// datagram.
func TestSteeredReadAllocs(t *testing.T) {
	_, bc := listenTestPort(t, net.IPv4(127, 0, 0, 1), 4<<20, true)
	cl, err := net.DialUDP("udp", nil, bc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 300
	for i := range n {
		d := make([]byte, 200)
		if i%3 == 0 {
			d[0], d[1] = 0x80, 96
		}
		_, _ = cl.Write(d)
	}
	buf := make([]byte, 8192)
	read := func() {
		if _, _, err := bc.ReadFromAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}
	read() // the first read of a socket may set up the poller
	if a := testing.AllocsPerRun(n-2, read); a != 0 {
		t.Fatalf("%.1f allocations per read", a)
	}
}

// BenchmarkICEUDPRead measures a datagram's way through the ICE UDP
// port: sent on loopback (the kernel delivers it in the send call:
// steering program, socket queue, wake-ups), then read through
// ReadFromAddrPort as pion's mux does, steered and on one socket. With a
// backlog (the server behind: that many datagrams wait, one in eight
// RTP) and one at a time (the reader finds one datagram each time).
// cpu-ns/op is the process's CPU time (user and system) per datagram,
// read-ns/op the time spent in ReadFromAddrPort alone.
func BenchmarkICEUDPRead(b *testing.B) {
	for _, mode := range []struct {
		name  string
		steer bool
	}{{"steered", true}, {"one_socket", false}} {
		for _, backlog := range []int{256, 1} {
			b.Run(mode.name+"/backlog="+strconv.Itoa(backlog), func(b *testing.B) {
				_, bc := listenTestPort(b, net.IPv4(127, 0, 0, 1), 8<<20, mode.steer)
				cl, err := net.DialUDP("udp", nil, bc.LocalAddr().(*net.UDPAddr))
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				rtcp, rtp := make([]byte, 200), make([]byte, 1200)
				rtcp[0], rtcp[1] = 0x81, 205
				rtp[0], rtp[1] = 0x80, 96
				buf := make([]byte, 8192)
				var reading time.Duration
				b.ReportAllocs()
				b.ResetTimer()
				defer reportCPU(b)()
				defer func() { b.ReportMetric(float64(reading)/float64(b.N), "read-ns/op") }()
				for done := 0; done < b.N; {
					k := min(backlog, b.N-done)
					for i := range k {
						d := rtcp
						if (done+i)%8 == 0 {
							d = rtp
						}
						if _, err := cl.Write(d); err != nil {
							b.Fatal(err)
						}
					}
					start := time.Now()
					for range k {
						if _, _, err := bc.ReadFromAddrPort(buf); err != nil {
							b.Fatal(err)
						}
					}
					reading += time.Since(start)
					done += k
				}
			})
		}
	}
}

// BenchmarkICEUDPReadIdle measures an idle port's datagram: the reader
// waits in the poller for each one, which another goroutine sends once
// the previous one was read, as on a server with little traffic.
func BenchmarkICEUDPReadIdle(b *testing.B) {
	for _, mode := range []struct {
		name  string
		steer bool
	}{{"steered", true}, {"one_socket", false}} {
		b.Run(mode.name, func(b *testing.B) {
			_, bc := listenTestPort(b, net.IPv4(127, 0, 0, 1), 8<<20, mode.steer)
			cl, err := net.DialUDP("udp", nil, bc.LocalAddr().(*net.UDPAddr))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			read := make(chan struct{})
			go func() {
				d := make([]byte, 200)
				d[0], d[1] = 0x81, 205
				for range read {
					time.Sleep(0) // let the reader wait first
					_, _ = cl.Write(d)
				}
			}()
			defer close(read)
			buf := make([]byte, 8192)
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			for range b.N {
				read <- struct{}{}
				if _, _, err := bc.ReadFromAddrPort(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportCPU reports the process's CPU time per op from now to the call
// of the function it returns.
func reportCPU(b *testing.B) func() {
	cpu := func() int64 {
		var r unix.Rusage
		_ = unix.Getrusage(unix.RUSAGE_SELF, &r)
		return r.Utime.Nano() + r.Stime.Nano()
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}

// TestSteeringRefused: where the kernel refuses the steering program the
// port is one socket, with a warning, and works.
func TestSteeringRefused(t *testing.T) {
	var logs bytes.Buffer
	u, err := newUDPSockets(0, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	u.attach = func(*net.UDPConn) error { return unix.EPERM } // as under a seccomp profile
	c, err := u.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("a port without steering failed to open: %v", err)
	}
	bc := c.(*BatchConn)
	defer bc.Close()
	if bc.rx != nil {
		t.Fatal("a steered port with the program refused")
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "one socket") {
		t.Fatalf("no warning: %q", logs.String())
	}
	if q := u.dropsByQueue(); len(q) != 1 || q[QueueShared] != 0 {
		t.Fatalf("queues of a port without steering: %v", q)
	}
	cl, err := net.DialUDP("udp", nil, bc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Write([]byte{0x80, 96, 0, 1}); err != nil {
		t.Fatal(err)
	}
	_ = bc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := bc.ReadFromAddrPort(make([]byte, 1500)); err != nil || n != 4 {
		t.Fatalf("read: %d bytes, %v", n, err)
	}
}
