package session

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v5"
)

// Batched sends.
//
// Forwarding one published packet to N viewers writes N datagrams to the
// one ICE UDP socket, and one sendto per datagram was half of the
// server's CPU. A SendBatcher lets the fan-out (stream.Hub, through
// stream.Batcher) open a batch around each packet's fan-out: while any
// batch is open, the ICE sockets copy every datagram written to them into
// a preallocated slot instead of sending it, and Flush sends the pending
// datagrams of each socket with one sendmmsg (Linux; elsewhere one by
// one). When no batch is open a write goes straight to the socket, so
// STUN, DTLS and a lone viewer's media pay no added latency. The batch
// scope reaches the socket through pion's stack without pion knowing: it
// is a count, not a context, so writes of other goroutines made while a
// batch is open (RTCP, another stream's fan-out) wait for the next Flush,
// a fan-out's length at most.
//
// sendmmsg is issued as a raw system call (batch_linux.go), which the Go
// scheduler does not see: a batch of a hundred datagrams keeps the kernel
// busy for longer than the scheduler lets a thread sit in an ordinary
// system call before it hands the thread's processor to another thread,
// and on a server pinned to one core that hand-off (two thread switches
// per batch) cost more than the batching saved. The socket is
// non-blocking, so the call never waits: a full send buffer returns
// EAGAIN and the write waits in the network poller like any other.

// batchSlots is how many datagrams a socket holds before it sends them
// anyway, in one sendmmsg (Linux caps a call at 1024).
const batchSlots = 128

// slotSize is the largest datagram a slot holds; a larger one flushes the
// pending ones and is sent on its own. WebRTC media stays under 1,280
// bytes of path MTU; 1,500 covers any Ethernet-sized datagram.
const slotSize = 1500

// SendBatcher groups the datagrams the ICE UDP sockets send while a batch
// is open (see Begin) into one sendmmsg per socket. It is safe for
// concurrent use; the zero value is not: use NewSendBatcher.
type SendBatcher struct {
	open  atomic.Int32
	conns atomic.Pointer[[]*BatchConn] // copy-on-write under mu

	mu sync.Mutex // serialises changes of conns

	calls, batched, short, errs, direct atomic.Uint64
}

// SendStats are a SendBatcher's counters since it was made.
type SendStats struct {
	// Calls counts sendmmsg calls (batches sent), Batched the datagrams
	// they carried, Short the calls that sent fewer than asked (the rest
	// were sent again or dropped), Direct the datagrams written
	// straight through (no batch open).
	Calls, Batched, Short, Direct uint64
	// Errors counts datagrams that could not be sent.
	Errors uint64
}

// NewSendBatcher returns a batcher with no socket.
func NewSendBatcher() *SendBatcher {
	b := &SendBatcher{}
	b.conns.Store(new([]*BatchConn))
	return b
}

// Begin opens a batch: datagrams written to the batcher's sockets are
// held until Flush. Every Begin must be followed by one Flush.
func (b *SendBatcher) Begin() { b.open.Add(1) }

// Flush closes a batch opened by Begin and sends every datagram the
// sockets hold, whoever wrote it.
func (b *SendBatcher) Flush() {
	b.open.Add(-1)
	for _, c := range *b.conns.Load() {
		if c.pending.Load() > 0 {
			c.mu.Lock()
			c.flushLocked()
			c.mu.Unlock()
		}
	}
}

// Stats returns the batcher's counters.
func (b *SendBatcher) Stats() SendStats {
	return SendStats{Calls: b.calls.Load(), Batched: b.batched.Load(), Short: b.short.Load(),
		Direct: b.direct.Load(), Errors: b.errs.Load()}
}

// Wrap returns c as a socket whose writes the batcher groups. c must not
// be written to except through the result.
func (b *SendBatcher) Wrap(c *net.UDPConn) *BatchConn {
	bc := &BatchConn{UDPConn: c, b: b, slots: make([][]byte, batchSlots), dests: make([]netip.AddrPort, batchSlots)}
	buf := make([]byte, batchSlots*slotSize)
	for i := range bc.slots {
		bc.slots[i] = buf[i*slotSize : i*slotSize : (i+1)*slotSize]
	}
	la, _ := c.LocalAddr().(*net.UDPAddr)
	bc.initSend(la == nil || la.IP.To4() == nil)
	b.mu.Lock()
	list := append(slices.Clone(*b.conns.Load()), bc)
	b.conns.Store(&list)
	b.mu.Unlock()
	return bc
}

// drop forgets c.
func (b *SendBatcher) drop(c *BatchConn) {
	b.mu.Lock()
	list := slices.DeleteFunc(slices.Clone(*b.conns.Load()), func(x *BatchConn) bool { return x == c })
	b.conns.Store(&list)
	b.mu.Unlock()
}

