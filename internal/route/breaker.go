package route

import (
	"sync"
	"sync/atomic"
	"time"
)

// Breaker states, kept in the low bits of breaker.snap.
const (
	closed   = 0
	open     = 1
	halfOpen = 2
)

// breaker is one deployment's circuit breaker. The hot path (closed, no
// recent failures) is a few atomic loads; transitions take the mutex, which
// is never held across an attempt.
//
// Every transition, and every trial admitted in half-open, starts a new
// generation. A result reported under an older generation is ignored, so a
// slow call admitted before the breaker opened cannot close it again, and a
// trial presumed lost cannot overrule its successor.
type breaker struct {
	// snap is gen<<2 | state, so that one load gives a consistent pair.
	snap atomic.Uint64
	// fails counts consecutive failures while closed; written under mu,
	// read without it on the fast path.
	fails atomic.Int32

	mu       sync.Mutex
	openedAt time.Time // when the breaker last opened
	trialAt  time.Time // half-open: when the trial in flight began; zero if none

	threshold int32
	cooldown  time.Duration
}

// ticket is a permission to call, to be handed back with the result.
type ticket struct {
	gen   uint64
	trial bool
}

func (b *breaker) set(gen uint64, state uint64) { b.snap.Store(gen<<2 | state) }

// allow decides whether a call may go to the deployment now. When it may
// not, at is when it next might.
func (b *breaker) allow(now time.Time) (tk ticket, ok bool, at time.Time) {
	s := b.snap.Load()
	if s&3 == closed {
		return ticket{gen: s >> 2}, true, time.Time{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s = b.snap.Load()
	gen := s >> 2
	switch s & 3 {
	case closed:
		return ticket{gen: gen}, true, time.Time{}
	case open:
		if now.Sub(b.openedAt) < b.cooldown {
			return ticket{}, false, b.openedAt.Add(b.cooldown)
		}
	default: // half-open
		if !b.trialAt.IsZero() && now.Sub(b.trialAt) < b.cooldown {
			return ticket{}, false, b.trialAt.Add(b.cooldown)
		}
	}
	gen++
	b.set(gen, halfOpen)
	b.trialAt = now
	return ticket{gen: gen, trial: true}, true, time.Time{}
}

// success reports a successful call.
func (b *breaker) success(tk ticket) {
	if s := b.snap.Load(); s&3 == closed && b.fails.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.snap.Load()
	if s>>2 != tk.gen {
		return
	}
	switch s & 3 {
	case closed:
		b.fails.Store(0)
	case halfOpen:
		b.fails.Store(0)
		b.trialAt = time.Time{}
		b.set(tk.gen+1, closed)
	}
}

// failure reports a failure that is the deployment's fault, and whether
// the breaker is now open.
func (b *breaker) failure(tk ticket, now time.Time) (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.snap.Load()
	if s>>2 != tk.gen {
		return s&3 != closed
	}
	switch s & 3 {
	case closed:
		f := b.fails.Load() + 1
		if f < b.threshold {
			b.fails.Store(f)
			return false
		}
	case open:
		return true
	}
	b.fails.Store(0)
	b.trialAt = time.Time{}
	b.openedAt = now
	b.set(tk.gen+1, open)
	return true
}

// release hands back a ticket whose call says nothing about the
// deployment's health (a refused request, a caller gone), so that a
// half-open breaker admits the next trial at once.
func (b *breaker) release(tk ticket) {
	if !tk.trial {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.snap.Load(); s>>2 == tk.gen && s&3 == halfOpen {
		b.trialAt = time.Time{}
	}
}

// stateAt names the state as seen at now: an open breaker whose cooldown
// has passed is half-open, since the next call is its trial.
func (b *breaker) stateAt(now time.Time) string {
	if b.snap.Load()&3 == closed {
		return "closed"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.snap.Load() & 3 {
	case closed:
		return "closed"
	case open:
		if now.Sub(b.openedAt) < b.cooldown {
			return "open"
		}
	}
	return "half-open"
}
