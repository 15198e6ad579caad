// Package anomaly watches the data plane's calls for abuse: rate spikes
// against per-key and per-team baselines, a key used from a new network or
// tool or at an unusual hour, bursts of failed authentication, repeated
// guardrail blocks and injection attempts, and budget thresholds. Each
// finding is an alert.Alert sent to a Sink; a rule can also suspend the
// key.
//
// The detector is fed one Event per call (Observe) off the critical path
// of the decision: it never refuses a call itself. It keeps bounded,
// sharded state in memory and forgets the least recently seen keys and
// addresses beyond its caps, so a restart or eviction starts their
// baselines (and warm-ups) again.
package anomaly

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/monitor/alert"
)

// Event is what the detector learns from one call.
type Event struct {
	// Time of the call; zero means Config.Now().
	Time time.Time
	// KeyID and Team of the authenticated caller; empty when unknown.
	KeyID, Team string
	// ClientIP is the caller's address as the gateway determined it
	// (connection, or X-Forwarded-For from a trusted proxy).
	ClientIP  netip.Addr
	UserAgent string
	// Status is the HTTP status returned; 400 and above count as errors.
	Status int
	// Tokens is input plus output tokens; Cost is in nano-dollars.
	Tokens int64
	Cost   int64
	// AuthFailed marks a call that did not authenticate; such a call
	// feeds only the failed-authentication rules. KeyPrefixTried is at
	// most the first 8 characters of the key presented, never more; the
	// detector cuts anything longer.
	AuthFailed     bool
	KeyPrefixTried string
	// GuardBlocked marks a call a guardrail refused; Injection one that
	// scored as a prompt-injection attempt (blocked or not).
	GuardBlocked bool
	Injection    bool
}

// nShards spreads the state over independent locks, so that concurrent
// calls of different keys rarely wait for each other.
const nShards = 16

// maxDedupe bounds the dedupe table. Beyond it expired entries are
// dropped, and if that is not enough the table starts over: a repeated
// alert is better than unbounded memory.
const maxDedupe = 10_000

// Detector finds anomalies in a stream of events. It is safe for
// concurrent use; Close it to wait for suspensions in progress.
type Detector struct {
	cfg      Config
	log      *slog.Logger
	bucket   int64 // nanoseconds, for each window below too
	ipWin    int64
	pfxWin   int64
	guardWin int64
	injWin   int64
	floors   [nMetrics]float64
	seed     maphash.Seed
	agents   uint64 // agent hash seed

	shards [nShards]shard

	dedupeMu sync.Mutex
	dedupe   map[dedupeKey]int64

	mu      sync.Mutex // guards closed and wg.Add
	closed  bool
	wg      sync.WaitGroup
	evicted atomic.Int64
}

type dedupeKey struct {
	rule     string
	subject  alert.Subject
	severity alert.Severity
}

type shard struct {
	mu       sync.Mutex
	keys     table[string, keyState]
	teams    table[string, rates]
	addrs    table[netip.Prefix, window]
	prefixes table[string, window]
	_        [64]byte // keep neighbouring shards' locks off one cache line
}

// New checks cfg and returns a detector.
func New(cfg Config) (*Detector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Detector{
		cfg:      cfg,
		log:      cfg.Logger,
		bucket:   int64(cfg.Bucket),
		ipWin:    int64(cfg.AuthFailuresPerIP.Window),
		pfxWin:   int64(cfg.AuthFailuresPerPrefix.Window),
		guardWin: int64(cfg.GuardBlocks.Window),
		injWin:   int64(cfg.Injections.Window),
		floors:   [nMetrics]float64{cfg.MinSpike.Requests, cfg.MinSpike.Tokens, cfg.MinSpike.Cost, cfg.MinSpike.Errors},
		seed:     maphash.MakeSeed(),
		dedupe:   make(map[dedupeKey]int64),
	}
	d.agents = maphash.Comparable(d.seed, "agents")
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.cfg.Now == nil {
		d.cfg.Now = time.Now
	}
	per := func(n int) int { return max(1, n/nShards) }
	for i := range d.shards {
		s := &d.shards[i]
		s.keys.init(per(cfg.MaxKeys), &d.evicted)
		s.teams.init(per(cfg.MaxTeams), &d.evicted)
		s.addrs.init(per(cfg.MaxAddresses), &d.evicted)
		s.prefixes.init(per(cfg.MaxPrefixes), &d.evicted)
	}
	return d, nil
}

