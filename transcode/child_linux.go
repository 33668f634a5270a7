package transcode

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill FFmpeg if wishcast itself dies
// without stopping it (a crash, SIGKILL): no orphaned encoders.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
