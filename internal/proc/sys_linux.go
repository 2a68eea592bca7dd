package proc

import "syscall"

// sysProcAttr has Linux kill the child when the thread that started it dies, so that a crashed or killed test or
// benchmark leaves no servers behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
