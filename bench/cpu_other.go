//go:build !unix

package main

import "time"

// processCPU cannot read process CPU time on this platform; the report
// says so instead of showing made-up figures.
func processCPU() (time.Duration, bool) { return 0, false }
