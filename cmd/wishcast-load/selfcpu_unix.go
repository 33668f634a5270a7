//go:build unix

package main

import (
	"syscall"
	"time"
)

// selfCPU is the load process's own user+system CPU time (microsecond
// resolution, from getrusage).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
