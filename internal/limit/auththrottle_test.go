package limit

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// newThrottle returns a throttle on a test clock: slow after 2 failures,
// 1s more delay per failure up to 4s, blocked at 6 for 10 minutes.
func newThrottle(t *testing.T, maxTracked int) (*AuthThrottle, *clock, *bytes.Buffer) {
	t.Helper()
	clk := newClock()
	var logs bytes.Buffer
	a, err := NewAuthThrottle(AuthThrottleConfig{
		SlowAfter:  2,
		MaxDelay:   4 * time.Second,
		BlockAfter: 6,
		Window:     time.Minute,
		BlockFor:   10 * time.Minute,
		MaxTracked: maxTracked,
		Now:        clk.Now,
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, clk, &logs
}

type verdict struct {
	delay      time.Duration
	blocked    bool
	retryAfter time.Duration
}

func check(a *AuthThrottle, addr netip.Addr) verdict {
	d, b, r := a.Check(addr)
	return verdict{d, b, r}
}

func TestAuthThrottleSlowsThenBlocks(t *testing.T) {
	a, _, logs := newThrottle(t, 0)
	addr := netip.MustParseAddr("198.51.100.7")
	want := []verdict{
		{},                       // 0 failures
		{},                       // 1
		{delay: time.Second},     // 2: slow from here
		{delay: 2 * time.Second}, // 3
		{delay: 3 * time.Second}, // 4
		{delay: 4 * time.Second}, // 5: the longest delay
		{blocked: true, retryAfter: 10 * time.Minute}, // 6: blocked
	}
	for failures, w := range want {
		if got := check(a, addr); got != w {
			t.Fatalf("after %d failures Check = %+v, want %+v", failures, got, w)
		}
		a.Failure(addr)
	}
	if !strings.Contains(logs.String(), "decision=block") || !strings.Contains(logs.String(), "client_ip=198.51.100.7/32") {
		t.Fatalf("the block was not logged with decision and client_ip: %q", logs.String())
	}
	if n := strings.Count(logs.String(), "decision=block"); n != 1 {
		t.Fatalf("%d block records, want 1", n)
	}
}

func TestAuthThrottleBlockExpires(t *testing.T) {
	a, clk, _ := newThrottle(t, 0)
	addr := netip.MustParseAddr("198.51.100.7")
	for range 6 {
		a.Failure(addr)
	}
	clk.Advance(4 * time.Minute)
	a.Failure(addr) // during the block: must not extend it
	if got := check(a, addr); got != (verdict{blocked: true, retryAfter: 6 * time.Minute}) {
		t.Fatalf("Check 4m into the block = %+v", got)
	}
	clk.Advance(6*time.Minute - time.Nanosecond)
	if got := check(a, addr); got != (verdict{blocked: true, retryAfter: time.Nanosecond}) {
		t.Fatalf("Check 1ns before the end = %+v", got)
	}
	clk.Advance(time.Nanosecond)
	if got := check(a, addr); got != (verdict{}) {
		t.Fatalf("Check after the block = %+v, want a clean slate", got)
	}
	a.Failure(addr)
	if got := check(a, addr); got != (verdict{}) {
		t.Fatalf("one failure after the block = %+v, want no delay", got)
	}
}

func TestAuthThrottleWindowSlides(t *testing.T) {
	tests := []struct {
		name    string
		spacing time.Duration // between failures
		n       int
		wait    time.Duration // after the last one
		want    verdict
	}{
		{"failures long apart never add up", 2 * time.Minute, 20, 0, verdict{}},
		{"a burst is forgotten after two windows", 0, 5, 2 * time.Minute, verdict{}},
		// 4 failures in the previous window, half of it still in the
		// last minute: they weigh 2, which is the slow-down threshold.
		{"the previous window counts for its overlap", 0, 4, 90 * time.Second, verdict{delay: time.Second}},
		{"a burst within the window counts fully", time.Second, 5, 0, verdict{delay: 4 * time.Second}},
		// Failures at 0s, 20s, 40s, 60s, 80s: no fixed minute holds more
		// than 3, but the last minute holds 4.
		{"no edge at which failures are forgotten", 20 * time.Second, 5, 0, verdict{delay: 3 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, clk, _ := newThrottle(t, 0)
			addr := netip.MustParseAddr("203.0.113.9")
			for range tt.n {
				a.Failure(addr)
				clk.Advance(tt.spacing)
			}
			clk.Advance(tt.wait - tt.spacing)
			if got := check(a, addr); got != tt.want {
				t.Fatalf("Check = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAuthThrottleSuccess(t *testing.T) {
	a, clk, _ := newThrottle(t, 0)
	addr := netip.MustParseAddr("192.0.2.44")
	for range 4 {
		a.Failure(addr)
	}
	if got := check(a, addr); got.delay == 0 {
		t.Fatalf("4 failures did not slow down: %+v", got)
	}
	a.Success(addr)
	if got := check(a, addr); got != (verdict{}) || a.Tracked() != 0 {
		t.Fatalf("after a success Check = %+v with %d tracked, want forgotten", got, a.Tracked())
	}

	for range 6 {
		a.Failure(addr)
	}
	a.Success(addr)
	if got := check(a, addr); !got.blocked {
		t.Fatalf("a success lifted a block: %+v", got)
	}
	clk.Advance(10 * time.Minute)
	if got := check(a, addr); got != (verdict{}) {
		t.Fatalf("after the block Check = %+v, want clean", got)
	}
	a.Success(netip.MustParseAddr("192.0.2.45")) // untracked: nothing to do
	if a.Tracked() != 1 {
		t.Fatalf("Tracked = %d, want 1", a.Tracked())
	}
}

func TestAuthThrottleGrouping(t *testing.T) {
	tests := []struct {
		name       string
		fail, same string // same is in fail's group
		other      string // other is not
	}{
		{"IPv4 counts each address", "192.0.2.1", "192.0.2.1", "192.0.2.2"},
		{"IPv6 groups by /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:3::1"},
		{"IPv4-mapped IPv6 is the IPv4 address", "::ffff:192.0.2.1", "192.0.2.1", "::ffff:192.0.2.2"},
		{"zones are ignored", "fe80::1%eth0", "fe80::2%eth1", "fe80:0:0:1::1"},
		{"an unknown address is one group", "", "", "192.0.2.1"},
	}
	parse := func(s string) netip.Addr {
		if s == "" {
			return netip.Addr{}
		}
		return netip.MustParseAddr(s)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, _ := newThrottle(t, 0)
			for range 6 {
				a.Failure(parse(tt.fail))
			}
			if got := check(a, parse(tt.same)); !got.blocked {
				t.Errorf("%s in the same group is not blocked: %+v", tt.same, got)
			}
			if got := check(a, parse(tt.other)); got != (verdict{}) {
				t.Errorf("%s in another group is affected: %+v", tt.other, got)
			}
		})
	}
}

// TestAuthThrottleAttackerCanNotLockOutKey: an attacker presenting a
// victim's key from one address is blocked, and the victim, presenting the
// same key from its own address, is not slowed at all. The throttle never
// sees the key, so this holds by construction; the test keeps it so.
func TestAuthThrottleAttackerCanNotLockOutKey(t *testing.T) {
	a, _, _ := newThrottle(t, 0)
	attacker := netip.MustParseAddr("198.51.100.66")
	victim := netip.MustParseAddr("203.0.113.10")
	for range 50 {
		a.Failure(attacker) // wrong secret for the victim's key id
	}
	if got := check(a, attacker); !got.blocked {
		t.Fatalf("attacker not blocked: %+v", got)
	}
	if got := check(a, victim); got != (verdict{}) {
		t.Fatalf("victim affected by the attacker: %+v", got)
	}
}

func TestAuthThrottleMemoryIsBounded(t *testing.T) {
	const maxTracked = 100
	a, clk, _ := newThrottle(t, maxTracked)
	addrAt := func(i int) netip.Addr {
		return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	for i := range 10_000 {
		a.Failure(addrAt(i))
		a.Failure(addrAt(i))
		a.Failure(addrAt(i))
		if n := a.Tracked(); n > maxTracked {
			t.Fatalf("tracking %d addresses after %d, max %d", n, i+1, maxTracked)
		}
	}
	if got := check(a, addrAt(9_999)); got.delay == 0 {
		t.Fatalf("the newest address was forgotten: %+v", got)
	}
	if got := check(a, addrAt(0)); got != (verdict{}) {
		t.Fatalf("the oldest address was kept: %+v", got)
	}

	// Addresses that stopped failing two windows ago are dropped as new
	// ones arrive, before anything live is evicted.
	clk.Advance(2 * time.Minute)
	a.Failure(addrAt(20_000))
	if n := a.Tracked(); n != 1 {
		t.Fatalf("Tracked = %d after the others went stale, want 1", n)
	}
}

func TestAuthThrottleConfig(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		clk := newClock()
		a, err := NewAuthThrottle(AuthThrottleConfig{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		addr := netip.MustParseAddr("192.0.2.1")
		for range DefaultAuthSlowAfter - 1 {
			a.Failure(addr)
		}
		if got := check(a, addr); got != (verdict{}) {
			t.Fatalf("slowed before %d failures: %+v", DefaultAuthSlowAfter, got)
		}
		a.Failure(addr)
		steps := DefaultAuthBlockAfter - DefaultAuthSlowAfter
		if got := check(a, addr); got.delay != DefaultAuthMaxDelay/time.Duration(steps) {
			t.Fatalf("after %d failures delay = %v, want %v", DefaultAuthSlowAfter, got.delay, DefaultAuthMaxDelay/time.Duration(steps))
		}
		for range steps - 1 {
			a.Failure(addr)
		}
		if got := check(a, addr); got.delay != DefaultAuthMaxDelay {
			t.Fatalf("before the block delay = %v, want %v", got.delay, DefaultAuthMaxDelay)
		}
		a.Failure(addr)
		if got := check(a, addr); !got.blocked || got.retryAfter != DefaultAuthBlockFor {
			t.Fatalf("after %d failures Check = %+v, want blocked for %v", DefaultAuthBlockAfter, got, DefaultAuthBlockFor)
		}
	})
	for _, tt := range []struct {
		name string
		cfg  AuthThrottleConfig
		want []string
	}{
		{"negatives", AuthThrottleConfig{SlowAfter: -1, Window: -time.Second, MaxTracked: -5}, []string{"SlowAfter", "Window", "MaxTracked"}},
		{"block before slow", AuthThrottleConfig{SlowAfter: 10, BlockAfter: 10}, []string{"BlockAfter (10) must be larger than SlowAfter (10)"}},
		{"block before the default slow", AuthThrottleConfig{BlockAfter: 3}, []string{"BlockAfter (3)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewAuthThrottle(tt.cfg)
			if err == nil || a != nil {
				t.Fatalf("NewAuthThrottle(%+v) = %v, %v; want an error", tt.cfg, a, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestAuthThrottleConcurrentUse(t *testing.T) {
	a, _, _ := newThrottle(t, 50)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				addr := netip.MustParseAddr(fmt.Sprintf("2001:db8:%x:%x::1", g, i%80))
				a.Check(addr)
				if i%5 == 0 {
					a.Success(addr)
				} else {
					a.Failure(addr)
				}
			}
		})
	}
	wg.Wait()
	if n := a.Tracked(); n > 50 || n == 0 {
		t.Fatalf("Tracked = %d, want 1..50", n)
	}
}
