//go:build unix

package callback

import (
	"errors"
	"net"
	"syscall"
)

// connAlive reports whether an idle connection is still open and silent: a peek without waiting finds neither
// the receiver's close (a read of 0 bytes) nor anything it sent unasked.
func connAlive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read yet is what an open, silent connection answers; 0 bytes is its close.
		alive = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		return true // done, whatever it found: never wait here
	})
	return err == nil && alive
}
