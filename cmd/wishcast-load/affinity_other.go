//go:build !linux

package main

import "errors"

// pinProcess is Linux only (sched_setaffinity on every thread of the
// process); elsewhere it fails. taskset-like tools of the system are the
// way there.
func pinProcess(pid, cpu int) (int, error) {
	return 0, errors.New("-server-cpu and -load-cpu need Linux (sched_setaffinity)")
}
