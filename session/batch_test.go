package session

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// batchPair is a batched sending socket and a plain receiving one.
type batchPair struct {
	b  *SendBatcher
	tx *BatchConn
	rx *net.UDPConn
	to netip.AddrPort
}

func newBatchPair(t testing.TB, network string, ip net.IP) *batchPair {
	t.Helper()
	rx, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	_ = rx.SetReadBuffer(8 << 20)
	t.Cleanup(func() { _ = rx.Close() })
	c, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	b := NewSendBatcher()
	tx := b.Wrap(c)
	t.Cleanup(func() { _ = tx.Close() })
	return &batchPair{b: b, tx: tx, rx: rx, to: rx.LocalAddr().(*net.UDPAddr).AddrPort()}
}

// datagram is n bytes that start with i.
func datagram(i, n int) []byte {
	d := make([]byte, n)
	binary.BigEndian.PutUint32(d, uint32(i))
	for j := 4; j < n; j++ {
		d[j] = byte(i + j)
	}
	return d
}

// receive reads n datagrams (within 5 s) and returns the numbers they
// start with, checking that their bodies are intact.
func (p *batchPair) receive(t *testing.T, n, size int) []int {
	t.Helper()
	buf := make([]byte, 4096)
	var got []int
	for len(got) < n {
		_ = p.rx.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, err := p.rx.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), n, err)
		}
		i := int(binary.BigEndian.Uint32(buf))
		if m != size || string(buf[:m]) != string(datagram(i, size)) {
			t.Fatalf("datagram %d arrived damaged (%d bytes)", i, m)
		}
		got = append(got, i)
	}
	return got
}

// nothingArrives checks that no datagram is waiting.
func (p *batchPair) nothingArrives(t *testing.T, what string) {
	t.Helper()
	_ = p.rx.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := p.rx.Read(make([]byte, 4096)); err == nil {
		t.Fatalf("a datagram arrived %s", what)
	}
}

func inOrder(got []int, from int) bool {
	for k, i := range got {
		if i != from+k {
			return false
		}
	}
	return true
}

// TestBatchHoldsUntilFlush: while a batch is open datagrams wait (a full
// set of slots goes out in one call), Flush sends the rest in one call,
// in order and intact, for IPv4 and IPv6.
func TestBatchHoldsUntilFlush(t *testing.T) {
	for _, tc := range []struct {
		network string
		ip      net.IP
	}{{"udp4", net.IPv4(127, 0, 0, 1)}, {"udp6", net.IPv6loopback}} {
		t.Run(tc.network, func(t *testing.T) {
			p := newBatchPair(t, tc.network, tc.ip)
			const n, size = batchSlots + 44, 1200
			p.b.Begin()
			for i := range n {
				if k, err := p.tx.WriteToAddrPort(datagram(i, size), p.to); k != size || err != nil {
					t.Fatalf("write %d: %d, %v", i, k, err)
				}
			}
			if got := p.receive(t, batchSlots, size); !inOrder(got, 0) {
				t.Fatalf("first batch out of order: %v", got)
			}
			p.nothingArrives(t, "before Flush")
			if st := p.b.Stats(); st.Calls != 1 || st.Batched != batchSlots || st.Direct != 0 {
				t.Fatalf("stats before Flush: %+v", st)
			}
			p.b.Flush()
			if got := p.receive(t, n-batchSlots, size); !inOrder(got, batchSlots) {
				t.Fatalf("second batch out of order: %v", got)
			}
			if st := p.b.Stats(); st.Calls != 2 || st.Batched != n || st.Short != 0 || st.Errors != 0 {
				t.Fatalf("stats after Flush: %+v", st)
			}
		})
	}
}

// TestBatchWritesThroughWhenClosed: with no batch open a datagram goes
// out at once; one too big for a slot goes out at once after those held.
func TestBatchWritesThroughWhenClosed(t *testing.T) {
	p := newBatchPair(t, "udp4", net.IPv4(127, 0, 0, 1))
	if _, err := p.tx.WriteTo(datagram(0, 100), net.UDPAddrFromAddrPort(p.to)); err != nil {
		t.Fatal(err)
	}
	p.receive(t, 1, 100)
	if st := p.b.Stats(); st.Direct != 1 || st.Calls != 0 {
		t.Fatalf("stats: %+v", st)
	}
	p.b.Begin()
	defer p.b.Flush()
	if _, err := p.tx.WriteToAddrPort(datagram(1, 100), p.to); err != nil {
		t.Fatal(err)
	}
	if _, err := p.tx.WriteToAddrPort(datagram(2, slotSize+1), p.to); err != nil {
		t.Fatal(err)
	}
	if got := p.receive(t, 1, 100); got[0] != 1 {
		t.Fatalf("got %v", got)
	}
	if got := p.receive(t, 1, slotSize+1); got[0] != 2 {
		t.Fatalf("got %v", got)
	}
}

