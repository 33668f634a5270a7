package session

import (
	"crypto/rand"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// threadCPU is the calling OS thread's user and system CPU time.
func threadCPU(b *testing.B) time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSendFloor is what the fan-out cannot go below with the
// kernel's UDP stack: one 1200-byte datagram to each of 150 loopback
// sockets (read by goroutines of their own, as a player's would be), in
// one batch per round, through the ICE socket's BatchConn. "plain" sends
// the same bytes each time; "srtp" first encrypts each datagram with
// AES-GCM-128 through pion's SRTP context, as a viewer's packet is. It
// reports the sending thread's CPU time per datagram (user and system;
// on loopback the system time includes the kernel's delivery to the
// receiving socket, which a network card would take off the sender), so
// that the server's own cost per packet can be set against it.
func BenchmarkSendFloor(b *testing.B) {
	const viewers, size = 150, 1200
	for _, encrypt := range []bool{false, true} {
		name := "plain"
		if encrypt {
			name = "srtp"
		}
		b.Run(name, func(b *testing.B) {
			var ctx *srtp.Context
			if encrypt {
				key, salt := make([]byte, 16), make([]byte, 12)
				_, _ = rand.Read(key)
				_, _ = rand.Read(salt)
				var err error
				if ctx, err = srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm); err != nil {
					b.Fatal(err)
				}
			}
			to := make([]netip.AddrPort, viewers)
			var wg sync.WaitGroup
			var rxs []*net.UDPConn
			for i := range to {
				rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					b.Fatal(err)
				}
				_ = rx.SetReadBuffer(1 << 20)
				rxs = append(rxs, rx)
				to[i] = rx.LocalAddr().(*net.UDPAddr).AddrPort()
				wg.Go(func() {
					buf := make([]byte, 2048)
					for {
						if _, err := rx.Read(buf); err != nil {
							return
						}
					}
				})
			}
			defer func() {
				for _, rx := range rxs {
					_ = rx.Close()
				}
				wg.Wait()
			}()
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			bat := NewSendBatcher()
			tx := bat.Wrap(c)
			defer tx.Close()

			p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 1}, Payload: make([]byte, size-12)}
			plain := make([]byte, 1500)
			n, _ := p.MarshalTo(plain)
			out := make([]byte, 1500)

			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := threadCPU(b)
			sent := 0
			for b.Loop() {
				bat.Begin()
				for i := range to {
					d := plain[:n]
					if ctx != nil {
						p.SequenceNumber++
						p.Header.MarshalTo(plain)
						if d, err = ctx.EncryptRTP(out, plain[:n], &p.Header); err != nil {
							b.Fatal(err)
						}
					}
					if _, err := tx.WriteToAddrPort(d, to[i]); err != nil {
						b.Fatal(err)
					}
				}
				bat.Flush()
				sent += viewers
			}
			cpu := threadCPU(b) - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(sent), "cpu-ns/datagram")
			b.ReportMetric(0, "ns/op")
		})
	}
}
