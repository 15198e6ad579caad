package anomaly

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
)

// The tests in this file replay a synthetic but realistic week of traffic
// through the detector with its default configuration: 20 keys in three
// teams, busy office hours and quiet nights and weekends, Poisson noise in
// the calls per minute, a steady 1.5% of errors, each key on its own one
// or two addresses and one user agent, a handful of failed
// authentications and one or two guardrail blocks a day. Such traffic must
// raise nothing; each rule must fire, alone, on a scenario injected into
// the last day.

// normalDays is how long the replay runs: a week for the off-hours
// histogram to count (its default history), then two more days, a Monday
// and a Tuesday, on which every rule is armed.
const normalDays = 9

// lastDay is the start of the replay's last day, when scenarios happen.
var lastDay = t0.AddDate(0, 0, normalDays-1)

// usage is how a key is used over the day.
type usage int

const (
	// office keys are driven by people or their tools: calls from 07:00,
	// ramping up to a plateau with a lunch dip, ending at 20:00; a weekend
	// has a twentieth of a weekday's calls.
	office usage = iota
	// service keys serve a product around the clock: a night at a quarter
	// of the day's rate; a weekend has half a weekday's calls.
	service
)

// profile is the relative call rate at each hour boundary, 00:00 to
// 24:00; the rate in between is interpolated, so that traffic ramps up
// over an hour rather than doubling within a minute. The office day ends
// with a step down at 20:00: only rises matter to the spike rules, and a
// ramp down to zero would leave a last hour with a sliver of the calls,
// which is what the off-hours rule is there to report.
var profile = [...][25]float64{
	office: {
		0, 0, 0, 0, 0, 0, 0, // 00:00-06:00
		0, 0.6, 1, 1, 1, 0.75, 0.8, 1, 1, 1, 0.8, 0.5, 0.3, // 07:00-19:00
		0, 0, 0, 0, 0, // 20:00-24:00
	},
	service: {
		0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.35, 0.6, 1, 1, 1, 0.85,
		0.9, 1, 1, 1, 0.85, 0.7, 0.5, 0.4, 0.35, 0.3, 0.25, 0.25,
	},
}

// weekend is the share of a weekday's calls a key makes on a weekend day.
var weekend = [...]float64{office: 0.05, service: 0.5}

// rate is the relative call rate of u at minute m of the day.
func rate(u usage, m int) float64 {
	if u == office && (m < 7*60 || m >= 20*60) {
		return 0
	}
	h, f := m/60, float64(m%60)/60
	if u == office && h == 19 {
		return profile[u][19] // flat to the step down
	}
	return profile[u][h]*(1-f) + profile[u][h+1]*f
}

// dayWeight is the sum of rate over a day's minutes, so that a key's
// calls per day spread as calls per minute.
func dayWeight(u usage) float64 {
	var w float64
	for m := range 24 * 60 {
		w += rate(u, m)
	}
	return w
}

// normalKey is one key of the normal week.
type normalKey struct {
	id, team string
	usage    usage
	perDay   float64 // calls on a weekday
	ua       string
	addrs    []string // in one /24
	// Tokens per call are drawn uniformly from tokens; the cost is the
	// tokens at nanoPerToken (150 is $0.15 per million tokens).
	tokens       [2]int64
	nanoPerToken int64
}

