package democam

import (
	"errors"
	"net"
	"strconv"
	"sync"
)

// udpPair is a pair of UDP sockets on consecutive ports, even RTP and odd
// RTCP, as gortsplib requires for its UDP transport. They are opened
// before the RTSP server starts, so that free ports can be found, and
// handed to it through Server.ListenPacket.
type udpPair struct {
	rtpAddr, rtcpAddr string

	// mu guards all following fields.
	mu        sync.Mutex
	rtp, rtcp net.PacketConn // nil once handed over
}

// listenUDPPair opens a free even/odd port pair on host ("" for all
// interfaces).
func listenUDPPair(host string) (*udpPair, error) {
	network := "udp"
	if host == "0.0.0.0" {
		network = "udp4"
	}
	for range 100 {
		a, err := net.ListenPacket(network, net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || port >= 65535 {
			a.Close()
			continue
		}
		b, err := net.ListenPacket(network, net.JoinHostPort(host, strconv.Itoa(port+1)))
		if err != nil {
			a.Close()
			continue
		}
		return &udpPair{
			rtpAddr: a.LocalAddr().String(), rtcpAddr: b.LocalAddr().String(),
			rtp: a, rtcp: b,
		}, nil
	}
	return nil, errors.New("no free pair of consecutive UDP ports")
}

// listenPacket is gortsplib's Server.ListenPacket: it returns the sockets
// of the pair for their addresses and opens any other one normally.
func (u *udpPair) listenPacket(network, address string) (net.PacketConn, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case address == u.rtpAddr && u.rtp != nil:
		pc := u.rtp
		u.rtp = nil
		return pc, nil
	case address == u.rtcpAddr && u.rtcp != nil:
		pc := u.rtcp
		u.rtcp = nil
		return pc, nil
	}
	return net.ListenPacket(network, address)
}

// close closes the sockets not handed over.
func (u *udpPair) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, pc := range []net.PacketConn{u.rtp, u.rtcp} {
		if pc != nil {
			pc.Close()
		}
	}
	u.rtp, u.rtcp = nil, nil
}
