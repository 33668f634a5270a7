//go:build !linux

package pgtest

import "os/exec"

// credential is a user and group to run PostgreSQL's programs as; only
// Linux switches to it.
type credential struct{ Uid, Gid uint32 }

// runAs does nothing here: the tests' own user runs PostgreSQL.
func runAs(*exec.Cmd, *credential) {}

// stopWithParent does nothing here: a test binary that dies without Stop
// leaves its PostgreSQL running.
func stopWithParent(*exec.Cmd) {}

// gone reports false: directories of other binaries are left alone.
func gone(int) bool { return false }
