package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// itimerspec is struct itimerspec from linux/time.h.
type itimerspec struct {
	interval, value syscall.Timespec
}

// timerfdTicker fires from a periodic timerfd read through the Go
// poller. time.Sleep is no good for the open-loop schedule: when the
// process is idle the runtime waits in epoll with millisecond resolution,
// so the 500µs between sends at 2000 req/s would come out as a millisecond
// or more. A timerfd wakes the poller itself, tens of microseconds after
// the tick, and without holding a thread in a sleeping syscall.
type timerfdTicker struct {
	f   *os.File
	buf [8]byte
}

// newTicker starts a ticker that fires every interval from the returned
// start time on; its first tick is at start+interval.
func newTicker(interval time.Duration) (ticker, time.Time, error) {
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, 1 /* CLOCK_MONOTONIC */, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return nil, time.Time{}, fmt.Errorf("timerfd_create: %w", errno)
	}
	f := os.NewFile(fd, "timerfd")
	spec := itimerspec{interval: syscall.NsecToTimespec(int64(interval)), value: syscall.NsecToTimespec(int64(interval))}
	start := time.Now()
	if _, _, errno := syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		f.Close()
		return nil, time.Time{}, fmt.Errorf("timerfd_settime: %w", errno)
	}
	return &timerfdTicker{f: f}, start, nil
}

// wait blocks until the next tick or deadline and returns how many ticks
// passed since the last call.
func (t *timerfdTicker) wait(deadline time.Time) (int, error) {
	if err := t.f.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, err := t.f.Read(t.buf[:])
	if err != nil {
		return 0, err
	}
	if n != len(t.buf) {
		return 0, errors.New("timerfd: short read")
	}
	return int(binary.NativeEndian.Uint64(t.buf[:])), nil
}

// interrupt makes a blocked wait return at once.
func (t *timerfdTicker) interrupt() { _ = t.f.SetReadDeadline(time.Now()) }

func (t *timerfdTicker) stop() { _ = t.f.Close() }
