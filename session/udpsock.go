package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// udpSockets is the network the ICE UDP mux listens on: the host's, with
// each socket's receive buffer sized for bursts (a publisher's keyframe
// arriving while the server is busy sending to viewers must wait in the
// kernel, not be dropped there), each port split into a media and a
// control socket where the kernel can steer datagrams between them
// (steer.go), and the sockets remembered so that the kernel's count of
// datagrams it dropped on them can be read.
type udpSockets struct {
	*stdnet.Net
	readBuffer int // bytes; 0 leaves the system default
	// steer asks for two sockets per port (steer.go), and attach puts
	// the steering program on them (attachSteering; tests replace it).
	steer  bool
	attach func(*net.UDPConn) error
	log    *slog.Logger
	// batch groups the sockets' sends (see batch.go).
	batch *SendBatcher

	// mu guards socks.
	mu    sync.Mutex
	socks []udpSocket
}

// udpSocket is one listening socket and what the kernel knows it by.
type udpSocket struct {
	addr  net.Addr
	queue string // QueueMedia, QueueControl or QueueShared
	inode uint64 // 0 if unknown
}

func newUDPSockets(readBuffer int, log *slog.Logger) (*udpSockets, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &udpSockets{Net: n, readBuffer: readBuffer, steer: steerSupported, attach: attachSteering, log: log, batch: NewSendBatcher()}, nil
}

// ListenUDP implements transport.Net: the socket pion gets is a BatchConn,
// whose writes the batcher groups while a fan-out runs and which, where
// the kernel steers the port's datagrams, reads the media socket first;
// its reads and writes allocate nothing (pion's mux uses their
// netip.AddrPort forms).
func (u *udpSockets) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	if laddr == nil {
		laddr = &net.UDPAddr{}
	}
	if u.steer {
		send, fds, err := listenSteered(network, laddr, u.attach)
		switch {
		case err == nil:
			addr := send.LocalAddr()
			for i, q := range [2]string{steerControl: QueueControl, steerMedia: QueueMedia} {
				fd := fds[i]
				u.setup(addr, q, func(n int) (int, error) { return setReadBufferFD(fd, n) }, inodeFD(fd))
			}
			rx, err := newSteerRx(send, fds)
			if err != nil {
				_ = send.Close()
				return nil, fmt.Errorf("read steered ICE UDP port: %w", err)
			}
			bc := u.batch.Wrap(send)
			bc.rx = rx
			return bc, nil
		case errors.Is(err, errNoSteering):
			u.log.Warn("ICE UDP port is one socket: publishers' media shares its receive queue with viewers' RTCP, and is dropped alike when the server falls behind",
				"addr", laddr, "error", err)
		default:
			return nil, err
		}
	}
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	u.setup(c.LocalAddr(), QueueShared, func(n int) (int, error) { return setReadBuffer(c, n) }, socketInode(c))
	return u.batch.Wrap(c), nil
}

// setup sizes a socket's receive buffer with setBuffer and remembers the
// socket as queue.
func (u *udpSockets) setup(addr net.Addr, queue string, setBuffer func(int) (int, error), inode uint64) {
	s := udpSocket{addr: addr, queue: queue, inode: inode}
	if u.readBuffer > 0 {
		got, err := setBuffer(u.readBuffer)
		switch {
		case err != nil:
			u.log.Warn("ICE UDP receive buffer not set", "addr", s.addr, "queue", queue, "want", u.readBuffer, "error", err)
		case got > 0 && got < u.readBuffer:
			u.log.Warn("ICE UDP receive buffer capped by the kernel: bursts may be dropped; raise net.core.rmem_max or run with CAP_NET_ADMIN",
				"addr", s.addr, "queue", queue, "want", u.readBuffer, "got", got)
		default:
			u.log.Debug("ICE UDP receive buffer", "addr", s.addr, "queue", queue, "bytes", got)
		}
	}
	u.mu.Lock()
	u.socks = append(u.socks, s)
	u.mu.Unlock()
}

// drops returns how many datagrams the kernel dropped on the sockets
// because their receive buffers were full (or for a bad checksum), as far
// as the system says; 0 where it does not.
func (u *udpSockets) drops() uint64 {
	var sum uint64
	for _, n := range u.dropsByQueue() {
		sum += n
	}
	return sum
}

// dropsByQueue is drops by the queue of the socket that dropped them
// (QueueMedia, QueueControl, QueueShared); a queue no socket has is
// absent.
func (u *udpSockets) dropsByQueue() map[string]uint64 {
	u.mu.Lock()
	inodes := make(map[uint64]string, len(u.socks))
	out := make(map[string]uint64, 2)
	for _, s := range u.socks {
		if _, ok := out[s.queue]; !ok {
			out[s.queue] = 0 // a queue without drops is there
		}
		if s.inode != 0 {
			inodes[s.inode] = s.queue
		}
	}
	u.mu.Unlock()
	if len(inodes) == 0 {
		return out
	}
	for ino, n := range socketDrops(inodes) {
		out[inodes[ino]] += n
	}
	return out
}

// ReceiveDrops returns how many datagrams the kernel dropped on the ICE UDP
// sockets because their receive buffers were full (see API.ReceiveDrops).
func (m *Manager) ReceiveDrops() uint64 { return m.api.ReceiveDrops() }

// ReceiveDropsByQueue is ReceiveDrops by receive queue (see
// API.ReceiveDropsByQueue).
func (m *Manager) ReceiveDropsByQueue() map[string]uint64 { return m.api.ReceiveDropsByQueue() }

// SendStats returns the counters of the ICE UDP sockets' batched sends
// (see API.Batcher).
func (m *Manager) SendStats() SendStats { return m.api.Batcher().Stats() }
