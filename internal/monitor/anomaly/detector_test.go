package anomaly

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
)

func TestSpikes(t *testing.T) {
	tests := []struct {
		name  string
		n     int // calls in the spike minute
		edit  func(*Event)
		rule  Rule
		sev   alert.Severity
		value float64 // the spike minute's total of the metric
	}{
		{"requests", 200, func(e *Event) { e.Tokens, e.Cost = 0, 0 }, RuleRequestSpike, alert.Warning, 200},
		{"tokens", 10, func(e *Event) { e.Tokens = 5000 }, RuleTokenSpike, alert.Warning, 50_000},
		{"cost", 10, func(e *Event) { e.Cost = 20_000_000 }, RuleCostSpike, alert.Critical, 200_000_000},
		{"errors", 10, func(e *Event) { e.Status = 500 }, RuleErrorSpike, alert.Warning, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, s := newTest(t, Config{})
			at := warmUp(d, 40)
			// Ordinary minutes after the warm-up raise nothing.
			for i := range 20 {
				for j := range 8 + i%5 {
					d.Observe(call(at.Add(time.Duration(i)*time.Minute + time.Duration(j)*time.Second)))
				}
			}
			if got := s.rules(); len(got) != 0 {
				t.Fatalf("ordinary traffic raised %v", got)
			}
			at = at.Add(20 * time.Minute)
			for j := range tc.n {
				ev := call(at.Add(time.Duration(j) * 50 * time.Millisecond))
				tc.edit(&ev)
				d.Observe(ev)
			}
			want := []string{string(tc.rule) + "@key:key_a", string(tc.rule) + "@team:ml"}
			if got := s.rules(); !slices.Equal(got, want) {
				t.Fatalf("alerts %v, want %v", got, want)
			}
			for i, a := range s.rule(tc.rule) {
				checkAlert(t, a, tc.rule, []string{alert.SubjectKey, alert.SubjectTeam}[i], []string{"key_a", "ml"}[i])
				if a.Severity != tc.sev || a.Response != alert.ResponseAlert {
					t.Errorf("severity %s, response %s; want %s, alert", a.Severity, a.Response, tc.sev)
				}
				if a.Baseline.Samples < 30 || a.Observed.Value > tc.value || a.Observed.Value <= a.Baseline.Mean {
					t.Errorf("observed %v against baseline %+v", a.Observed, a.Baseline)
				}
			}
		})
	}
}

// TestSpikeRaisedWhenCrossed checks that a spike alerts at the call that
// crosses the threshold, not when the minute ends.
func TestSpikeRaisedWhenCrossed(t *testing.T) {
	d, s := newTest(t, Config{})
	at := warmUp(d, 40)
	n := 0
	for len(s.rule(RuleRequestSpike)) == 0 {
		if n++; n > 1000 {
			t.Fatal("no spike alert after 1000 calls in a minute")
		}
		ev := call(at.Add(time.Duration(n) * 10 * time.Millisecond))
		ev.Tokens, ev.Cost = 0, 0
		d.Observe(ev)
	}
	a := s.rule(RuleRequestSpike)[0]
	b := a.Baseline
	thr := b.Mean + defaults.K*max(b.StdDev, math.Sqrt(b.Mean), defaults.MinRelStdDev*b.Mean)
	if a.Observed.Value != float64(n) || float64(n) <= max(thr, 20) || float64(n-1) > max(thr, 20) {
		t.Fatalf("alert after call %d (observed %v); threshold from its baseline %+v is %.2f", n, a.Observed.Value, b, thr)
	}
	// The rest of the minute does not repeat it.
	for j := range 100 {
		d.Observe(call(at.Add(20*time.Second + time.Duration(j)*time.Millisecond)))
	}
	if got := len(s.rule(RuleRequestSpike)); got != 2 { // key and team
		t.Fatalf("%d spike alerts in one minute, want 2 (key and team)", got)
	}
}

