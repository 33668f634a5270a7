package pgtest

import (
	"errors"
	"os/exec"
	"syscall"
)

// credential is a user and group to run PostgreSQL's programs as.
type credential = syscall.Credential

// runAs makes cmd run as cred (nil: as this process's user).
func runAs(cmd *exec.Cmd, cred *credential) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = cred
}

// stopWithParent has the kernel send cmd SIGQUIT (PostgreSQL's immediate
// shutdown) when the test binary dies.
func stopWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
}

// gone reports whether no process has id pid.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
