package session

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reading a steered port.
//
// One reader (pion's mux goroutine) takes datagrams from both sockets
// without a goroutine per socket, which would cost a wake-up and a
// hand-off per datagram. The two sockets sit in an epoll instance of
// their own, and that instance in Go's network poller (an epoll file is
// readable while either socket is): the reader waits on it like on any
// socket, then takes what each socket holds with one recvmmsg, without
// waiting, into buffers of its own, and hands datagrams out of those
// media first. Both are refilled once both are served, so a datagram of
// the media socket waits behind at most ctrlSlots control datagrams, and
// under a flood the media socket gets mediaSlots of every
// mediaSlots+ctrlSlots reads it needs; the control socket is never
// starved. Under load one system call brings in many datagrams, where a
// plain socket needs one each.

// mediaSlots and ctrlSlots are how many datagrams one recvmmsg takes from
// each socket.
const (
	mediaSlots = 16
	ctrlSlots  = 8
)

// rxSlotSize is the largest datagram a slot holds whole: what pion's mux
// reads with (its receiveMTU), so that nothing it would have taken whole
// is cut short.
const rxSlotSize = 8192

// steerRx reads the two receiving sockets of a steered port.
type steerRx struct {
	// send is the BatchConn's socket, for its address.
	send  *net.UDPConn
	ep    *os.File
	epRaw syscall.RawConn
	fill  func(uintptr) bool // rx.receive, bound once

	// life guards fds against their use after Close.
	life   sync.RWMutex
	fds    [2]int // by steerControl, steerMedia; owned
	closed bool

	// mu serialises reads and guards all following fields.
	mu    sync.Mutex
	q     [2]rxQueue
	err   error // of the last receive
	zones map[uint32]string
}

// rxQueue is what one recvmmsg took from a socket: hdrs[next:n] are yet
// to be handed out.
type rxQueue struct {
	hdrs    []mmsghdr
	iovs    []unix.Iovec
	names   []unix.RawSockaddrInet6 // room for either family
	bufs    [][]byte
	n, next int
}

func newRxQueue(slots int) rxQueue {
	q := rxQueue{hdrs: make([]mmsghdr, slots), iovs: make([]unix.Iovec, slots),
		names: make([]unix.RawSockaddrInet6, slots), bufs: make([][]byte, slots)}
	slab := make([]byte, slots*rxSlotSize)
	for i := range q.hdrs {
		q.bufs[i] = slab[i*rxSlotSize : (i+1)*rxSlotSize : (i+1)*rxSlotSize]
		q.iovs[i].Base = &q.bufs[i][0]
		q.iovs[i].SetLen(rxSlotSize)
		h := &q.hdrs[i].hdr
		h.Iov = &q.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&q.names[i]))
	}
	return q
}

// newSteerRx reads the sockets fds (control, media), which it owns from
// then on; send is the port's sending socket.
func newSteerRx(send *net.UDPConn, fds [2]int) (*steerRx, error) {
	rx := &steerRx{send: send, fds: fds,
		q: [2]rxQueue{steerControl: newRxQueue(ctrlSlots), steerMedia: newRxQueue(mediaSlots)}}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		rx.closeFDs()
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	for _, fd := range rx.fds {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			_ = unix.Close(epfd)
			rx.closeFDs()
			return nil, fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	// Non-blocking, so that os.NewFile puts it in the network poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		rx.closeFDs()
		return nil, fmt.Errorf("epoll non-blocking: %w", err)
	}
	rx.ep = os.NewFile(uintptr(epfd), "ice-udp-epoll")
	if rx.epRaw, err = rx.ep.SyscallConn(); err != nil {
		_ = rx.ep.Close()
		rx.closeFDs()
		return nil, err
	}
	rx.fill = rx.receive
	return rx, nil
}

// closeFDs closes the receiving sockets.
func (rx *steerRx) closeFDs() error {
	var err error
	for _, fd := range rx.fds {
		if cerr := unix.Close(fd); cerr != nil && err == nil {
			err = os.NewSyscallError("close", cerr)
		}
	}
	return err
}