// BatchConn is an ICE UDP socket whose writes its SendBatcher groups; it
// is the *net.UDPConn otherwise, or, on a port with receive steering,
// reads both of the port's sockets (batchread.go). Pion's UDP mux writes
// through WriteToAddrPort and reads through ReadFromAddrPort (ice's
// AddrPortReaderWriter), so neither path allocates.
type BatchConn struct {
	*net.UDPConn
	b *SendBatcher
	// pending mirrors n for a lock-free look.
	pending atomic.Int32

	// mu guards all following fields.
	mu     sync.Mutex
	n      int              // datagrams held: slots[:n] to dests[:n]
	slots  [][]byte         // slotSize bytes of room each
	dests  []netip.AddrPort // where each goes
	closed bool
	mmsg   // the system's batch (batch_linux.go)

	// rx reads a port with receive steering (steer.go); nil for a
	// socket of its own.
	rx *steerRx
}

// WriteToAddrPort sends b to addr, or holds a copy until Flush while a
// batch is open (then it reports success: an error of the later send is
// counted, not returned).
func (c *BatchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if c.b.open.Load() == 0 && c.pending.Load() == 0 {
		return c.direct(b, addr)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(b) > slotSize || addr.Addr().Zone() != "" {
		c.flushLocked()
		return c.direct(b, addr)
	}
	if c.n == len(c.slots) {
		c.flushLocked()
	}
	c.slots[c.n] = append(c.slots[c.n][:0], b...)
	c.dests[c.n] = addr
	c.hold(c.n)
	c.n++
	c.pending.Store(int32(c.n))
	// The batch may have been flushed between the look at open and the
	// lock: then nobody else will send this datagram.
	if c.b.open.Load() == 0 {
		c.flushLocked()
	}
	return len(b), nil
}

// direct writes one datagram now.
func (c *BatchConn) direct(b []byte, addr netip.AddrPort) (int, error) {
	n, err := c.UDPConn.WriteToUDPAddrPort(b, addr)
	c.b.direct.Add(1)
	if err != nil {
		c.b.errs.Add(1)
	}
	return n, err
}

// flushLocked sends the datagrams held, with as few calls as the kernel
// allows: a call that stops short is made again for the rest, and a
// datagram the kernel refuses is counted and skipped. c.mu must be held.
func (c *BatchConn) flushLocked() {
	if c.n == 0 {
		return
	}
	b := c.b
	for sent := 0; sent < c.n; {
		n, err := c.send(sent, c.n)
		b.calls.Add(1)
		b.batched.Add(uint64(n))
		if n < c.n-sent {
			b.short.Add(1)
		}
		sent += n
		if err == nil {
			continue
		}
		if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
			b.errs.Add(uint64(c.n - sent)) // no later call can do better
			break
		}
		if sent < c.n {
			b.errs.Add(1) // the datagram the call stopped at
			sent++
		}
	}
	c.n = 0
	c.pending.Store(0)
}

// WriteTo implements net.PacketConn.
func (c *BatchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(b, ua.AddrPort())
	}
	c.Flush()
	return c.UDPConn.WriteTo(b, addr)
}

// WriteToUDP implements transport.UDPConn.
func (c *BatchConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	return c.WriteToAddrPort(b, addr.AddrPort())
}

// WriteToUDPAddrPort is WriteToAddrPort, under *net.UDPConn's name.
func (c *BatchConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.WriteToAddrPort(b, addr)
}

// WriteMsgUDP implements transport.UDPConn: it sends at once, after what
// is held.
func (c *BatchConn) WriteMsgUDP(b, oob []byte, addr *net.UDPAddr) (n, oobn int, err error) {
	c.Flush()
	return c.UDPConn.WriteMsgUDP(b, oob, addr)
}

// Write implements net.Conn (a listening socket has no peer: it fails as
// the socket's own does), after what is held.
func (c *BatchConn) Write(b []byte) (int, error) {
	c.Flush()
	return c.UDPConn.Write(b)
}

// Flush sends the datagrams held now.
func (c *BatchConn) Flush() {
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
}

// Close sends what is held, then closes the socket (both of a steered
// port's: a read waiting on them returns net.ErrClosed).
func (c *BatchConn) Close() error {
	c.mu.Lock()
	c.flushLocked()
	c.closed = true
	c.mu.Unlock()
	c.b.drop(c)
	var rerr error
	if c.rx != nil {
		rerr = c.rx.Close()
	}
	return errors.Join(c.UDPConn.Close(), rerr)
}

var _ transport.UDPConn = (*BatchConn)(nil)