// TestTokenSpikeCountsCalls checks the floor of the token and cost rules:
// a key that makes one large call a minute is not spiking when it makes
// six, though that is far beyond its standard deviation, but is when it
// makes more calls than the request rule lets pass.
func TestTokenSpikeCountsCalls(t *testing.T) {
	big := func(at time.Time) Event {
		ev := call(at)
		ev.Tokens, ev.Cost = 3000, 3000*1000 // $3.00 per million tokens
		return ev
	}
	tests := []struct {
		name string
		n    int // calls in the last minute
		want []string
	}{
		{"a few more calls", 6, nil},
		{"more calls than the request floor", 25, []string{
			"request_spike@key:key_a", "token_spike@key:key_a", "cost_spike@key:key_a",
			"request_spike@team:ml", "token_spike@team:ml", "cost_spike@team:ml",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, s := newTest(t, Config{})
			for i := range 60 {
				d.Observe(big(t0.Add(time.Duration(i) * time.Minute)))
			}
			at := t0.Add(time.Hour)
			for j := range tc.n {
				d.Observe(big(at.Add(time.Duration(j) * time.Second)))
			}
			got, want := s.rules(), slices.Clone(tc.want)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("alerts %v, want %v", got, want)
			}
		})
	}
}

func TestSpikeWaitsForWarmUp(t *testing.T) {
	burst := func(d *Detector, at time.Time) {
		for j := range 500 {
			d.Observe(call(at.Add(time.Duration(j) * time.Millisecond)))
		}
	}
	cold, coldSink := newTest(t, Config{})
	burst(cold, warmUp(cold, 20)) // 19 samples: under the warm-up of 30
	if got := coldSink.rules(); len(got) != 0 {
		t.Fatalf("alerts during warm-up: %v", got)
	}
	warm, warmSink := newTest(t, Config{})
	burst(warm, warmUp(warm, 40))
	if len(warmSink.rule(RuleRequestSpike)) == 0 {
		t.Fatal("the same burst after the warm-up raised nothing")
	}
	// A configured warm-up is honored: 19 samples are enough for 10.
	short, shortSink := newTest(t, Config{Warmup: 10})
	burst(short, warmUp(short, 20))
	if len(shortSink.rule(RuleRequestSpike)) == 0 {
		t.Fatal("a warm-up of 10 was not honored")
	}
}

// history gives key_a calls calls, one a minute from t0, from addrA with
// one user agent, and returns the time after the last.
func history(d *Detector, calls int) time.Time {
	for i := range calls {
		d.Observe(call(t0.Add(time.Duration(i) * time.Minute)))
	}
	return t0.Add(time.Duration(calls) * time.Minute)
}

func TestNewIPRange(t *testing.T) {
	tests := []struct {
		name    string
		history int // calls before
		known   string
		addr    string
		want    string // range alerted, or "" for none
	}{
		{"same /24", 120, "198.51.100.7", "198.51.100.200", ""},
		{"new /24", 120, "198.51.100.7", "203.0.113.5", "203.0.113.0/24"},
		{"mapped address of a known /24", 120, "198.51.100.7", "::ffff:198.51.100.9", ""},
		{"same /48", 120, "2001:db8:1::1", "2001:db8:1:ffff::2", ""},
		{"new /48", 120, "2001:db8:1::1", "2001:db8:2::1", "2001:db8:2::/48"},
		{"during warm-up: too few calls", 80, "198.51.100.7", "203.0.113.5", ""},
		{"during warm-up: too young", 0, "198.51.100.7", "203.0.113.5", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, s := newTest(t, Config{})
			var at time.Time
			if tc.history > 0 {
				for i := range tc.history {
					ev := call(t0.Add(time.Duration(i) * time.Minute))
					ev.ClientIP = netip.MustParseAddr(tc.known)
					d.Observe(ev)
				}
				at = t0.Add(time.Duration(tc.history) * time.Minute)
			} else {
				// 150 calls, but all within ten minutes.
				for i := range 150 {
					ev := call(t0.Add(time.Duration(i) * 4 * time.Second))
					ev.ClientIP = netip.MustParseAddr(tc.known)
					d.Observe(ev)
				}
				at = t0.Add(10 * time.Minute)
			}
			ev := call(at)
			ev.ClientIP = netip.MustParseAddr(tc.addr)
			d.Observe(ev)
			got := s.rule(RuleNewIPRange)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("alerted %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d alerts, want 1 (all: %v)", len(got), s.rules())
			}
			checkAlert(t, got[0], RuleNewIPRange, alert.SubjectKey, "key_a")
			if got[0].Observed.Text != tc.want || !strings.Contains(got[0].Message, tc.want) {
				t.Errorf("observed %+v, message %q; want range %s", got[0].Observed, got[0].Message, tc.want)
			}
			// The range is known now.
			d.Observe(ev)
			if len(s.rule(RuleNewIPRange)) != 1 {
				t.Error("the second call from the new range alerted again")
			}
		})
	}
}