// Tracked is how much the detector remembers.
type Tracked struct {
	Keys, Teams, Addresses, Prefixes int
	// Evicted counts entries forgotten to stay within the caps.
	Evicted int64
}

// Tracked reports the detector's current state sizes.
func (d *Detector) Tracked() Tracked {
	var t Tracked
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		t.Keys += len(s.keys.m)
		t.Teams += len(s.teams.m)
		t.Addresses += len(s.addrs.m)
		t.Prefixes += len(s.prefixes.m)
		s.mu.Unlock()
	}
	t.Evicted = d.evicted.Load()
	return t
}

// Close waits for suspensions in progress. Observe must not be called
// after Close: its suspensions would not run.
func (d *Detector) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.wg.Wait()
}

func (d *Detector) shardOf(s string) *shard {
	return &d.shards[maphash.String(d.seed, s)%nShards]
}

func (d *Detector) shardOfPrefix(p netip.Prefix) *shard {
	b := p.Addr().As16()
	var h uint64
	for _, c := range b {
		h = h*31 + uint64(c)
	}
	return &d.shards[(h^d.agents)%nShards]
}

// Observe feeds one call to the detector and raises whatever alerts it
// causes. It does not block on delivery.
func (d *Detector) Observe(ev Event) {
	t := ev.Time
	if t.IsZero() {
		t = d.cfg.Now()
	}
	var buf [4]alert.Alert
	out := buf[:0]
	if ev.AuthFailed {
		out = d.observeAuthFailure(ev, t, out)
	} else {
		if ev.KeyID != "" {
			out = d.observeKey(ev, t, out)
		}
		if ev.Team != "" {
			out = d.observeTeam(ev, t, out)
		}
	}
	for _, a := range out {
		d.raise(a)
	}
}

func eventRates(ev Event) [nMetrics]float64 {
	var v [nMetrics]float64
	v[mRequests] = 1
	v[mTokens] = float64(max(ev.Tokens, 0))
	v[mCost] = float64(max(ev.Cost, 0))
	if ev.Status >= 400 {
		v[mErrors] = 1
	}
	return v
}

func (d *Detector) observeKey(ev Event, t time.Time, out []alert.Alert) []alert.Alert {
	now := t.UnixNano()
	s := d.shardOf(ev.KeyID)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys.lookup(ev.KeyID, now)
	if k == nil {
		k = s.keys.insert(clone(ev.KeyID), now)
		k.firstSeen = now
	}
	subj := alert.Subject{Kind: alert.SubjectKey, ID: ev.KeyID}
	k.add(now/d.bucket, eventRates(ev), d.cfg.Alpha)
	out = d.spikes(&k.rates, subj, t, out)

	// New sources count against the calls before this one.
	h := d.cfg.SourceHistory
	warm := k.calls >= h.Requests && now-k.firstSeen >= int64(h.Age)
	if ev.ClientIP.IsValid() {
		addr := ev.ClientIP.Unmap()
		if !remember(k.ranges[:], &k.nRanges, rangeID(addr), now) && warm {
			p := rangeOf(addr).String()
			out = append(out, d.newAlert(RuleNewIPRange, alert.Warning, subj, t,
				fmt.Sprintf("key %s was used from %s, a network it had not been used from in %d calls", ev.KeyID, p, k.calls),
				alert.Observation{Metric: "ip_range", Text: p}, alert.Baseline{Samples: k.calls}))
		}
	}
	hs := hasher{seed: d.agents}
	if !remember(k.agents[:], &k.nAgents, k.agent(&hs, ev.UserAgent), now) && warm {
		ua := alert.Clean(ev.UserAgent, 200)
		out = append(out, d.newAlert(RuleNewUserAgent, alert.Info, subj, t,
			fmt.Sprintf("key %s was used with the user agent %q, which it had not been used with in %d calls", ev.KeyID, ua, k.calls),
			alert.Observation{Metric: "user_agent", Text: ua}, alert.Baseline{Samples: k.calls}))
	}

	if ev.GuardBlocked {
		if n := k.guard.add(now, d.guardWin); n >= float64(d.cfg.GuardBlocks.Count) && k.guard.fire() {
			out = append(out, d.burstAlert(RuleGuardBlocks, alert.Warning, subj, t, n, d.cfg.GuardBlocks,
				fmt.Sprintf("key %s had %.0f calls blocked by guardrails within %s", ev.KeyID, n, d.cfg.GuardBlocks.Window), "guard_blocks"))
		}
	}
	if ev.Injection {
		if n := k.injections.add(now, d.injWin); n >= float64(d.cfg.Injections.Count) && k.injections.fire() {
			out = append(out, d.burstAlert(RuleInjections, alert.Critical, subj, t, n, d.cfg.Injections,
				fmt.Sprintf("key %s sent %.0f prompts flagged as injection attempts within %s", ev.KeyID, n, d.cfg.Injections.Window), "injection_attempts"))
		}
	}

	out = d.offHours(k, subj, t, now, out)
	k.calls++
	return out
}