// ReadFromAddrPort returns the next datagram, media first (see above). It
// allocates nothing.
func (rx *steerRx) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	for {
		for _, i := range [2]int{steerMedia, steerControl} {
			if q := &rx.q[i]; q.next < q.n {
				return rx.take(q, b)
			}
		}
		if err := rx.err; err != nil {
			rx.err = nil
			return 0, netip.AddrPort{}, rx.opError(err)
		}
		if err := rx.epRaw.Read(rx.fill); err != nil {
			return 0, netip.AddrPort{}, rx.opError(err)
		}
	}
}

// take hands out q's next datagram. rx.mu must be held.
func (rx *steerRx) take(q *rxQueue, b []byte) (int, netip.AddrPort, error) {
	i := q.next
	q.next++
	n := copy(b, q.bufs[i][:min(int(q.hdrs[i].n), rxSlotSize)])
	sa := &q.names[i]
	pb := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network byte order
	port := uint16(pb[0])<<8 | uint16(pb[1])
	if sa.Family == unix.AF_INET {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return n, netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), nil
	}
	ip := netip.AddrFrom16(sa.Addr)
	if sa.Scope_id != 0 {
		ip = ip.WithZone(rx.zone(sa.Scope_id))
	}
	return n, netip.AddrPortFrom(ip, port), nil
}

// zone names interface index i (link-local IPv6 peers), as net does.
// rx.mu must be held.
func (rx *steerRx) zone(i uint32) string {
	if z, ok := rx.zones[i]; ok {
		return z
	}
	z := strconv.Itoa(int(i))
	if ifi, err := net.InterfaceByIndex(int(i)); err == nil {
		z = ifi.Name
	}
	if rx.zones == nil {
		rx.zones = map[uint32]string{}
	}
	rx.zones[i] = z
	return z
}

// receive takes what each socket holds, without waiting; false (nothing
// there) has the poller wait until the epoll instance is readable. An
// error is kept for the reader, after the datagrams of the other socket.
// It is called through the epoll file's RawConn, with rx.mu held.
func (rx *steerRx) receive(uintptr) bool {
	rx.life.RLock()
	defer rx.life.RUnlock()
	if rx.closed {
		rx.err = net.ErrClosed
		return true
	}
	got := false
	for _, i := range [2]int{steerMedia, steerControl} {
		q := &rx.q[i]
		q.n, q.next = 0, 0
		for j := range q.hdrs {
			q.hdrs[j].hdr.Namelen = unix.SizeofSockaddrInet6
			q.hdrs[j].hdr.Flags = 0
		}
		for {
			n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(rx.fds[i]), uintptr(unsafe.Pointer(&q.hdrs[0])),
				uintptr(len(q.hdrs)), unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EINTR {
				continue
			}
			if e == 0 {
				q.n = int(n)
				got = got || n > 0
			} else if e != unix.EAGAIN {
				rx.err = os.NewSyscallError("recvmmsg", e)
			}
			break
		}
	}
	return got || rx.err != nil
}

// opError wraps a read error as net's own sockets do; a closed port reads
// as net.ErrClosed.
func (rx *steerRx) opError(err error) error {
	rx.life.RLock()
	closed := rx.closed
	rx.life.RUnlock()
	if closed {
		err = net.ErrClosed
	}
	return &net.OpError{Op: "read", Net: "udp", Source: rx.send.LocalAddr(), Err: err}
}

// SetReadDeadline sets the deadline of reads that wait.
func (rx *steerRx) SetReadDeadline(t time.Time) error { return rx.ep.SetReadDeadline(t) }

// SetReadBuffer sets both sockets' receive buffers.
func (rx *steerRx) SetReadBuffer(n int) error {
	rx.life.RLock()
	defer rx.life.RUnlock()
	if rx.closed {
		return net.ErrClosed
	}
	for _, fd := range rx.fds {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	return nil
}

// Close ends reads (a waiting one returns net.ErrClosed) and closes the
// receiving sockets; the sending one is its BatchConn's to close.
func (rx *steerRx) Close() error {
	rx.life.Lock()
	if rx.closed {
		rx.life.Unlock()
		return nil
	}
	rx.closed = true
	err := rx.closeFDs()
	rx.life.Unlock()
	if eerr := rx.ep.Close(); err == nil {
		err = eerr
	}
	return err
}
