package session

import (
	"net"
	"net/netip"
	"time"
)

// The read side of a BatchConn. On a port with receive steering (see
// steer.go) reads come from both of its sockets, media first; otherwise
// they are its socket's own.

// ReadFromAddrPort reads a datagram without allocating its address (for
// pion's UDP mux).
func (c *BatchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	if c.rx != nil {
		return c.rx.ReadFromAddrPort(b)
	}
	return c.UDPConn.ReadFromUDPAddrPort(b)
}

// ReadFromUDPAddrPort is ReadFromAddrPort, under *net.UDPConn's name.
func (c *BatchConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.ReadFromAddrPort(b)
}

// ReadFrom implements net.PacketConn.
func (c *BatchConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.rx == nil {
		return c.UDPConn.ReadFrom(b)
	}
	n, ap, err := c.rx.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

// ReadFromUDP implements transport.UDPConn.
func (c *BatchConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	if c.rx == nil {
		return c.UDPConn.ReadFromUDP(b)
	}
	n, ap, err := c.rx.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

// ReadMsgUDP implements transport.UDPConn. A steered port has no
// out-of-band data to give.
func (c *BatchConn) ReadMsgUDP(b, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error) {
	if c.rx == nil {
		return c.UDPConn.ReadMsgUDP(b, oob)
	}
	n, addr, err = c.ReadFromUDP(b)
	return n, 0, 0, addr, err
}

// ReadMsgUDPAddrPort is ReadMsgUDP without allocating the address.
func (c *BatchConn) ReadMsgUDPAddrPort(b, oob []byte) (n, oobn, flags int, addr netip.AddrPort, err error) {
	if c.rx == nil {
		return c.UDPConn.ReadMsgUDPAddrPort(b, oob)
	}
	n, addr, err = c.rx.ReadFromAddrPort(b)
	return n, 0, 0, addr, err
}

// Read implements net.Conn.
func (c *BatchConn) Read(b []byte) (int, error) {
	if c.rx == nil {
		return c.UDPConn.Read(b)
	}
	n, _, err := c.rx.ReadFromAddrPort(b)
	return n, err
}

// SetReadDeadline implements net.Conn.
func (c *BatchConn) SetReadDeadline(t time.Time) error {
	if c.rx != nil {
		return c.rx.SetReadDeadline(t)
	}
	return c.UDPConn.SetReadDeadline(t)
}

// SetDeadline implements net.Conn.
func (c *BatchConn) SetDeadline(t time.Time) error {
	if c.rx == nil {
		return c.UDPConn.SetDeadline(t)
	}
	if err := c.rx.SetReadDeadline(t); err != nil {
		return err
	}
	return c.UDPConn.SetWriteDeadline(t)
}

// SetReadBuffer implements transport.UDPConn: on a steered port, each
// socket's.
func (c *BatchConn) SetReadBuffer(n int) error {
	if c.rx != nil {
		return c.rx.SetReadBuffer(n)
	}
	return c.UDPConn.SetReadBuffer(n)
}
