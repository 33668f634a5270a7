package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// steerProgram returns the classic BPF program that picks the socket of
// each datagram. For UDP the kernel runs it with the packet positioned
// at the UDP payload (after the 8-byte UDP header), so absolute offsets
// count from the payload's first byte (TestSteering checks this).
//
//	0: A = payload[0]
//	1: A &= 0xC0                  version bits
//	2: if A != 0x80 goto 6        not version 2: STUN, DTLS, TURN, odd
//	3: A = payload[1]
//	4: if A < 192 goto 7          RTP, marker clear or PT < 64
//	5: if A >= 224 goto 7         RTP, marker set and PT 96..127
//	6: return control             RTCP 192..223 falls through to here
//	7: return media
func steerProgram() []unix.SockFilter {
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: 0xC0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0x80, Jt: 0, Jf: 3},
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 1},
		{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: 192, Jt: 0, Jf: 2},
		{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: 224, Jt: 1, Jf: 0},
		{Code: unix.BPF_RET | unix.BPF_K, K: steerControl},
		{Code: unix.BPF_RET | unix.BPF_K, K: steerMedia},
	}
}

// steerSupported says listenSteered may work here.
const steerSupported = true

// probeAttempts bounds how often a pair on a port the kernel picks (port
// 0) is tried again when another socket takes that port between the probe
// and the pair.
const probeAttempts = 3

// listenSteered binds laddr's port as three sockets of one SO_REUSEPORT
// group: control and media, which steerProgram sorts datagrams into,
// and send, which the program never picks, to send from. Control and
// media are returned as bare descriptors, out of Go's network poller:
// the reader waits on them through an epoll instance of its own
// (steerrx_linux.go), and a socket in the poller too would cost a
// second wake-up in the kernel for every datagram.
//
// The port is first bound once without SO_REUSEPORT and released: that
// fails with EADDRINUSE if anything holds it, so a second server fails
// to start as it would without steering, rather than join the group.
// (The kernel only lets sockets of the same user into a group, and only
// those that set SO_REUSEPORT themselves.) An error that wraps
// errNoSteering means the kernel refused the program; the port is then
// free again for one plain socket.
// attach puts the program on the group (attachSteering).
func listenSteered(network string, laddr *net.UDPAddr, attach func(*net.UDPConn) error) (send *net.UDPConn, fds [2]int, err error) {
	for attempt := 1; ; attempt++ {
		send, fds, err = listenGroup(network, laddr, attach)
		if err == nil || laddr.Port != 0 || attempt == probeAttempts || !errors.Is(err, unix.EADDRINUSE) {
			return send, fds, err
		}
	}
}

// listenGroup is one attempt of listenSteered.
func listenGroup(network string, laddr *net.UDPAddr, attach func(*net.UDPConn) error) (send *net.UDPConn, fds [2]int, err error) {
	probe, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, fds, err
	}
	addr := *probe.LocalAddr().(*net.UDPAddr)
	if err := probe.Close(); err != nil {
		return nil, fds, fmt.Errorf("release port probe: %w", err)
	}
	lc := net.ListenConfig{Control: reusePort}
	var socks []*net.UDPConn // in the group's order
	defer func() {
		for _, c := range socks {
			_ = c.Close()
		}
	}()
	for i := range 3 {
		c, err := lc.ListenPacket(context.Background(), network, addr.String())
		if err != nil {
			return nil, fds, err
		}
		socks = append(socks, c.(*net.UDPConn))
		// The program goes on the group's first socket; the others join
		// the group and its program.
		if i == 0 {
			if err := attach(socks[0]); err != nil {
				return nil, fds, fmt.Errorf("%w: %w", errNoSteering, err)
			}
		}
	}
	for i := range fds {
		if fds[i], err = detach(socks[i]); err != nil {
			for _, fd := range fds[:i] {
				_ = unix.Close(fd)
			}
			return nil, [2]int{}, err
		}
	}
	send = socks[2]
	socks = socks[:2] // closed on return: the descriptors above hold them
	return send, fds, nil
}

// detach returns a descriptor of c's socket of its own, out of Go's
// network poller (c is to be closed).
func detach(c *net.UDPConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var serr error
	if err := raw.Control(func(fd uintptr) {
		nfd, serr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, fmt.Errorf("dup ICE UDP socket: %w", serr)
	}
	return nfd, nil
}

// reusePort sets SO_REUSEPORT on a socket before it is bound.
func reusePort(_, _ string, raw syscall.RawConn) error {
	var serr error
	err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("SO_REUSEPORT: %w", serr)
	}
	return nil
}

// attachSteering attaches steerProgram to c's SO_REUSEPORT group.
func attachSteering(c *net.UDPConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	prog := steerProgram()
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF,
			&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("SO_ATTACH_REUSEPORT_CBPF: %w", serr)
	}
	return nil
}
