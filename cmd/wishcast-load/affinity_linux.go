//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinProcess sets the CPU affinity of every thread of process pid to the
// one core cpu and returns how many threads it pinned. sched_setaffinity
// acts on one thread, so it is called for each entry of /proc/PID/task;
// threads started meanwhile inherit the affinity of the thread that
// started them, and the directory is read again until a pass finds no
// thread it has not pinned yet.
func pinProcess(pid, cpu int) (int, error) {
	if cpu < 0 || cpu >= 1024 {
		return 0, fmt.Errorf("CPU %d out of range", cpu)
	}
	var set unix.CPUSet
	set.Set(cpu)
	return setAffinity(pid, &set)
}

// setAffinity sets the CPU affinity of every thread of process pid to set
// (see pinProcess) and returns how many threads it set.
func setAffinity(pid int, set *unix.CPUSet) (int, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	done := map[int]bool{}
	for pass := 0; pass < 10; pass++ {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return len(done), fmt.Errorf("threads of process %d: %w", pid, err)
		}
		fresh := 0
		for _, e := range entries {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil {
				if errors.Is(err, unix.ESRCH) { // the thread has exited
					continue
				}
				return len(done), fmt.Errorf("sched_setaffinity(%d) of process %d: %w", tid, pid, err)
			}
			done[tid] = true
			fresh++
		}
		if fresh == 0 {
			return len(done), nil
		}
	}
	return len(done), fmt.Errorf("process %d: threads kept appearing while pinning", pid)
}
