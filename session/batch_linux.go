package session

import (
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is the kernel's struct mmsghdr: a message header and the bytes
// the kernel sent of it (the Go compiler pads it as C does).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// mmsg is a BatchConn's sendmmsg state: one header, one buffer and one
// address per slot, set when a datagram is held, so that a flush only
// makes the call.
type mmsg struct {
	v6   bool // the socket is AF_INET6
	hdrs []mmsghdr
	iovs []unix.Iovec
	sa4  []unix.RawSockaddrInet4
	sa6  []unix.RawSockaddrInet6
	raw  syscall.RawConn
	// The call in progress: hdrs[from:to], its outcome in sent and errno.
	from, to, sent int
	errno          syscall.Errno
	call           func(fd uintptr) bool // c.sendmmsg, bound once
}

// initSend prepares c's headers; v6 says the socket is IPv6.
func (c *BatchConn) initSend(v6 bool) {
	m := &c.mmsg
	m.v6 = v6
	m.hdrs = make([]mmsghdr, batchSlots)
	m.iovs = make([]unix.Iovec, batchSlots)
	m.sa4 = make([]unix.RawSockaddrInet4, batchSlots)
	m.sa6 = make([]unix.RawSockaddrInet6, batchSlots)
	for i := range m.hdrs {
		m.hdrs[i].hdr.Iov = &m.iovs[i]
		m.hdrs[i].hdr.SetIovlen(1)
	}
	m.raw, _ = c.UDPConn.SyscallConn()
	m.call = c.sendmmsg
}

// hold fills slot i's header for the datagram in c.slots[i] to
// c.dests[i]. c.mu must be held.
func (c *BatchConn) hold(i int) {
	m := &c.mmsg
	h := &m.hdrs[i].hdr
	m.iovs[i].Base = unsafe.SliceData(c.slots[i])
	m.iovs[i].SetLen(len(c.slots[i]))
	d := c.dests[i]
	ip, port := d.Addr(), d.Port()
	if ip.Is4() && !m.v6 {
		sa := &m.sa4[i]
		sa.Family = unix.AF_INET
		putPort(&sa.Port, port)
		sa.Addr = ip.As4()
		h.Name = (*byte)(unsafe.Pointer(sa))
		h.Namelen = unix.SizeofSockaddrInet4
		return
	}
	// An IPv6 socket reaches IPv4 peers at their mapped address; an IPv4
	// socket refuses an IPv6 peer (EAFNOSUPPORT), as its sendto would.
	sa := &m.sa6[i]
	sa.Family = unix.AF_INET6
	putPort(&sa.Port, port)
	sa.Addr = ip.As16()
	h.Name = (*byte)(unsafe.Pointer(sa))
	h.Namelen = unix.SizeofSockaddrInet6
}

// putPort stores port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// send sends the datagrams held in slots [from, to) with sendmmsg and
// returns how many the kernel took; an error, if any, is that of the
// datagram it stopped at. c.mu must be held.
func (c *BatchConn) send(from, to int) (int, error) {
	m := &c.mmsg
	if m.raw == nil {
		return 0, errors.New("socket without a file descriptor")
	}
	m.from, m.to, m.sent, m.errno = from, to, 0, 0
	if err := m.raw.Write(m.call); err != nil {
		return 0, err
	}
	if m.errno != 0 {
		return m.sent, m.errno
	}
	return m.sent, nil
}

// sendmmsg is the raw call, run by the socket's RawConn.Write: false (on
// EAGAIN) waits for the socket to be writable and calls again.
func (c *BatchConn) sendmmsg(fd uintptr) bool {
	m := &c.mmsg
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[m.from])), uintptr(m.to-m.from), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			m.sent = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		m.errno = e
		return true
	}
}
