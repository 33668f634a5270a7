package transcode

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stderrTail keeps the last bytes FFmpeg wrote to its standard error, for
// the log line when it ends: bounded whatever FFmpeg writes.
type stderrTail struct {
	mu  sync.Mutex
	buf []byte
}

const stderrKeep = 2048

func (s *stderrTail) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	if len(s.buf) > stderrKeep {
		s.buf = append(s.buf[:0], s.buf[len(s.buf)-stderrKeep:]...)
	}
	return len(p), nil
}

func (s *stderrTail) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.TrimSpace(string(s.buf))
}

// freeUDPPort returns a loopback UDP port that was free a moment ago,
// with the next one (FFmpeg's RTCP port) free as well.
func freeUDPPort() (int, error) {
	for range 20 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, fmt.Errorf("find a free UDP port: %w", err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c2, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
		_ = c.Close()
		if err == nil {
			_ = c2.Close()
			return port, nil
		}
	}
	return 0, errors.New("find a free UDP port pair: none found")
}

// udpBound reports whether some socket is bound to the loopback UDP port
// (read from /proc/net/udp); ok is false where that cannot be read.
func udpBound(port int) (bound, ok bool) {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return false, false
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && strings.HasSuffix(fields[1], want) {
			return true, true
		}
	}
	return false, true
}

// waitBound waits until port is bound (FFmpeg listens) or exited closes.
func waitBound(port int, exited <-chan struct{}, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		bound, ok := udpBound(port)
		if !ok {
			// Without /proc, give FFmpeg the time it usually takes.
			select {
			case <-exited:
				return errors.New("FFmpeg ended before it listened")
			case <-time.After(500 * time.Millisecond):
				return nil
			}
		}
		if bound {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("FFmpeg did not listen on UDP port %d within %s", port, within)
		}
		select {
		case <-exited:
			return errors.New("FFmpeg ended before it listened")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times
// (100 on every Linux architecture Go supports).
const clockTicks = 100

// cpuOf returns the CPU time (user and system) process pid has used, read
// from /proc/<pid>/stat.
func cpuOf(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unreadable /proc stat times")
	}
	return time.Duration(u+st) * time.Second / clockTicks, nil
}