var normalKeys = []normalKey{
	{"key_ml_nb1", "ml", office, 600, "python-requests/2.32.3", []string{"10.1.20.11"}, [2]int64{300, 3000}, 3000},
	{"key_ml_nb2", "ml", office, 450, "openai-python/1.54.3", []string{"10.1.20.12", "10.1.20.40"}, [2]int64{300, 3000}, 3000},
	{"key_ml_eval", "ml", service, 3000, "openai-python/1.52.0", []string{"10.1.30.5", "10.1.30.6"}, [2]int64{500, 4000}, 2500},
	{"key_ml_embed", "ml", service, 4000, "openai-python/1.52.0", []string{"10.1.30.7"}, [2]int64{50, 800}, 20},
	{"key_ml_agent", "ml", office, 1500, "langchain-python/0.3.7", []string{"10.1.20.30"}, [2]int64{800, 6000}, 1000},
	{"key_ml_research", "ml", office, 800, "anthropic-python/0.39.0", []string{"10.1.20.31", "10.1.20.32"}, [2]int64{500, 5000}, 3000},
	{"key_ml_ci", "ml", office, 500, "Go-http-client/1.1", []string{"10.1.40.2"}, [2]int64{100, 1500}, 150},
	{"key_web_chat", "web", service, 5000, "Go-http-client/2.0", []string{"10.2.0.10", "10.2.0.11"}, [2]int64{200, 2500}, 600},
	{"key_web_search", "web", service, 3500, "Go-http-client/2.0", []string{"10.2.0.12"}, [2]int64{100, 1200}, 150},
	{"key_web_summary", "web", service, 2000, "node-fetch/3.3.2", []string{"10.2.0.20", "10.2.0.21"}, [2]int64{1000, 6000}, 600},
	{"key_web_support", "web", office, 1200, "node-fetch/3.3.2", []string{"10.2.1.5"}, [2]int64{300, 2500}, 3000},
	{"key_web_dev1", "web", office, 400, "curl/8.5.0", []string{"10.2.5.101"}, [2]int64{100, 2000}, 3000},
	{"key_web_dev2", "web", office, 400, "httpie/3.2.4", []string{"10.2.5.102", "10.2.5.140"}, [2]int64{100, 2000}, 3000},
	{"key_web_staging", "web", office, 700, "Go-http-client/2.0", []string{"10.2.9.10"}, [2]int64{200, 2500}, 600},
	{"key_data_etl", "data", service, 2500, "python-httpx/0.27.2", []string{"10.3.0.5"}, [2]int64{500, 3000}, 150},
	{"key_data_classify", "data", service, 2000, "python-httpx/0.27.2", []string{"10.3.0.6", "10.3.0.7"}, [2]int64{200, 1000}, 150},
	{"key_data_an1", "data", office, 500, "openai-python/1.54.3", []string{"10.3.8.21"}, [2]int64{300, 4000}, 3000},
	{"key_data_an2", "data", office, 450, "R-httr2/1.0.5", []string{"10.3.8.22"}, [2]int64{300, 4000}, 3000},
	{"key_data_dash", "data", office, 900, "grafana-llm/0.10.1", []string{"10.3.9.2"}, [2]int64{200, 1500}, 600},
	{"key_data_report", "data", office, 600, "python-httpx/0.27.2", []string{"10.3.9.3"}, [2]int64{1000, 8000}, 1000},
}

// poisson draws a Poisson variate with mean l (small: Knuth's method).
func poisson(r *rand.Rand, l float64) int {
	lim, n, p := math.Exp(-l), 0, r.Float64()
	for p > lim {
		n++
		p *= r.Float64()
	}
	return n
}

// normalWeek generates the week's events, in time order, from seed.
func normalWeek(seed uint64) []Event {
	r := rand.New(rand.NewPCG(seed, 3))
	keys := make([]struct {
		normalKey
		addrs  []netip.Addr
		stale  string // the prefix of an old key its owner sometimes still tries
		perMin float64
	}, len(normalKeys))
	for i, k := range normalKeys {
		keys[i].normalKey = k
		for _, a := range k.addrs {
			keys[i].addrs = append(keys[i].addrs, netip.MustParseAddr(a))
		}
		keys[i].stale = fmt.Sprintf("wdn_%04x", r.IntN(1<<16))
		keys[i].perMin = k.perDay / dayWeight(k.usage)
	}
	var evs, minute []Event
	for day := range normalDays {
		date := t0.AddDate(0, 0, day)
		isWeekend := date.Weekday() == time.Saturday || date.Weekday() == time.Sunday
		// A handful of failed authentications and one or two guard blocks,
		// at random office minutes.
		authAt := map[int]bool{}
		for range 3 + r.IntN(4) {
			authAt[8*60+r.IntN(11*60)] = true
		}
		guardAt := map[int]bool{}
		for range 1 + r.IntN(2) {
			guardAt[9*60+r.IntN(8*60)] = true
		}
		for m := range 24 * 60 {
			start := date.Add(time.Duration(m) * time.Minute)
			at := func() time.Time { return start.Add(time.Duration(r.Int64N(int64(time.Minute)))) }
			minute = minute[:0]
			for _, k := range keys {
				l := k.perMin * rate(k.usage, m)
				if isWeekend {
					l *= weekend[k.usage]
				}
				for range poisson(r, l) {
					ev := Event{Time: at(), KeyID: k.id, Team: k.team, ClientIP: k.addrs[r.IntN(len(k.addrs))],
						UserAgent: k.ua, Status: 200}
					if r.Float64() < 0.015 {
						ev.Status = []int{400, 429, 429, 500, 502, 503}[r.IntN(6)]
					} else {
						ev.Tokens = k.tokens[0] + r.Int64N(k.tokens[1]-k.tokens[0]+1)
						ev.Cost = ev.Tokens * k.nanoPerToken
					}
					minute = append(minute, ev)
				}
			}
			if authAt[m] {
				// Someone still trying an old key from their usual address.
				k := keys[r.IntN(len(keys))]
				minute = append(minute, Event{Time: at(), ClientIP: k.addrs[0], UserAgent: k.ua, Status: 401,
					AuthFailed: true, KeyPrefixTried: k.stale})
			}
			if guardAt[m] && len(minute) > 0 {
				ev := &minute[r.IntN(len(minute))]
				ev.GuardBlocked, ev.Status, ev.Tokens, ev.Cost = true, 400, 0, 0
				ev.Injection = r.IntN(2) == 0
			}
			slices.SortFunc(minute, func(a, b Event) int { return a.Time.Compare(b.Time) })
			evs = append(evs, minute...)
		}
	}
	return evs
}