// offHours checks the hour of t against k's histogram, then counts it.
func (d *Detector) offHours(k *keyState, subj alert.Subject, t time.Time, now int64, out []alert.Alert) []alert.Alert {
	oh := d.cfg.OffHours
	if now < k.hourFrom || now >= k.hourTo {
		lt := t.In(oh.Location)
		k.hour = lt.Hour()
		k.hourFrom = now - int64(lt.Minute())*int64(time.Minute) - int64(lt.Second())*int64(time.Second) - int64(lt.Nanosecond())
		k.hourTo = k.hourFrom + int64(time.Hour)
	}
	hour := k.hour
	if now-k.firstSeen >= int64(oh.History) && k.hoursTotal >= oh.MinCalls &&
		float64(k.hours[hour]) < oh.Share*float64(k.hoursTotal) {
		if uh := now/int64(time.Hour) + 1; k.offFired != uh {
			k.offFired = uh
			share := 100 * float64(k.hours[hour]) / float64(k.hoursTotal)
			out = append(out, d.newAlert(RuleOffHours, alert.Info, subj, t,
				fmt.Sprintf("key %s was used at %02d:00-%02d:59 %s, an hour that has had %.2f%% of its %d calls", subj.ID, hour, hour, t.In(oh.Location).Format("MST"), share, k.hoursTotal),
				alert.Observation{Metric: "hour_share_percent", Value: share, Text: fmt.Sprintf("%02d", hour)},
				alert.Baseline{Mean: 100 * oh.Share, Samples: k.hoursTotal}))
		}
	}
	k.hours[hour]++
	k.hoursTotal++
	if k.hoursTotal >= math.MaxInt32 {
		// Halve to stay in range; the shares stay as they were.
		k.hoursTotal = 0
		for i := range k.hours {
			k.hours[i] /= 2
			k.hoursTotal += int64(k.hours[i])
		}
	}
	return out
}

func (d *Detector) observeTeam(ev Event, t time.Time, out []alert.Alert) []alert.Alert {
	now := t.UnixNano()
	s := d.shardOf(ev.Team)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.teams.lookup(ev.Team, now)
	if r == nil {
		r = s.teams.insert(clone(ev.Team), now)
	}
	r.add(now/d.bucket, eventRates(ev), d.cfg.Alpha)
	return d.spikes(r, alert.Subject{Kind: alert.SubjectTeam, ID: ev.Team}, t, out)
}

