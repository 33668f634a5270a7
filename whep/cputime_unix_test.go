//go:build unix

package whep

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used, user and system
// (the receiving side of a loopback socket included). Unlike wall time,
// it does not grow while other processes hold the CPU.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
