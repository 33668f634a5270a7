package session

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"strconv"
	"syscall"
)

// setReadBuffer is setReadBufferFD on c's socket.
func setReadBuffer(c *net.UDPConn, n int) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var got int
	var serr error
	if err := raw.Control(func(fd uintptr) { got, serr = setReadBufferFD(int(fd), n) }); err != nil {
		return 0, err
	}
	return got, serr
}

// setReadBufferFD asks for a receive buffer of n bytes on socket fd:
// SO_RCVBUF, then SO_RCVBUFFORCE (which passes net.core.rmem_max with
// CAP_NET_ADMIN) if the kernel gave less. It returns the size obtained:
// the kernel reports twice what it grants for payload (socket(7)), so
// half of that.
func setReadBufferFD(fd, n int) (int, error) {
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, n); err != nil {
		return 0, err
	}
	v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	if err != nil {
		return 0, err
	}
	if got := v / 2; got >= n {
		return got, nil
	}
	if syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n) == nil {
		if v, err = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF); err != nil {
			return 0, err
		}
	}
	return v / 2, nil
}

// socketInode returns the inode number the kernel lists c under in
// /proc/net/udp, 0 if unknown.
func socketInode(c *net.UDPConn) uint64 {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var ino uint64
	_ = raw.Control(func(fd uintptr) { ino = inodeFD(int(fd)) })
	return ino
}

// inodeFD is socketInode of socket fd.
func inodeFD(fd int) uint64 {
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil {
		return 0
	}
	return st.Ino
}

// socketDrops reads the drops column of /proc/net/udp and /proc/net/udp6
// for the sockets with the given inodes, by inode.
func socketDrops(inodes map[uint64]string) map[uint64]uint64 {
	out := make(map[uint64]uint64, len(inodes))
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		procDrops(b, inodes, out)
	}
	return out
}

// procDrops reads a /proc/net/udp table: "sl local_address rem_address st
// tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer
// drops", one socket a line after the heading, adding the drops of the
// sockets with the given inodes to out.
func procDrops(table []byte, inodes map[uint64]string, out map[uint64]uint64) {
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // heading
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 13 {
			continue
		}
		ino, err := strconv.ParseUint(string(f[9]), 10, 64)
		if err != nil {
			continue
		}
		if _, ok := inodes[ino]; !ok {
			continue
		}
		if d, err := strconv.ParseUint(string(f[12]), 10, 64); err == nil {
			out[ino] += d
		}
	}
}
