//go:build !linux

package session

import "net"

// setReadBuffer asks for a receive buffer of n bytes on c; the size
// obtained is not known here (0).
func setReadBuffer(c *net.UDPConn, n int) (int, error) { return 0, c.SetReadBuffer(n) }

// setReadBufferFD is Linux's: no socket here is a bare descriptor.
func setReadBufferFD(int, int) (int, error) { return 0, errNoSteering }

// inodeFD is 0: the drops counter is Linux's.
func inodeFD(int) uint64 { return 0 }

// socketInode is 0: the drops counter is Linux's.
func socketInode(*net.UDPConn) uint64 { return 0 }

// socketDrops is empty where the kernel does not count drops per socket.
func socketDrops(map[uint64]string) map[uint64]uint64 { return nil }