// spikes checks every rate of r's running bucket.
func (d *Detector) spikes(r *rates, subj alert.Subject, t time.Time, out []alert.Alert) []alert.Alert {
	for m := range nMetrics {
		thr, ok := r.spike(m, &d.cfg, d.floors[m])
		if !ok {
			continue
		}
		sev := alert.Warning
		if m == mCost {
			sev = alert.Critical
		}
		base := alert.Baseline{Mean: r.mean[m], StdDev: math.Sqrt(r.vari[m]), Samples: r.samples}
		out = append(out, d.newAlert(metricRules[m], sev, subj, t,
			fmt.Sprintf("%s %s: %s in the current %s, against a baseline of %s ± %s over %d active periods (threshold %s)",
				subj.Kind, subj.ID, amount(m, r.cur[m]), d.cfg.Bucket, amount(m, base.Mean), amount(m, base.StdDev), base.Samples, amount(m, thr)),
			alert.Observation{Metric: metricNames[m], Value: r.cur[m]}, base))
	}
	return out
}

// amount formats a value of metric m for people.
func amount(m int, v float64) string {
	switch m {
	case mCost:
		return meter.Amount(math.Round(v)).String()
	case mTokens:
		return fmt.Sprintf("%.0f tokens", v)
	case mErrors:
		return fmt.Sprintf("%.1f errors", v)
	}
	return fmt.Sprintf("%.1f requests", v)
}

func (d *Detector) observeAuthFailure(ev Event, t time.Time, out []alert.Alert) []alert.Alert {
	now := t.UnixNano()
	if ev.ClientIP.IsValid() {
		p := clientOf(ev.ClientIP.Unmap())
		s := d.shardOfPrefix(p)
		s.mu.Lock()
		w := s.addrs.lookup(p, now)
		if w == nil {
			w = s.addrs.insert(p, now)
		}
		if n := w.add(now, d.ipWin); n >= float64(d.cfg.AuthFailuresPerIP.Count) && w.fire() {
			id := p.String()
			if p.IsSingleIP() {
				id = p.Addr().String()
			}
			out = append(out, d.burstAlert(RuleAuthFailuresIP, alert.Warning, alert.Subject{Kind: alert.SubjectIP, ID: id}, t, n,
				d.cfg.AuthFailuresPerIP, fmt.Sprintf("%.0f failed authentications from %s within %s", n, id, d.cfg.AuthFailuresPerIP.Window), "auth_failures"))
		}
		s.mu.Unlock()
	}
	if pfx := prefixOf(ev.KeyPrefixTried); pfx != "" {
		s := d.shardOf(pfx)
		s.mu.Lock()
		w := s.prefixes.lookup(pfx, now)
		if w == nil {
			w = s.prefixes.insert(clone(pfx), now)
		}
		if n := w.add(now, d.pfxWin); n >= float64(d.cfg.AuthFailuresPerPrefix.Count) && w.fire() {
			id := alert.Clean(pfx, len(pfx))
			out = append(out, d.burstAlert(RuleAuthFailuresPrefix, alert.Warning, alert.Subject{Kind: alert.SubjectKeyPrefix, ID: id}, t, n,
				d.cfg.AuthFailuresPerPrefix, fmt.Sprintf("%.0f failed authentications with keys beginning %q within %s", n, id, d.cfg.AuthFailuresPerPrefix.Window), "auth_failures"))
		}
		s.mu.Unlock()
	}
	return out
}

func (d *Detector) burstAlert(rule Rule, sev alert.Severity, subj alert.Subject, t time.Time, n float64, b Burst, msg, metric string) alert.Alert {
	return d.newAlert(rule, sev, subj, t, msg, alert.Observation{Metric: metric, Value: math.Round(n*10) / 10},
		alert.Baseline{Mean: float64(b.Count)})
}

func (d *Detector) newAlert(rule Rule, sev alert.Severity, subj alert.Subject, t time.Time, msg string, obs alert.Observation, base alert.Baseline) alert.Alert {
	// Copies, so that the alert does not pin the caller's strings.
	subj.ID = clone(subj.ID)
	return alert.Alert{
		ID: alert.NewID(), Time: t, Rule: string(rule), Severity: sev, Subject: subj,
		Message: alert.Clean(msg, alert.MaxMessageLen), Observed: obs, Baseline: base, Response: alert.ResponseAlert,
	}
}

