//go:build linux

package main

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinSelf pins this process the way -load-cpu does, including the
// threads started afterwards, and restores its affinity.
func TestPinSelf(t *testing.T) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := setAffinity(os.Getpid(), &orig); err != nil {
			t.Errorf("restore affinity: %v", err)
		}
	})
	cpu := runtime.NumCPU() - 1
	n, err := pinProcess(os.Getpid(), cpu)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Errorf("%d threads pinned", n)
	}
	// A thread started now (a locked goroutine blocked in a syscall
	// forces a new one) inherits the pin.
	done := make(chan struct{})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var b [1]byte
		_, _ = r.Read(b[:])
		close(done)
	}()
	checkPinned(t, os.Getpid(), cpu)
	_ = w.Close()
	<-done
	_ = r.Close()
}

func TestPinErrors(t *testing.T) {
	if _, err := pinProcess(os.Getpid(), 5000); err == nil {
		t.Error("CPU 5000 accepted")
	}
	if _, err := pinProcess(1<<30, 0); err == nil {
		t.Error("a process that does not exist pinned")
	}
}