// scenario is an anomaly injected into the last day of the normal week.
type scenario struct {
	name string
	// at is when it starts; its alerts must be raised within
	// scenarioWindow of it.
	at time.Time
	// extra events, in time order, merged into the week; events for which
	// drop reports true are left out.
	extra []Event
	drop  func(*Event) bool
	// act, if set, runs when the replay's clock reaches at.
	act func(*Detector)
	// want is every alert the scenario must raise, as rule@subject.
	want []string
}

// scenarioWindow is how long after its start a scenario's alerts may
// come; scenarios start further apart than that.
const scenarioWindow = 15 * time.Minute

// replay feeds base and the scenarios' events to d in time order,
// advancing *clock to each event and leaving the event's own time zero,
// so that the detector reads the injected clock.
func replay(d *Detector, clock *time.Time, base []Event, scs []scenario) {
	var extra []Event
	var acts []scenario
	var drops []func(*Event) bool
	for _, sc := range scs {
		extra = append(extra, sc.extra...)
		if sc.act != nil {
			acts = append(acts, sc)
		}
		if sc.drop != nil {
			drops = append(drops, sc.drop)
		}
	}
	slices.SortStableFunc(extra, func(a, b Event) int { return a.Time.Compare(b.Time) })
	slices.SortFunc(acts, func(a, b scenario) int { return a.at.Compare(b.at) })
	dropped := func(ev *Event) bool {
		return slices.ContainsFunc(drops, func(drop func(*Event) bool) bool { return drop(ev) })
	}
	observe := func(ev Event) {
		for len(acts) > 0 && !ev.Time.Before(acts[0].at) {
			*clock = acts[0].at
			acts[0].act(d)
			acts = acts[1:]
		}
		*clock, ev.Time = ev.Time, time.Time{}
		d.Observe(ev)
	}
	for _, ev := range base {
		for len(extra) > 0 && !extra[0].Time.After(ev.Time) {
			observe(extra[0])
			extra = extra[1:]
		}
		if !dropped(&ev) {
			observe(ev)
		}
	}
	for _, ev := range extra {
		observe(ev)
	}
}

// runWeek replays the week with scs and returns the alerts raised.
func runWeek(t *testing.T, base []Event, scs []scenario) []alert.Alert {
	t.Helper()
	var clock time.Time
	d, s := newTest(t, Config{Now: func() time.Time { return clock }})
	replay(d, &clock, base, scs)
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.alerts)
}

// theWeek is the normal week the tests replay, generated once.
var theWeek = sync.OnceValue(func() []Event { return normalWeek(2026) })

// describe lists alerts for a failure message.
func describe(as []alert.Alert) string {
	var b strings.Builder
	for i, a := range as {
		if i == 20 {
			fmt.Fprintf(&b, "\n\t... and %d more", len(as)-i)
			break
		}
		fmt.Fprintf(&b, "\n\t%s %s@%s: %s", a.Time.Format("Mon 15:04:05"), a.Rule, a.Subject, a.Message)
	}
	return b.String()
}

