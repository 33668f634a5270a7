package session

import (
	"log/slog"
	"net"
	"sync"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// udpSockets is the network the ICE UDP mux listens on: the host's, with
// each socket's receive buffer sized for bursts (a publisher's keyframe
// arriving while the server is busy sending to viewers must wait in the
// kernel, not be dropped there), and the sockets remembered so that the
// kernel's count of datagrams it dropped on them can be read.
type udpSockets struct {
	*stdnet.Net
	readBuffer int // bytes; 0 leaves the system default
	log        *slog.Logger
	// batch groups the sockets' sends (see batch.go).
	batch *SendBatcher

	// mu guards socks.
	mu    sync.Mutex
	socks []udpSocket
}

// udpSocket is one listening socket and what the kernel knows it by.
type udpSocket struct {
	addr  net.Addr
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
	return &udpSockets{Net: n, readBuffer: readBuffer, log: log, batch: NewSendBatcher()}, nil
}

// ListenUDP implements transport.Net: the socket pion gets is a BatchConn,
// whose writes the batcher groups while a fan-out runs; its reads and
// writes allocate nothing (pion's mux uses their netip.AddrPort forms).
func (u *udpSockets) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	s := udpSocket{addr: c.LocalAddr()}
	if u.readBuffer > 0 {
		got, err := setReadBuffer(c, u.readBuffer)
		switch {
		case err != nil:
			u.log.Warn("ICE UDP receive buffer not set", "addr", s.addr, "want", u.readBuffer, "error", err)
		case got > 0 && got < u.readBuffer:
			u.log.Warn("ICE UDP receive buffer capped by the kernel: bursts may be dropped; raise net.core.rmem_max or run with CAP_NET_ADMIN",
				"addr", s.addr, "want", u.readBuffer, "got", got)
		default:
			u.log.Debug("ICE UDP receive buffer", "addr", s.addr, "bytes", got)
		}
	}
	s.inode = socketInode(c)
	u.mu.Lock()
	u.socks = append(u.socks, s)
	u.mu.Unlock()
	return u.batch.Wrap(c), nil
}

// drops returns how many datagrams the kernel dropped on the sockets
// because their receive buffers were full (or for a bad checksum), as far
// as the system says; 0 where it does not.
func (u *udpSockets) drops() uint64 {
	u.mu.Lock()
	inodes := make(map[uint64]bool, len(u.socks))
	for _, s := range u.socks {
		if s.inode != 0 {
			inodes[s.inode] = true
		}
	}
	u.mu.Unlock()
	if len(inodes) == 0 {
		return 0
	}
	return socketDrops(inodes)
}

// ReceiveDrops returns how many datagrams the kernel dropped on the ICE UDP
// socket because its receive buffer was full (see API.ReceiveDrops).
func (m *Manager) ReceiveDrops() uint64 { return m.api.ReceiveDrops() }

// SendStats returns the counters of the ICE UDP sockets' batched sends
// (see API.Batcher).
func (m *Manager) SendStats() SendStats { return m.api.Batcher().Stats() }