func TestNewUserAgent(t *testing.T) {
	tests := []struct {
		name, ua, want string
	}{
		{"same agent", "openai-python/1.54.3", ""},
		{"version bump", "openai-python/1.55.10", ""},
		{"case only", "OpenAI-Python/1.54.3", ""},
		{"another tool", "curl/8.4.0", "curl/8.4.0"},
		{"no agent", "", `""`},
		{"control characters cleaned", "evil\x1b[31m/1.0", "evil?[31m/1.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, s := newTest(t, Config{})
			ev := call(history(d, 120))
			ev.UserAgent = tc.ua
			d.Observe(ev)
			got := s.rule(RuleNewUserAgent)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("alerted %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d alerts, want 1", len(got))
			}
			checkAlert(t, got[0], RuleNewUserAgent, alert.SubjectKey, "key_a")
			if !strings.Contains(got[0].Message, tc.want) || strings.ContainsRune(got[0].Message, 0x1b) {
				t.Errorf("message %q, want it to show %s and no control characters", got[0].Message, tc.want)
			}
		})
	}
	// During the warm-up a new agent is learned, not alerted.
	d, s := newTest(t, Config{})
	ev := call(history(d, 10))
	ev.UserAgent = "curl/8.4.0"
	d.Observe(ev)
	if got := s.rule(RuleNewUserAgent); len(got) != 0 {
		t.Fatalf("alerted during warm-up: %+v", got)
	}
}

func authFailure(at time.Time, addr netip.Addr, prefix string) Event {
	return Event{Time: at, ClientIP: addr, AuthFailed: true, KeyPrefixTried: prefix, Status: 401}
}

func TestAuthFailuresPerAddress(t *testing.T) {
	tests := []struct {
		name  string
		addr  func(i int) netip.Addr
		gap   time.Duration // between failures
		n     int
		alert string // subject id, or ""
	}{
		{"burst from one address", func(int) netip.Addr { return addrA }, time.Second, 20, "198.51.100.7"},
		{"one short of the burst", func(int) netip.Addr { return addrA }, time.Second, 19, ""},
		{"spread beyond the window", func(int) netip.Addr { return addrA }, time.Minute, 40, ""},
		{"many addresses", func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}) }, time.Second, 60, ""},
		{"rotating within a /64", func(i int) netip.Addr {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
		}, time.Second, 20, "2001:db8::/64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, s := newTest(t, Config{})
			for i := range tc.n {
				d.Observe(authFailure(t0.Add(time.Duration(i)*tc.gap), tc.addr(i), ""))
			}
			got := s.rule(RuleAuthFailuresIP)
			if tc.alert == "" {
				if len(got) != 0 {
					t.Fatalf("alerted %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d alerts, want 1", len(got))
			}
			checkAlert(t, got[0], RuleAuthFailuresIP, alert.SubjectIP, tc.alert)
			if got[0].Observed.Value < 20 || got[0].Baseline.Mean != 20 {
				t.Errorf("observed %+v, baseline %+v", got[0].Observed, got[0].Baseline)
			}
			if len(s.rule(RuleAuthFailuresPrefix)) != 0 {
				t.Error("no prefix was presented, yet a prefix alert was raised")
			}
		})
	}
}