func TestQuietOnANormalDay(t *testing.T) {
	t.Parallel()
	base := theWeek()

	// The generator must produce what the test claims to replay, or a
	// quiet detector proves nothing.
	var calls, errs, authFails, blocks, night int
	perKey := map[string]int{}
	for _, ev := range base {
		switch {
		case ev.AuthFailed:
			authFails++
			continue
		case ev.GuardBlocked:
			blocks++
		}
		calls++
		perKey[ev.KeyID]++
		if ev.Status >= 400 {
			errs++
		}
		if h := ev.Time.Hour(); h < 6 && ev.Time.After(lastDay) {
			night++
		}
	}
	if len(perKey) != len(normalKeys) || calls < 150_000 || night == 0 {
		t.Fatalf("the generated week has %d calls of %d keys, %d in the last night; want 20 keys, 150 000 calls and some at night", calls, len(perKey), night)
	}
	if share := float64(errs) / float64(calls); share < 0.01 || share > 0.025 {
		t.Fatalf("the generated week has %.2f%% errors, want 1-2%%", 100*share)
	}
	if authFails < 3*normalDays || authFails > 6*normalDays || blocks < normalDays || blocks > 2*normalDays {
		t.Fatalf("the generated week has %d failed authentications and %d guard blocks", authFails, blocks)
	}

	if as := runWeek(t, base, nil); len(as) != 0 {
		t.Fatalf("%d calls of a normal week raised %d alerts:%s", calls, len(as), describe(as))
	}
}

