//go:build !linux

package session

import (
	"net"
	"net/netip"
	"time"
)

// steerSupported says listenSteered may work here: it does not.
const steerSupported = false

// listenSteered is Linux's; here the port is one socket.
func listenSteered(string, *net.UDPAddr, func(*net.UDPConn) error) (send *net.UDPConn, fds [2]int, err error) {
	return nil, fds, errNoSteering
}

// attachSteering is Linux's.
func attachSteering(*net.UDPConn) error { return errNoSteering }

// steerRx is Linux's; no BatchConn has one here.
type steerRx struct{}

func newSteerRx(*net.UDPConn, [2]int) (*steerRx, error) { return nil, errNoSteering }

func (*steerRx) ReadFromAddrPort([]byte) (int, netip.AddrPort, error) {
	return 0, netip.AddrPort{}, errNoSteering
}

func (*steerRx) SetReadDeadline(time.Time) error { return errNoSteering }

func (*steerRx) SetReadBuffer(int) error { return errNoSteering }

func (*steerRx) Close() error { return nil }