func TestAuthFailuresPerPrefix(t *testing.T) {
	key := fakeKey(t)
	d, s := newTest(t, Config{})
	// Ten addresses, one failure each: no address bursts, the prefix does.
	// The detector is given the whole key and must keep only 8 characters.
	for i := range 10 {
		d.Observe(authFailure(t0.Add(time.Duration(i)*time.Second), netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), key))
	}
	got := s.rule(RuleAuthFailuresPrefix)
	if len(got) != 1 || len(s.rule(RuleAuthFailuresIP)) != 0 {
		t.Fatalf("alerts %v, want one prefix alert", s.rules())
	}
	checkAlert(t, got[0], RuleAuthFailuresPrefix, alert.SubjectKeyPrefix, key[:8])
	for _, a := range s.rule(RuleAuthFailuresPrefix) {
		if text := fmt.Sprintf("%+v", a); strings.Contains(text, key[:9]) {
			t.Fatalf("an alert holds more than 8 characters of the presented key: %s", text)
		}
	}
	for i := range d.shards {
		for p := range d.shards[i].prefixes.m {
			if len(p) > 8 {
				t.Fatalf("the detector keeps a %d-byte prefix", len(p))
			}
		}
	}
	// Different prefixes do not add up.
	d2, s2 := newTest(t, Config{})
	for i := range 30 {
		d2.Observe(authFailure(t0.Add(time.Duration(i)*time.Second), netip.Addr{}, fmt.Sprintf("wdn_%04d", i)))
	}
	if got := s2.rules(); len(got) != 0 {
		t.Fatalf("distinct prefixes alerted: %v", got)
	}
}

func TestGuardBlocksAndInjections(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Event)
		n     int
		rule  Rule
		sev   alert.Severity
		alert bool
	}{
		{"guard blocks", func(e *Event) { e.GuardBlocked, e.Status = true, 400 }, 10, RuleGuardBlocks, alert.Warning, true},
		{"guard blocks below the burst", func(e *Event) { e.GuardBlocked, e.Status = true, 400 }, 9, RuleGuardBlocks, alert.Warning, false},
		{"injections", func(e *Event) { e.Injection = true }, 5, RuleInjections, alert.Critical, true},
		{"injections below the burst", func(e *Event) { e.Injection = true }, 4, RuleInjections, alert.Critical, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, s := newTest(t, Config{})
			for i := range tc.n {
				ev := call(t0.Add(time.Duration(i) * 30 * time.Second))
				tc.edit(&ev)
				d.Observe(ev)
			}
			got := s.rule(tc.rule)
			if !tc.alert {
				if len(got) != 0 {
					t.Fatalf("alerted %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d alerts, want 1 (all %v)", len(got), s.rules())
			}
			checkAlert(t, got[0], tc.rule, alert.SubjectKey, "key_a")
			if got[0].Severity != tc.sev {
				t.Errorf("severity %s, want %s", got[0].Severity, tc.sev)
			}
		})
	}
}

func TestOffHours(t *testing.T) {
	plus5 := time.FixedZone("PLUS5", 5*3600)
	tests := []struct {
		name     string
		loc      *time.Location
		days     int
		at       time.Time
		wantHour string // "" for no alert
	}{
		{"unusual hour after a week", nil, 8, t0.AddDate(0, 0, 8).Add(3 * time.Hour), "03"},
		{"usual hour", nil, 8, t0.AddDate(0, 0, 8).Add(10 * time.Hour), ""},
		{"unusual hour, under a week of history", nil, 6, t0.AddDate(0, 0, 6).Add(3 * time.Hour), ""},
		// In +5, the office hours 09-17 are 04-12 UTC.
		{"usual hour in the configured zone", plus5, 8, t0.AddDate(0, 0, 8).Add(5 * time.Hour), ""},
		{"unusual hour in the configured zone", plus5, 8, t0.AddDate(0, 0, 8).Add(22 * time.Hour), "03"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, s := newTest(t, Config{OffHours: OffHours{Location: tc.loc}})
			loc := tc.loc
			if loc == nil {
				loc = time.UTC
			}
			// 20 calls an hour, 09:00 to 16:59 local, every day.
			for day := range tc.days {
				for h := 9; h < 17; h++ {
					start := time.Date(2026, 3, 2+day, h, 0, 0, 0, loc)
					for m := range 20 {
						d.Observe(call(start.Add(time.Duration(m) * time.Minute)))
					}
				}
			}
			if got := s.rule(RuleOffHours); len(got) != 0 {
				t.Fatalf("alerts during the history: %+v", got)
			}
			d.Observe(call(tc.at))
			d.Observe(call(tc.at.Add(30 * time.Minute))) // same hour: no second alert
			got := s.rule(RuleOffHours)
			if tc.wantHour == "" {
				if len(got) != 0 {
					t.Fatalf("alerted %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d alerts, want 1", len(got))
			}
			checkAlert(t, got[0], RuleOffHours, alert.SubjectKey, "key_a")
			if got[0].Observed.Text != tc.wantHour || got[0].Observed.Value >= 1 || got[0].Baseline.Samples != int64(tc.days*8*20) {
				t.Errorf("observed %+v, baseline %+v", got[0].Observed, got[0].Baseline)
			}
			// The next day at the same hour is news again.
			d.Observe(call(tc.at.AddDate(0, 0, 1)))
			if len(s.rule(RuleOffHours)) != 2 {
				t.Errorf("the next day's off-hours call raised nothing")
			}
		})
	}
}

