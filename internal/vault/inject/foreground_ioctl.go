//go:build linux || darwin || freebsd || netbsd || dragonfly

package inject

import (
	"os"
	"syscall"
	"unsafe"
)

// inForeground reports whether this process's group is the foreground
// process group of its controlling terminal, that is, whether keys pressed
// on that terminal send signals to this process and to its child alike.
//
// It asks at each signal rather than once, because job control can move
// Warden between foreground and background while the child runs.
func inForeground() bool {
	// /dev/tty is the controlling terminal whatever stdin, stdout and
	// stderr were redirected to; opening it fails if there is none.
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return false
	}
	defer tty.Close()
	var pgrp int32 // pid_t
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, tty.Fd(), uintptr(syscall.TIOCGPGRP), uintptr(unsafe.Pointer(&pgrp))); errno != 0 {
		return false
	}
	return int(pgrp) == syscall.Getpgrp()
}