// TestEachRuleOnANormalDay injects one anomaly per rule into the last
// day of the normal week and checks that each raises exactly its alerts.
// The anomalies are on different keys, addresses and teams' rules and
// start more than scenarioWindow apart, so one replay holds them all and
// an alert is the anomaly's whose window it falls in; an alert outside
// every window is a false one.
func TestEachRuleOnANormalDay(t *testing.T) {
	t.Parallel()
	base := theWeek()
	at := func(hhmm string) time.Time {
		d, err := time.Parse("15:04", hhmm)
		if err != nil {
			t.Fatal(err)
		}
		return lastDay.Add(time.Duration(d.Hour())*time.Hour + time.Duration(d.Minute())*time.Minute)
	}
	keyOf := func(id string) normalKey {
		for _, k := range normalKeys {
			if k.id == id {
				return k
			}
		}
		t.Fatalf("no key %s", id)
		return normalKey{}
	}
	// calls makes n ordinary calls of key id from start, gap apart, each
	// edited by edit.
	calls := func(id string, start time.Time, n int, gap time.Duration, edit func(*Event)) []Event {
		k := keyOf(id)
		evs := make([]Event, n)
		for i := range evs {
			tokens := (k.tokens[0] + k.tokens[1]) / 2
			evs[i] = Event{Time: start.Add(time.Duration(i) * gap), KeyID: k.id, Team: k.team,
				ClientIP: netip.MustParseAddr(k.addrs[0]), UserAgent: k.ua, Status: 200, Tokens: tokens, Cost: tokens * k.nanoPerToken}
			if edit != nil {
				edit(&evs[i])
			}
		}
		return evs
	}
	failures := func(start time.Time, n int, gap time.Duration, addr func(i int) string, prefix func(i int) string) []Event {
		evs := make([]Event, n)
		for i := range evs {
			evs[i] = Event{Time: start.Add(time.Duration(i) * gap), ClientIP: netip.MustParseAddr(addr(i)),
				UserAgent: "python-requests/2.31.0", Status: 401, AuthFailed: true, KeyPrefixTried: prefix(i)}
		}
		return evs
	}
	const usd = 1_000_000_000

	tests := []scenario{
		{
			// A leaked key hammered with small calls.
			name:  "request spike",
			at:    at("14:00"),
			extra: calls("key_web_dev1", at("14:00"), 250, 100*time.Millisecond, func(e *Event) { e.Tokens, e.Cost = 5, 5*3000 }),
			want:  []string{"request_spike@key:key_web_dev1", "request_spike@team:web"},
		},
		{
			// A re-index through the embedding key: few calls, huge
			// batches, at $0.02 per million tokens.
			name:  "token spike",
			at:    at("10:30"),
			extra: calls("key_ml_embed", at("10:30"), 6, 5*time.Second, func(e *Event) { e.Tokens, e.Cost = 60_000, 60_000*20 }),
			want:  []string{"token_spike@key:key_ml_embed", "token_spike@team:ml"},
		},
		{
			// Ordinary prompts sent to a model at $150 per million tokens.
			name:  "cost spike",
			at:    at("11:15"),
			extra: calls("key_data_an1", at("11:15"), 2, 10*time.Second, func(e *Event) { e.Tokens, e.Cost = 1000, 1000*150_000 }),
			want:  []string{"cost_spike@key:key_data_an1", "cost_spike@team:data"},
		},
		{
			// Every call of the busiest key fails for a minute, at its
			// usual pace.
			name: "error spike",
			at:   at("15:00"),
			drop: func(e *Event) bool {
				return e.KeyID == "key_web_chat" && !e.Time.Before(at("15:00")) && e.Time.Before(at("15:01"))
			},
			extra: calls("key_web_chat", at("15:00"), 12, 5*time.Second, func(e *Event) { e.Status, e.Tokens, e.Cost = 502, 0, 0 }),
			want:  []string{"error_spike@key:key_web_chat", "error_spike@team:web"},
		},
		{
			name:  "new address range",
			at:    at("12:20"),
			extra: calls("key_data_dash", at("12:20"), 1, 0, func(e *Event) { e.ClientIP = netip.MustParseAddr("203.0.113.50") }),
			want:  []string{"new_ip_range@key:key_data_dash"},
		},
		{
			name:  "new user agent",
			at:    at("16:40"),
			extra: calls("key_ml_agent", at("16:40"), 1, 0, func(e *Event) { e.UserAgent = "python-requests/2.31.0" }),
			want:  []string{"new_user_agent@key:key_ml_agent"},
		},
		{
			// Someone guessing keys from one address.
			name: "failed authentications from one address",
			at:   at("09:45"),
			extra: failures(at("09:45"), 25, 4*time.Second, func(int) string { return "192.0.2.66" },
				func(i int) string { return fmt.Sprintf("wdn_g%03d", i) }),
			want: []string{"auth_failures_ip@ip:192.0.2.66"},
		},
		{
			// A revoked key still deployed on three hosts.
			name: "failed authentications with one key prefix",
			at:   at("13:30"),
			extra: failures(at("13:30"), 12, 10*time.Second, func(i int) string { return fmt.Sprintf("10.2.0.%d", 30+i%3) },
				func(int) string { return "wdn_Rv0k" }),
			want: []string{"auth_failures_key_prefix@key_prefix:wdn_Rv0k"},
		},
		{
			name: "guard blocks",
			at:   at("13:00"),
			extra: calls("key_web_support", at("13:00"), 12, 40*time.Second, func(e *Event) {
				e.GuardBlocked, e.Status, e.Tokens, e.Cost = true, 400, 0, 0
			}),
			want: []string{"guard_blocks@key:key_web_support"},
		},
		{
			// Flagged prompts the guardrail let through.
			name:  "injection attempts",
			at:    at("10:05"),
			extra: calls("key_data_report", at("10:05"), 6, 40*time.Second, func(e *Event) { e.Injection = true }),
			want:  []string{"injection_attempts@key:key_data_report"},
		},
		{
			name:  "a call at 3 am",
			at:    at("03:10"),
			extra: calls("key_ml_nb1", at("03:10"), 3, 20*time.Second, nil),
			want:  []string{"off_hours@key:key_ml_nb1"},
		},
		{
			name: "budget threshold",
			at:   at("17:00"),
			act:  func(d *Detector) { d.BudgetThreshold(`team "data"`, `team "data"`, 80, 8*usd, 10*usd) },
			want: []string{`budget_threshold@account:team "data"`},
		},
	}
	starts := make([]time.Time, len(tests))
	for i, tc := range tests {
		starts[i] = tc.at
	}
	slices.SortFunc(starts, time.Time.Compare)
	for i := 1; i < len(starts); i++ {
		if starts[i].Sub(starts[i-1]) <= scenarioWindow {
			t.Fatalf("scenarios at %s and %s overlap: their alerts could not be told apart", starts[i-1], starts[i])
		}
	}

	as := runWeek(t, base, tests)
	for _, a := range as {
		if err := a.Check(); err != nil {
			t.Errorf("%s alert is not valid: %v", a.Rule, err)
		}
		if !slices.ContainsFunc(tests, func(sc scenario) bool { return within(a, sc) }) {
			t.Errorf("alert outside every scenario:%s", describe([]alert.Alert{a}))
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var mine []alert.Alert
			for _, a := range as {
				if within(a, tc) {
					got = append(got, a.Rule+"@"+a.Subject.String())
					mine = append(mine, a)
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Fatalf("alerts %q, want %q:%s", got, want, describe(mine))
			}
		})
	}
}

// within reports whether a falls in sc's window.
func within(a alert.Alert, sc scenario) bool {
	return !a.Time.Before(sc.at) && a.Time.Before(sc.at.Add(scenarioWindow))
}
