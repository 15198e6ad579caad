package limit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// AuthThrottleConfig configures an AuthThrottle. Zero fields take the
// defaults given with each; negative ones are errors.
type AuthThrottleConfig struct {
	// SlowAfter is how many failures within Window an address may make
	// before each further attempt is delayed (default 5).
	SlowAfter int
	// MaxDelay is the longest delay, reached just before the block
	// (default 2s). The delay grows in equal steps from MaxDelay divided
	// by (BlockAfter - SlowAfter) at SlowAfter failures.
	MaxDelay time.Duration
	// BlockAfter is how many failures within Window block the address
	// (default 20). It must be larger than SlowAfter.
	BlockAfter int
	// Window is the span failures are counted over (default 1m).
	Window time.Duration
	// BlockFor is how long a block lasts (default 5m).
	BlockFor time.Duration
	// MaxTracked bounds how many addresses are remembered (default
	// 100000, a few tens of MiB at most); past it the address whose last
	// failure is oldest is forgotten, so a flood of source addresses costs
	// bounded memory. It also bounds the defence: an attacker with more
	// addresses than this can push a blocked one out.
	MaxTracked int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives one record per block (default slog.Default()).
	Logger *slog.Logger
}

// Defaults for AuthThrottleConfig.
const (
	DefaultAuthSlowAfter  = 5
	DefaultAuthMaxDelay   = 2 * time.Second
	DefaultAuthBlockAfter = 20
	DefaultAuthWindow     = time.Minute
	DefaultAuthBlockFor   = 5 * time.Minute
	DefaultAuthMaxTracked = 100_000
)

// AuthThrottle slows down and then blocks client addresses that keep
// failing authentication, to make guessing keys slow.
//
// It is keyed by the client address alone, never by the key presented:
// throttling a key would let anyone lock its owner out by failing on
// purpose. IPv4 addresses count one by one; IPv6 addresses are grouped by
// /64, the block one subscriber is usually given, so hopping within it
// does not reset the count. Addresses that can not be determined (the zero
// netip.Addr) share one count.
//
// The gateway calls Check before authenticating, waits out the delay or
// refuses when blocked, then reports the outcome with Failure or Success.
type AuthThrottle struct {
	cfg AuthThrottleConfig

	mu             sync.RWMutex
	clients        map[netip.Prefix]*authClient
	newest, oldest *authClient // ordered by last failure
}

// authClient is the failure record of one address or /64. Failures are
// counted in fixed windows and weighed as a sliding window: the previous
// window's count, scaled by how much of it still overlaps the last Window,
// plus the current one's. That takes constant memory per address and has
// no edge at which a burst of failures is forgotten all at once.
type authClient struct {
	key          netip.Prefix
	winStart     time.Time
	prev, cur    int
	last         time.Time // the last failure
	blockedUntil time.Time
	newer, older *authClient
}

