//go:build !linux

package proc

import "syscall"

// sysProcAttr is the default elsewhere: children of an interrupted run are stopped by the caller's Stop only.
func sysProcAttr() *syscall.SysProcAttr { return nil }
