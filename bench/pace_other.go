//go:build !linux

package main

import (
	"os"
	"sync"
	"time"
)

// sleepTicker is the portable ticker: time.Sleep, which can wake late when
// the process is idle; the report's send lag shows by how much.
type sleepTicker struct {
	start    time.Time
	interval time.Duration
	seen     int
	once     sync.Once
	stopped  chan struct{}
}

func newTicker(interval time.Duration) (ticker, time.Time, error) {
	now := time.Now()
	return &sleepTicker{start: now, interval: interval, stopped: make(chan struct{})}, now, nil
}

func (t *sleepTicker) wait(deadline time.Time) (int, error) {
	next := t.start.Add(time.Duration(t.seen+1) * t.interval)
	if next.After(deadline) {
		next = deadline
	}
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.stopped:
		return 0, os.ErrDeadlineExceeded
	}
	if !time.Now().Before(deadline) {
		return 0, os.ErrDeadlineExceeded
	}
	due := int(time.Since(t.start)/t.interval) - t.seen
	t.seen += due
	return due, nil
}

func (t *sleepTicker) interrupt() { t.once.Do(func() { close(t.stopped) }) }

func (t *sleepTicker) stop() { t.interrupt() }