// NewAuthThrottle validates cfg, fills in its defaults and returns an
// AuthThrottle tracking no address.
func NewAuthThrottle(cfg AuthThrottleConfig) (*AuthThrottle, error) {
	var problems []error
	for _, f := range []struct {
		name string
		neg  bool
	}{
		{"SlowAfter", cfg.SlowAfter < 0},
		{"MaxDelay", cfg.MaxDelay < 0},
		{"BlockAfter", cfg.BlockAfter < 0},
		{"Window", cfg.Window < 0},
		{"BlockFor", cfg.BlockFor < 0},
		{"MaxTracked", cfg.MaxTracked < 0},
	} {
		if f.neg {
			problems = append(problems, fmt.Errorf("%s is negative; leave it zero for the default", f.name))
		}
	}
	cfg.SlowAfter = orDefault(cfg.SlowAfter, DefaultAuthSlowAfter)
	cfg.MaxDelay = orDefault(cfg.MaxDelay, DefaultAuthMaxDelay)
	cfg.BlockAfter = orDefault(cfg.BlockAfter, DefaultAuthBlockAfter)
	cfg.Window = orDefault(cfg.Window, DefaultAuthWindow)
	cfg.BlockFor = orDefault(cfg.BlockFor, DefaultAuthBlockFor)
	cfg.MaxTracked = orDefault(cfg.MaxTracked, DefaultAuthMaxTracked)
	if cfg.BlockAfter <= cfg.SlowAfter {
		problems = append(problems, fmt.Errorf("BlockAfter (%d) must be larger than SlowAfter (%d), or the slow-down never happens", cfg.BlockAfter, cfg.SlowAfter))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("limit: auth throttle: %w", errors.Join(problems...))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &AuthThrottle{cfg: cfg, clients: make(map[netip.Prefix]*authClient)}, nil
}

// orDefault is v, or def when v is not positive (a negative v has
// already been reported as a problem).
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// throttleKey is the unit failures are counted by: an IPv4 address, or
// the /64 of an IPv6 one.
func throttleKey(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	switch {
	case a.Is4():
		return netip.PrefixFrom(a, 32)
	case a.Is6():
		p, _ := a.Prefix(64)
		return p
	}
	return netip.Prefix{}
}

// Check says how an attempt from addr must be treated: delayed by delay
// before it is authenticated, or refused for retryAfter when blocked. It
// records nothing.
func (a *AuthThrottle) Check(addr netip.Addr) (delay time.Duration, blocked bool, retryAfter time.Duration) {
	key, now := throttleKey(addr), a.cfg.Now()
	a.mu.RLock()
	defer a.mu.RUnlock()
	c := a.clients[key]
	if c == nil {
		return 0, false, 0
	}
	if now.Before(c.blockedUntil) {
		return 0, true, c.blockedUntil.Sub(now)
	}
	return a.delay(c.failures(now, a.cfg.Window)), false, 0
}

func (a *AuthThrottle) delay(failures float64) time.Duration {
	over := int64(failures) - int64(a.cfg.SlowAfter) + 1
	if over <= 0 {
		return 0
	}
	steps := int64(a.cfg.BlockAfter - a.cfg.SlowAfter)
	return time.Duration(float64(a.cfg.MaxDelay) * float64(min(over, steps)) / float64(steps))
}

// Failure records a failed authentication from addr, blocking it once it
// reaches BlockAfter failures within Window. Failures during a block do
// not extend it.
func (a *AuthThrottle) Failure(addr netip.Addr) {
	key, now := throttleKey(addr), a.cfg.Now()
	a.mu.Lock()
	c := a.clients[key]
	if c == nil {
		a.dropStale(now)
		if len(a.clients) >= a.cfg.MaxTracked {
			a.remove(a.oldest)
		}
		c = &authClient{key: key, winStart: now}
		a.clients[key] = c
	} else {
		a.unlink(c)
	}
	a.pushNewest(c)
	c.last = now
	if now.Before(c.blockedUntil) {
		a.mu.Unlock()
		return
	}
	c.roll(now, a.cfg.Window)
	c.cur++
	failures := c.failures(now, a.cfg.Window)
	blocked := failures >= float64(a.cfg.BlockAfter)
	if blocked {
		c.blockedUntil = now.Add(a.cfg.BlockFor)
		c.prev, c.cur = 0, 0
	}
	a.mu.Unlock()
	if blocked {
		a.cfg.Logger.Warn("auth throttle: blocking client after repeated authentication failures",
			"client_ip", key.String(), "decision", "block", "reason", "auth_failures",
			"failures", int(failures), "block_for", a.cfg.BlockFor)
	}
}

// Success records a successful authentication from addr. It forgives the
// failures counted so far, so a user who mistyped a key is not slowed, but
// a block in progress stands: one valid key must not unlock an address
// that was guessing others.
func (a *AuthThrottle) Success(addr netip.Addr) {
	key := throttleKey(addr)
	// Every authenticated request lands here; most addresses are not
	// tracked, and for them a read lock is enough.
	a.mu.RLock()
	_, tracked := a.clients[key]
	a.mu.RUnlock()
	if !tracked {
		return
	}
	now := a.cfg.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clients[key]
	if c == nil {
		return
	}
	if now.Before(c.blockedUntil) {
		c.prev, c.cur = 0, 0
		return
	}
	a.remove(c)
}

// Tracked is the number of addresses (or /64s) remembered, for metrics.
func (a *AuthThrottle) Tracked() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.clients)
}

// roll moves c's windows forward to the one holding now.
func (c *authClient) roll(now time.Time, window time.Duration) {
	elapsed := now.Sub(c.winStart)
	if elapsed < window {
		return
	}
	k := elapsed / window
	if k == 1 {
		c.prev = c.cur
	} else {
		c.prev = 0
	}
	c.cur = 0
	c.winStart = c.winStart.Add(k * window)
}

// failures is the sliding-window estimate of failures in the last window.
func (c *authClient) failures(now time.Time, window time.Duration) float64 {
	prev, cur, elapsed := c.prev, c.cur, now.Sub(c.winStart)
	if elapsed >= window {
		k := elapsed / window
		if k == 1 {
			prev = cur
		} else {
			prev = 0
		}
		cur = 0
		elapsed -= k * window
	}
	elapsed = max(elapsed, 0)
	return float64(prev)*float64(window-elapsed)/float64(window) + float64(cur)
}

// dropStale forgets the oldest clients while they carry no weight: not
// blocked and last failing over two windows ago, so their count is zero.
func (a *AuthThrottle) dropStale(now time.Time) {
	for c := a.oldest; c != nil && !now.Before(c.blockedUntil) && now.Sub(c.last) >= 2*a.cfg.Window; c = a.oldest {
		a.remove(c)
	}
}

func (a *AuthThrottle) remove(c *authClient) {
	a.unlink(c)
	delete(a.clients, c.key)
}

func (a *AuthThrottle) unlink(c *authClient) {
	if c.newer != nil {
		c.newer.older = c.older
	} else {
		a.newest = c.older
	}
	if c.older != nil {
		c.older.newer = c.newer
	} else {
		a.oldest = c.newer
	}
	c.newer, c.older = nil, nil
}

func (a *AuthThrottle) pushNewest(c *authClient) {
	c.older = a.newest
	if a.newest != nil {
		a.newest.newer = c
	} else {
		a.oldest = c
	}
	a.newest = c
}