func TestBudgetThreshold(t *testing.T) {
	d, s := newTest(t, Config{})
	const usd = 1_000_000_000
	d.BudgetThreshold(`team "ml"`, `team "ml"`, 50, 5*usd, 10*usd)
	d.BudgetThreshold(`team "ml"`, `team "ml"`, 80, 8*usd, 10*usd)
	d.BudgetThreshold(`team "ml"`, `team "ml"`, 80, 8*usd+1, 10*usd) // a repeat: deduplicated
	d.BudgetThreshold(`team "ml"`, `team "ml"`, 100, 10*usd, 10*usd)
	got := s.rule(RuleBudget)
	if len(got) != 3 {
		t.Fatalf("%d alerts, want 3", len(got))
	}
	for i, want := range []struct {
		sev alert.Severity
		msg string
	}{{alert.Info, "$5.00 of its $10.00 budget: 50%"}, {alert.Warning, "$8.00 of its $10.00 budget: 80%"}, {alert.Critical, "100%"}} {
		checkAlert(t, got[i], RuleBudget, alert.SubjectAccount, `team "ml"`)
		if got[i].Severity != want.sev || !strings.Contains(got[i].Message, want.msg) {
			t.Errorf("alert %d: %s %q, want %s containing %q", i, got[i].Severity, got[i].Message, want.sev, want.msg)
		}
	}
}

func TestDedupe(t *testing.T) {
	d, s := newTest(t, Config{Dedupe: time.Hour})
	blocks := func(start time.Time) {
		for i := range 10 {
			ev := call(start.Add(time.Duration(i) * time.Second))
			ev.GuardBlocked = true
			d.Observe(ev)
		}
	}
	blocks(t0)
	blocks(t0.Add(20 * time.Minute)) // another burst within the hour
	if got := len(s.rule(RuleGuardBlocks)); got != 1 {
		t.Fatalf("%d alerts for two bursts within the dedupe window, want 1", got)
	}
	blocks(t0.Add(61 * time.Minute))
	if got := len(s.rule(RuleGuardBlocks)); got != 2 {
		t.Fatalf("%d alerts after the dedupe window, want 2", got)
	}
	// Another key is another subject.
	for i := range 10 {
		ev := call(t0.Add(62*time.Minute + time.Duration(i)*time.Second))
		ev.KeyID, ev.GuardBlocked = "key_b", true
		d.Observe(ev)
	}
	if got := len(s.rule(RuleGuardBlocks)); got != 3 {
		t.Fatalf("%d alerts after key_b's burst, want 3", got)
	}
}

func TestSuspendResponse(t *testing.T) {
	sus := &suspender{}
	d, s := newTest(t, Config{
		Responses: map[Rule]Response{RuleGuardBlocks: Suspend, RuleRequestSpike: Suspend},
		Suspend:   sus.Suspend,
	})
	at := warmUp(d, 40)
	for i := range 10 {
		ev := call(at.Add(time.Duration(i) * time.Second))
		ev.GuardBlocked = true
		d.Observe(ev)
	}
	// A request spike: the key's alert suspends, the team's cannot.
	for j := range 300 {
		d.Observe(call(at.Add(2*time.Minute + time.Duration(j)*time.Millisecond)))
	}
	d.Close()
	calls := sus.got()
	slices.Sort(calls) // suspensions run concurrently
	if len(calls) != 2 || !strings.HasPrefix(calls[0], "key_a anomaly rule guard_blocks (alert alr_") ||
		!strings.HasPrefix(calls[1], "key_a anomaly rule request_spike (alert alr_") {
		t.Fatalf("suspend calls %q", calls)
	}
	suspending := 0
	for _, a := range append(s.rule(RuleGuardBlocks), s.rule(RuleRequestSpike)...) {
		if a.Subject.Kind == alert.SubjectTeam {
			if a.Response != alert.ResponseAlert {
				t.Errorf("team alert %s has response %s; a team has no key to suspend", a.Rule, a.Response)
			}
			continue
		}
		suspending++
		named := slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, a.ID) })
		if a.Response != alert.ResponseSuspend || a.Severity != alert.Critical || !named || !strings.Contains(a.Message, "suspended") {
			t.Errorf("suspending alert %+v: want response suspend, critical, its id in the reason (calls %q)", a, calls)
		}
	}
	if suspending != 2 || len(s.rule(RuleRequestSpike)) != 2 {
		t.Fatalf("alerts %v", s.rules())
	}
}

