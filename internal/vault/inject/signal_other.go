//go:build !unix

package inject

import "os"

// forwardedSignals holds only Interrupt where there are no POSIX signals:
// Warden catches it so that it outlives the child, which the console
// interrupts directly.
var forwardedSignals = []os.Signal{os.Interrupt}

// isKeyboardSignal reports whether the console delivers s to the child
// itself, which it does for Interrupt.
func isKeyboardSignal(s os.Signal) bool { return s == os.Interrupt }

// terminate stops the child; without signals it can only be killed.
func terminate(p *os.Process) error { return p.Kill() }

// killedBy reports no signal: there are none to die of here.
func killedBy(*os.ProcessState) (int, bool) { return 0, false }