// TestBatchTakesOtherWriters: a goroutine writing while another's batch
// is open is held too, and sent with that batch.
func TestBatchTakesOtherWriters(t *testing.T) {
	p := newBatchPair(t, "udp4", net.IPv4(127, 0, 0, 1))
	p.b.Begin()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := p.tx.WriteToAddrPort(datagram(7, 200), p.to); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	p.nothingArrives(t, "while the batch was open")
	p.b.Flush()
	if got := p.receive(t, 1, 200); got[0] != 7 {
		t.Fatalf("got %v", got)
	}
}

// TestBatchCountsErrors: a datagram the kernel refuses (an IPv6
// destination on an IPv4 socket) is counted and skipped; the others of
// its batch are sent.
func TestBatchCountsErrors(t *testing.T) {
	p := newBatchPair(t, "udp4", net.IPv4(127, 0, 0, 1))
	bad := netip.AddrPortFrom(netip.IPv6Loopback(), 9)
	p.b.Begin()
	for i, to := range []netip.AddrPort{p.to, bad, p.to} {
		if _, err := p.tx.WriteToAddrPort(datagram(i, 300), to); err != nil {
			t.Fatal(err)
		}
	}
	p.b.Flush()
	if got := p.receive(t, 2, 300); got[0] != 0 || got[1] != 2 {
		t.Fatalf("got %v", got)
	}
	if st := p.b.Stats(); st.Errors != 1 || st.Short == 0 || st.Batched != 2 {
		t.Fatalf("stats: %+v", st)
	}
}

// TestBatchFlushedOnClose: closing the socket sends what it holds.
func TestBatchFlushedOnClose(t *testing.T) {
	p := newBatchPair(t, "udp4", net.IPv4(127, 0, 0, 1))
	p.b.Begin()
	defer p.b.Flush()
	for i := range 5 {
		if _, err := p.tx.WriteToAddrPort(datagram(i, 500), p.to); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.tx.Close(); err != nil {
		t.Fatal(err)
	}
	if got := p.receive(t, 5, 500); !inOrder(got, 0) {
		t.Fatalf("got %v", got)
	}
	if _, err := p.tx.WriteToAddrPort(datagram(9, 500), p.to); err == nil {
		t.Fatal("write after Close succeeded")
	}
}

// BenchmarkBatchConn sends 1200-byte datagrams on loopback, one write per
// datagram (direct) or in batches of n (one Begin/Flush around n writes),
// to a receiver that reads them. It reports datagrams per second of the
// sender's wall time and send system calls per datagram.
func BenchmarkBatchConn(b *testing.B) {
	for _, n := range []int{1, 16, 150} {
		name := fmt.Sprintf("batch=%d", n)
		if n == 1 {
			name = "direct"
		}
		b.Run(name, func(b *testing.B) {
			p := newBatchPair(b, "udp4", net.IPv4(127, 0, 0, 1))
			var wg sync.WaitGroup
			wg.Go(func() {
				buf := make([]byte, 2048)
				for {
					if _, err := p.rx.Read(buf); err != nil {
						return
					}
				}
			})
			defer func() {
				_ = p.rx.Close()
				wg.Wait()
			}()
			d := datagram(0, 1200)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				if n > 1 {
					p.b.Begin()
				}
				for k := 0; k < n && i < b.N; k++ {
					if _, err := p.tx.WriteToAddrPort(d, p.to); err != nil {
						b.Fatal(err)
					}
					i++
				}
				if n > 1 {
					p.b.Flush()
				}
			}
			b.StopTimer()
			st := p.b.Stats()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "datagrams/s")
			b.ReportMetric(float64(st.Calls+st.Direct)/float64(b.N), "syscalls/datagram")
		})
	}
}
