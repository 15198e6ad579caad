//go:build unix

package inject

import (
	"os"
	"syscall"
)

// forwardedSignals are the signals Run relays to the child: the ones that
// ask a program to stop (INT, TERM, HUP, QUIT), the two left to programs
// to define (USR1, USR2: reload, rotate logs, dump state), and the window
// size change a full-screen program redraws on.
var forwardedSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH,
}

// isKeyboardSignal reports whether a terminal sends s itself, to its whole
// foreground process group, when a key is pressed (Ctrl-C, Ctrl-\).
func isKeyboardSignal(s os.Signal) bool {
	return s == syscall.SIGINT || s == syscall.SIGQUIT
}

// terminate asks the child to exit. It is SIGTERM rather than a kill so
// that the program can flush, release locks and clean up.
func terminate(p *os.Process) error {
	return p.Signal(syscall.SIGTERM)
}

// killedBy returns the number of the signal that killed the process, if
// one did.
func killedBy(ps *os.ProcessState) (int, bool) {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return int(ws.Signal()), true
}
