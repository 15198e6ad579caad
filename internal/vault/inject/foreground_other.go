//go:build !(linux || darwin || freebsd || netbsd || dragonfly)

package inject

// inForeground cannot ask the terminal on this platform, so it reports
// false: every signal is forwarded, at the cost of a possible second
// delivery of Ctrl-C.
func inForeground() bool { return false }