// BudgetThreshold turns a meter threshold event (a budget's spend crossed
// 50, 80 or 100 percent) into an alert. account names the budget's
// account; label is how the meter names it for people. Amounts are
// nano-dollars.
func (d *Detector) BudgetThreshold(account, label string, percent int, spent, limit int64) {
	sev := alert.Info
	switch {
	case percent >= 100:
		sev = alert.Critical
	case percent >= 80:
		sev = alert.Warning
	}
	if label == "" {
		label = account
	}
	used := 0.0
	if limit > 0 {
		used = 100 * float64(spent) / float64(limit)
	}
	d.raise(d.newAlert(RuleBudget, sev, alert.Subject{Kind: alert.SubjectAccount, ID: alert.Clean(account, alert.MaxTextLen)}, d.cfg.Now(),
		fmt.Sprintf("%s has spent %s of its %s budget: %d%% reached", alert.Clean(label, 200), meter.Amount(spent), meter.Amount(limit), percent),
		alert.Observation{Metric: "budget_used_percent", Value: math.Round(used*100) / 100},
		alert.Baseline{Mean: float64(percent)}))
}

// raise sends a unless it repeats a recent alert, applying the rule's
// response.
func (d *Detector) raise(a alert.Alert) {
	if !d.fresh(a) {
		return
	}
	if d.cfg.Responses[Rule(a.Rule)] == Suspend && a.Subject.Kind == alert.SubjectKey {
		a.Response = alert.ResponseSuspend
		a.Severity = alert.Critical
		a.Message = alert.Clean(a.Message+"; the key is being suspended, an admin can resume it", alert.MaxMessageLen)
		d.suspend(a)
	}
	d.cfg.Sink.Send(a)
}

// fresh reports whether a is not a repeat within the dedupe window, and
// remembers it.
func (d *Detector) fresh(a alert.Alert) bool {
	k := dedupeKey{a.Rule, a.Subject, a.Severity}
	now := a.Time.UnixNano()
	win := int64(d.cfg.Dedupe)
	d.dedupeMu.Lock()
	defer d.dedupeMu.Unlock()
	if last, ok := d.dedupe[k]; ok && now-last < win && now >= last {
		return false
	}
	if len(d.dedupe) >= maxDedupe {
		for k, last := range d.dedupe {
			if now-last >= win {
				delete(d.dedupe, k)
			}
		}
		if len(d.dedupe) >= maxDedupe {
			clear(d.dedupe)
		}
	}
	d.dedupe[k] = now
	return true
}

// suspend runs the suspend response in the background, so that the call
// that tripped the rule is not held up by a store write.
func (d *Detector) suspend(a alert.Alert) {
	keyID := a.Subject.ID
	reason := fmt.Sprintf("anomaly rule %s (alert %s)", a.Rule, a.ID)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		d.log.Error("key not suspended: the detector is closed", "key_id", keyID, "decision", "suspend", "reason", reason)
		return
	}
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), d.cfg.SuspendTimeout)
		defer cancel()
		err := d.cfg.Suspend(ctx, keyID, reason)
		if err == nil {
			d.log.Warn("key suspended", "key_id", keyID, "decision", "suspend", "reason", reason)
			return
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", d.cfg.SuspendTimeout, err)
		}
		d.log.Error("key not suspended", "key_id", keyID, "decision", "suspend", "reason", reason, "error", err)
		d.cfg.Sink.Send(d.newAlert(RuleSuspendFailed, alert.Critical, a.Subject, d.cfg.Now(),
			fmt.Sprintf("key %s could not be suspended after alert %s (%s); suspend it by hand: warden keys suspend %s", keyID, a.ID, a.Rule, keyID),
			alert.Observation{Metric: "suspend_failed"}, alert.Baseline{}))
	}()
}

// The dispatcher is the sink production uses.
var _ Sink = (*alert.Dispatcher)(nil)