func TestSuspendFailure(t *testing.T) {
	sus := &suspender{err: errors.New("store down")}
	d, s := newTest(t, Config{Responses: map[Rule]Response{RuleInjections: Suspend}, Suspend: sus.Suspend})
	for i := range 5 {
		ev := call(t0.Add(time.Duration(i) * time.Second))
		ev.Injection = true
		d.Observe(ev)
	}
	d.Close()
	got := s.rule(RuleSuspendFailed)
	if len(sus.got()) != 1 || len(got) != 1 {
		t.Fatalf("suspend calls %q, failure alerts %+v", sus.got(), got)
	}
	checkAlert(t, got[0], RuleSuspendFailed, alert.SubjectKey, "key_a")
	if got[0].Severity != alert.Critical || !strings.Contains(got[0].Message, "warden keys suspend key_a") {
		t.Errorf("failure alert %+v", got[0])
	}
}

func TestConfigRefused(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		msg  string
	}{
		{"no sink", func(c *Config) { c.Sink = nil }, "no alert sink"},
		{"suspend without a function", func(c *Config) { c.Responses = map[Rule]Response{RuleOffHours: Suspend} }, "no suspend function"},
		{"suspend on addresses", func(c *Config) {
			c.Responses, c.Suspend = map[Rule]Response{RuleAuthFailuresIP: Suspend}, (&suspender{}).Suspend
		}, "cannot suspend"},
		{"unknown rule", func(c *Config) { c.Responses = map[Rule]Response{"typo": Alert} }, "unknown rule"},
		{"unknown response", func(c *Config) { c.Responses = map[Rule]Response{RuleOffHours: "ignore"} }, "unknown response"},
		{"alpha", func(c *Config) { c.Alpha = 1.5 }, "alpha"},
		{"k", func(c *Config) { c.K = -1 }, "k must be"},
		{"burst", func(c *Config) { c.GuardBlocks = Burst{Count: 3} }, "guard blocks"},
		{"warm-up", func(c *Config) { c.Warmup = 1 }, "warm-up"},
	}
	if _, err := New(Config{Sink: &sink{}}); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Sink: &sink{}}
			tc.edit(&c)
			_, err := New(c)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.msg)
			}
		})
	}
}

func TestMemoryBound(t *testing.T) {
	d, _ := newTest(t, Config{MaxKeys: 64, MaxTeams: 32, MaxAddresses: 64, MaxPrefixes: 64})
	const n = 5000
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second)
		ev := call(at)
		ev.KeyID, ev.Team = fmt.Sprintf("key_%d", i), fmt.Sprintf("team_%d", i)
		d.Observe(ev)
		d.Observe(call(at)) // key_a stays recently used
		d.Observe(authFailure(at, netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), fmt.Sprintf("wdn_%04d", i)))
	}
	tr := d.Tracked()
	if tr.Keys > 64 || tr.Teams > 32 || tr.Addresses > 64 || tr.Prefixes > 64 {
		t.Fatalf("tracked %+v, over the caps", tr)
	}
	if want := int64(4 * n); tr.Evicted < want-64-32-64-64 {
		t.Fatalf("evicted %d, want about %d", tr.Evicted, want)
	}
	// Eviction spares the recently used: key_a kept its whole history.
	st := d.shardOf("key_a")
	if e, ok := st.keys.m["key_a"]; !ok || e.v.calls != n {
		t.Fatalf("key_a was evicted or lost calls (%v)", ok)
	}
}
