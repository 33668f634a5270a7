package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/PID/stat. It is
// sysconf(_SC_CLK_TCK), which is 100 on every Linux architecture Go runs
// on; it is hard-coded here rather than read through cgo.
const clockTicks = 100

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	at    time.Time
	cpu   time.Duration // utime+stime, at clock-tick (10 ms) resolution
	sys   time.Duration // stime alone (time in the kernel: syscalls, the UDP stack)
	rssKB int64
}

// readProc samples /proc/PID/stat and /proc/PID/status.
func readProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its closing parenthesis start with the state (field 3).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks [2]int64
	for i, k := range []int{11, 12} { // utime (field 14), stime (field 15)
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks[i] = v
	}
	s.cpu = time.Duration(ticks[0]+ticks[1]) * time.Second / clockTicks
	s.sys = time.Duration(ticks[1]) * time.Second / clockTicks

	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			v := strings.Fields(rest)
			if len(v) > 0 {
				s.rssKB, err = strconv.ParseInt(v[0], 10, 64)
			}
			return s, err
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	return s, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// machineCPU is the machine-wide CPU time from the first line of
// /proc/stat, in clock ticks summed over all cores: busy and total.
type machineCPU struct{ busy, total int64 }

func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return machineCPU{}, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var m machineCPU
	// user nice system idle iowait irq softirq steal [guest guest_nice]; the
	// guest times are already counted in user and nice.
	for i, s := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("/proc/stat: %w", err)
		}
		m.total += v
		if i != 3 && i != 4 { // idle, iowait
			m.busy += v
		}
	}
	return m, nil
}

// udpCounters are the host's UDP counters from /proc/net/snmp (the
// network namespace's, which on loopback holds both ends of the run).
type udpCounters struct {
	inDatagrams, outDatagrams, rcvbufErrors, sndbufErrors int64
}

func readUDPCounters() (udpCounters, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return udpCounters{}, err
	}
	var names, values []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Udp:"); ok {
			if names == nil {
				names = strings.Fields(rest)
			} else {
				values = strings.Fields(rest)
				break
			}
		}
	}
	if len(names) == 0 || len(names) != len(values) {
		return udpCounters{}, fmt.Errorf("/proc/net/snmp: no Udp counters")
	}
	var c udpCounters
	for i, n := range names {
		v, err := strconv.ParseInt(values[i], 10, 64)
		if err != nil {
			return udpCounters{}, fmt.Errorf("/proc/net/snmp: %s: %w", n, err)
		}
		switch n {
		case "InDatagrams":
			c.inDatagrams = v
		case "OutDatagrams":
			c.outDatagrams = v
		case "RcvbufErrors":
			c.rcvbufErrors = v
		case "SndbufErrors":
			c.sndbufErrors = v
		}
	}
	return c, nil
}
