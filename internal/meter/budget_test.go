package meter_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/meter"
)

const usd = meter.USD

var (
	keyK1  = meter.Account{Kind: meter.KindKey, ID: "key_k1"}
	teamML = meter.Account{Kind: meter.KindTeam, ID: "ml"}
	userAl = meter.Account{Kind: meter.KindUser, ID: "alice@example.com"}
)

// clock is a settable clock for Budgets.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func newBudgets(t *testing.T, l meter.Ledger, now time.Time, on func(meter.ThresholdEvent)) (*meter.Budgets, *clock) {
	t.Helper()
	c := &clock{now: now}
	b, err := meter.NewBudgets(meter.BudgetsOptions{Ledger: l, Now: c.Now, ReservationTTL: 10 * time.Minute, OnThreshold: on})
	if err != nil {
		t.Fatal(err)
	}
	return b, c
}

// spend records amount as already spent in a bucket.
func spend(t *testing.T, l meter.Ledger, b meter.Bucket, now time.Time, amount meter.Amount) {
	t.Helper()
	id, refused, err := l.Reserve(t.Context(), []meter.Hold{{Bucket: b, Limit: meter.MaxAmount, Amount: 0}}, now, time.Minute)
	if err != nil || refused != -1 {
		t.Fatalf("Reserve for the test's prior spend: refused %d, %v", refused, err)
	}
	if _, err := l.Settle(t.Context(), id, amount); err != nil {
		t.Fatal(err)
	}
}

func spent(t *testing.T, l meter.Ledger, b meter.Bucket, now time.Time) (meter.Amount, meter.Amount) {
	t.Helper()
	s, r, err := l.Spent(t.Context(), b, now)
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

func monthOf(a meter.Account, now time.Time) meter.Bucket {
	return meter.Bucket{Account: a, Period: meter.Month, Start: meter.PeriodStart(meter.Month, now)}
}

func TestPeriodStart(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	for _, tc := range []struct {
		p    meter.Period
		now  time.Time
		want time.Time
	}{
		{meter.Day, time.Date(2026, 1, 15, 10, 30, 5, 9, time.UTC), time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)},
		{meter.Day, time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)},
		// 08:00 on the 1st in Tokyo is still the 31st in UTC.
		{meter.Day, time.Date(2026, 1, 1, 8, 0, 0, 0, tokyo), time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)},
		{meter.Month, time.Date(2026, 1, 1, 8, 0, 0, 0, tokyo), time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)},
		{meter.Month, time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC), time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)},
		{meter.Total, time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC), time.Time{}},
		{"week", time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC), time.Time{}},
	} {
		got := meter.PeriodStart(tc.p, tc.now)
		if !got.Equal(tc.want) || (!got.IsZero() && got.Location() != time.UTC) {
			t.Errorf("PeriodStart(%s, %v) = %v, want %v", tc.p, tc.now, got, tc.want)
		}
	}
}

func TestNewBudgetsNeedsALedger(t *testing.T) {
	if _, err := meter.NewBudgets(meter.BudgetsOptions{}); err == nil {
		t.Error("NewBudgets without a ledger: no error")
	}
	if _, err := meter.NewBudgets(meter.BudgetsOptions{Ledger: meter.NewMemoryLedger(), ReservationTTL: -time.Second}); err == nil {
		t.Error("NewBudgets with a negative TTL: no error")
	}
}

func TestBudgetsReserve(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	toFeb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).Sub(now)
	monthly := func(limit meter.Amount) meter.Budget { return meter.Budget{Limit: limit, Period: meter.Month} }
	type prior struct {
		b      meter.Bucket
		amount meter.Amount
	}
	tests := []struct {
		name       string
		prior      []prior
		limits     []meter.AccountBudget
		estimate   meter.Amount
		code       apperr.Code // "" for success
		message    string      // the whole message, for refusals
		retryAfter time.Duration
		noop       bool // success without a ledger reservation
	}{
		{name: "no budgets", estimate: usd, noop: true},
		{name: "zero budgets are skipped", limits: []meter.AccountBudget{{Account: keyK1}, {Account: teamML}}, estimate: usd, noop: true},
		{name: "within the budget", limits: []meter.AccountBudget{{Account: keyK1, Budget: monthly(5 * usd)}}, estimate: usd},
		{
			name: "up to the limit exactly", prior: []prior{{monthOf(keyK1, now), 4 * usd}},
			limits: []meter.AccountBudget{{Account: keyK1, Budget: monthly(5 * usd)}}, estimate: usd,
		},
		{
			name: "estimate does not fit", prior: []prior{{monthOf(keyK1, now), 4*usd + usd/2}},
			limits:   []meter.AccountBudget{{Account: keyK1, Budget: monthly(5 * usd)}},
			estimate: usd, code: apperr.BudgetExceeded, retryAfter: toFeb,
			message: `monthly budget of key "key_k1" cannot cover this call: $4.50 of $5.00 spent and this call may cost up to $1.00; it resets 2026-02-01`,
		},
		{
			name: "exhausted, with a label", prior: []prior{{monthOf(teamML, now), 4999 * usd / 100}},
			limits: []meter.AccountBudget{
				{Account: keyK1, Budget: monthly(100 * usd), Label: `key "ci-bot"`},
				{Account: teamML, Budget: monthly(50 * usd), Label: `team "ml"`},
			},
			estimate: 20_000 * meter.MicroUSD, code: apperr.BudgetExceeded, retryAfter: toFeb,
			message: `monthly budget of team "ml" cannot cover this call: $49.99 of $50.00 spent and this call may cost up to $0.02; it resets 2026-02-01`,
		},
		{
			name: "spent up", prior: []prior{{monthOf(teamML, now), 50 * usd}},
			limits:   []meter.AccountBudget{{Account: teamML, Budget: monthly(50 * usd), Label: `team "ml"`}},
			estimate: usd, code: apperr.BudgetExceeded, retryAfter: toFeb,
			message: `monthly budget of team "ml" exhausted: $50.00 of $50.00 spent; it resets 2026-02-01`,
		},
		{
			name: "a free call on a spent-up budget", prior: []prior{{monthOf(teamML, now), 50 * usd}},
			limits:   []meter.AccountBudget{{Account: teamML, Budget: monthly(50 * usd)}},
			estimate: 0, code: apperr.BudgetExceeded, retryAfter: toFeb,
			message: `monthly budget of team "ml" exhausted: $50.00 of $50.00 spent; it resets 2026-02-01`,
		},
		{
			name:     "a zero daily limit refuses everything",
			limits:   []meter.AccountBudget{{Account: userAl, Budget: meter.Budget{Period: meter.Day}}},
			estimate: 0, code: apperr.BudgetExceeded, retryAfter: 14 * time.Hour,
			message: `daily budget of user "alice@example.com" exhausted: $0.00 of $0.00 spent; it resets 2026-01-16`,
		},
		{
			name: "a total budget does not reset", prior: []prior{{meter.Bucket{Account: keyK1, Period: meter.Total}, 3 * usd}},
			limits:   []meter.AccountBudget{{Account: keyK1, Budget: meter.Budget{Limit: 3 * usd, Period: meter.Total}}},
			estimate: usd, code: apperr.BudgetExceeded,
			message: `total budget of key "key_k1" exhausted: $3.00 of $3.00 spent; a total budget does not reset`,
		},
		{
			name: "the same budget twice: the smaller limit holds", prior: []prior{{monthOf(teamML, now), 5 * usd}},
			limits: []meter.AccountBudget{
				{Account: teamML, Budget: monthly(100 * usd), Label: "big"},
				{Account: teamML, Budget: monthly(6 * usd), Label: "small"},
			},
			estimate: 2 * usd, code: apperr.BudgetExceeded, retryAfter: toFeb,
			message: `monthly budget of small cannot cover this call: $5.00 of $6.00 spent and this call may cost up to $2.00; it resets 2026-02-01`,
		},
		{
			name:     "a malformed period",
			limits:   []meter.AccountBudget{{Account: keyK1, Budget: meter.Budget{Limit: usd, Period: "week"}}},
			estimate: usd, code: apperr.Internal,
		},
		{
			name:     "a negative limit",
			limits:   []meter.AccountBudget{{Account: keyK1, Budget: monthly(-1)}},
			estimate: usd, code: apperr.Internal,
		},
		{
			name:     "a negative estimate",
			limits:   []meter.AccountBudget{{Account: keyK1, Budget: monthly(usd)}},
			estimate: -1, code: apperr.Internal,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := meter.NewMemoryLedger()
			for _, p := range tc.prior {
				spend(t, l, p.b, now, p.amount)
			}
			b, _ := newBudgets(t, l, now, nil)
			r, err := b.Reserve(t.Context(), tc.limits, tc.estimate)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Reserve: %v", err)
				}
				if r == nil || (r.ID() == "") != tc.noop {
					t.Fatalf("Reserve = %+v, want a reservation (no-op: %v)", r, tc.noop)
				}
				if err := r.Settle(t.Context(), tc.estimate); err != nil {
					t.Fatalf("Settle: %v", err)
				}
				return
			}
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("Reserve error = %v, want code %s", err, tc.code)
			}
			if r != nil {
				t.Errorf("Reserve refused but returned a reservation %+v", r)
			}
			if tc.message != "" && e.Message != tc.message {
				t.Errorf("message\n  %s\nwant\n  %s", e.Message, tc.message)
			}
			if e.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter = %s, want %s", e.RetryAfter, tc.retryAfter)
			}
			for _, p := range tc.prior {
				if s, r := spent(t, l, p.b, now); s != p.amount || r != 0 {
					t.Errorf("a refused call changed %v: spent %s, reserved %s", p.b, s, r)
				}
			}
		})
	}
}

func TestBudgetsRefusalMentionsCallsInProgress(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	b, _ := newBudgets(t, meter.NewMemoryLedger(), now, nil)
	limits := []meter.AccountBudget{{Account: keyK1, Budget: meter.Budget{Limit: 5 * usd, Period: meter.Day}}}
	if _, err := b.Reserve(t.Context(), limits, 4*usd); err != nil {
		t.Fatal(err)
	}
	_, err := b.Reserve(t.Context(), limits, 2*usd)
	want := `daily budget of key "key_k1" cannot cover this call: $0.00 of $5.00 spent, $4.00 held for calls in progress, and this call may cost up to $2.00; it resets 2026-01-16`
	if e := apperr.From(err); e.Code != apperr.BudgetExceeded || e.Message != want {
		t.Errorf("Reserve error = %v, want %q", err, want)
	}
}

// faultyLedger fails the methods it is told to.
type faultyLedger struct {
	meter.Ledger
	reserve, settle, spent error
}

func (f *faultyLedger) Reserve(ctx context.Context, holds []meter.Hold, now time.Time, ttl time.Duration) (string, int, error) {
	if f.reserve != nil {
		return "", -1, f.reserve
	}
	return f.Ledger.Reserve(ctx, holds, now, ttl)
}

func (f *faultyLedger) Settle(ctx context.Context, id string, actual meter.Amount) ([]meter.Amount, error) {
	if f.settle != nil {
		return nil, f.settle
	}
	return f.Ledger.Settle(ctx, id, actual)
}

func (f *faultyLedger) Spent(ctx context.Context, b meter.Bucket, now time.Time) (meter.Amount, meter.Amount, error) {
	if f.spent != nil {
		return 0, 0, f.spent
	}
	return f.Ledger.Spent(ctx, b, now)
}

func TestBudgetsFailClosed(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	down := errors.New("database is locked at /var/lib/warden/warden.db")
	l := &faultyLedger{Ledger: meter.NewMemoryLedger(), reserve: down}
	b, _ := newBudgets(t, l, now, nil)
	limits := []meter.AccountBudget{{Account: teamML, Budget: meter.Budget{Limit: 5 * usd, Period: meter.Month}}}
	r, err := b.Reserve(t.Context(), limits, usd)
	e := apperr.From(err)
	if r != nil || e.Code != apperr.Unavailable || !errors.Is(err, down) {
		t.Fatalf("Reserve with the ledger down = %+v, %v; want a refusal with code %s", r, err, apperr.Unavailable)
	}
	if strings.Contains(e.Message, "warden.db") {
		t.Errorf("the caller's message names an internal path: %q", e.Message)
	}

	// No budgets: nothing to check, so a dead ledger refuses nothing.
	if _, err := b.Reserve(t.Context(), nil, usd); err != nil {
		t.Errorf("Reserve with no budgets and the ledger down: %v", err)
	}

	// The ledger refuses, then cannot tell the figures: still a refusal.
	l.reserve = nil
	spend(t, l, monthOf(teamML, now), now, 5*usd)
	l.spent = down
	_, err = b.Reserve(t.Context(), limits, usd)
	want := `monthly budget of team "ml" cannot cover this call; it resets 2026-02-01`
	if e := apperr.From(err); e.Code != apperr.BudgetExceeded || e.Message != want {
		t.Errorf("refusal without figures = %v, want %q", err, want)
	}
}

func TestReservationSettleAndRelease(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	key, team := monthOf(keyK1, now), monthOf(teamML, now)
	limits := []meter.AccountBudget{
		{Account: keyK1, Budget: meter.Budget{Limit: 10 * usd, Period: meter.Month}},
		{Account: teamML, Budget: meter.Budget{Limit: 10 * usd, Period: meter.Month}},
	}
	type step struct {
		op     string // "settle" or "release"
		amount meter.Amount
		ctx    func(context.Context) context.Context
	}
	canceled := func(ctx context.Context) context.Context {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		return ctx
	}
	tests := []struct {
		name      string
		estimate  meter.Amount
		steps     []step
		wantSpent meter.Amount
	}{
		{"settle less than the estimate", 2 * usd, []step{{op: "settle", amount: usd}}, usd},
		{"settle more than the estimate", 2 * usd, []step{{op: "settle", amount: 3 * usd}}, 3 * usd},
		{"settle twice", 2 * usd, []step{{op: "settle", amount: usd}, {op: "settle", amount: usd}}, usd},
		{"release", 2 * usd, []step{{op: "release"}}, 0},
		{"release twice", 2 * usd, []step{{op: "release"}, {op: "release"}}, 0},
		{"settle after release", 2 * usd, []step{{op: "release"}, {op: "settle", amount: usd}}, 0},
		{"release after settle", 2 * usd, []step{{op: "settle", amount: usd}, {op: "release"}}, usd},
		{"settle after the client went away", 2 * usd, []step{{op: "settle", amount: usd, ctx: canceled}}, usd},
		{"release after the client went away", 2 * usd, []step{{op: "release", ctx: canceled}}, 0},
		{"a negative cost is refused and can be corrected", 2 * usd, []step{{op: "settle", amount: -1}, {op: "settle", amount: usd}}, usd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := meter.NewMemoryLedger()
			b, _ := newBudgets(t, l, now, nil)
			r, err := b.Reserve(t.Context(), limits, tc.estimate)
			if err != nil {
				t.Fatal(err)
			}
			if s, res := spent(t, l, key, now); s != 0 || res != tc.estimate {
				t.Fatalf("after Reserve: spent %s, reserved %s; want $0 and %s", s, res, tc.estimate)
			}
			for _, st := range tc.steps {
				ctx := t.Context()
				if st.ctx != nil {
					ctx = st.ctx(ctx)
				}
				var err error
				if st.op == "settle" {
					err = r.Settle(ctx, st.amount)
				} else {
					err = r.Release(ctx)
				}
				if (err != nil) != (st.amount < 0) {
					t.Errorf("%s(%s): %v", st.op, st.amount, err)
				}
			}
			for _, bk := range []meter.Bucket{key, team} {
				if s, res := spent(t, l, bk, now); s != tc.wantSpent || res != 0 {
					t.Errorf("%s: spent %s, reserved %s; want %s and nothing reserved", bk.Account, s, res, tc.wantSpent)
				}
			}
		})
	}

	var nilRes *meter.Reservation
	if nilRes.Settle(t.Context(), usd) != nil || nilRes.Release(t.Context()) != nil || nilRes.ID() != "" {
		t.Error("a nil Reservation is not a no-op")
	}
}

func TestReservationSettleRetriesAfterALedgerError(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	l := &faultyLedger{Ledger: meter.NewMemoryLedger(), settle: errors.New("disk I/O error")}
	b, _ := newBudgets(t, l, now, nil)
	r, err := b.Reserve(t.Context(), []meter.AccountBudget{{Account: keyK1, Budget: meter.Budget{Limit: 10 * usd, Period: meter.Day}}}, usd)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Settle(t.Context(), usd); err == nil {
		t.Fatal("Settle with the ledger down: no error")
	}
	l.settle = nil
	if err := r.Settle(t.Context(), usd); err != nil {
		t.Fatal(err)
	}
	if s, _ := spent(t, l, meter.Bucket{Account: keyK1, Period: meter.Day, Start: meter.PeriodStart(meter.Day, now)}, now); s != usd {
		t.Errorf("spent %s after the retried Settle, want $1.00", s)
	}
}

// TestBudgetsConcurrentOverspend races calls against one budget through
// Budgets, first all holding their reservations at once, then coming and
// going freely: the settled spend may pass the limit by at most one
// estimate, and some calls must be refused.
func TestBudgetsConcurrentOverspend(t *testing.T) {
	const (
		calls    = 200
		estimate = usd / 10
		limit    = 5 * usd
	)
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	l := meter.NewMemoryLedger()
	b, _ := newBudgets(t, l, now, nil)
	limits := []meter.AccountBudget{
		{Account: keyK1, Budget: meter.Budget{Limit: limit, Period: meter.Month}},
		{Account: teamML, Budget: meter.Budget{Limit: 100 * usd, Period: meter.Day}},
	}
	var refusals, settled atomic.Int64
	round := func(seed uint64, overlap bool) int64 {
		var (
			wg, reserved sync.WaitGroup
			accepted     atomic.Int64
			settle       = make(chan struct{})
		)
		reserved.Add(calls)
		for i := range calls {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(i), seed))
				r, err := b.Reserve(context.Background(), limits, estimate)
				reserved.Done()
				if apperr.CodeOf(err) == apperr.BudgetExceeded {
					refusals.Add(1)
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				accepted.Add(1)
				if overlap {
					<-settle
				}
				actual := meter.Amount(rng.Int64N(int64(estimate) + 1))
				if err := r.Settle(context.Background(), actual); err != nil {
					t.Error(err)
					return
				}
				settled.Add(int64(actual))
			})
		}
		reserved.Wait()
		close(settle)
		wg.Wait()
		return accepted.Load()
	}
	if n := round(1, true); n != int64(limit/estimate) {
		t.Errorf("%d calls holding %s at once against %s: %d accepted, want %d", calls, estimate, limit, n, limit/estimate)
	}
	round(2, false)
	s, res := spent(t, l, monthOf(keyK1, now), now)
	if s > limit+estimate {
		t.Errorf("spent %s of a %s budget: more than one estimate (%s) over", s, limit, estimate)
	}
	if s != meter.Amount(settled.Load()) || res != 0 {
		t.Errorf("spent %s, reserved %s; want the %s settled and nothing reserved", s, res, meter.Amount(settled.Load()))
	}
	if refusals.Load() == 0 {
		t.Errorf("%d calls of up to %s against %s: none refused", 2*calls, estimate, limit)
	}
}

func TestBudgetsPeriodRollover(t *testing.T) {
	lastMinute := time.Date(2026, 1, 31, 23, 59, 0, 0, time.UTC)
	l := meter.NewMemoryLedger()
	b, clk := newBudgets(t, l, lastMinute, nil)
	limits := []meter.AccountBudget{{Account: keyK1, Budget: meter.Budget{Limit: 5 * usd, Period: meter.Month}}}

	full, err := b.Reserve(t.Context(), limits, 5*usd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve(t.Context(), limits, usd); apperr.CodeOf(err) != apperr.BudgetExceeded {
		t.Fatalf("Reserve on a full January budget: %v, want a refusal", err)
	}
	clk.Set(lastMinute.Add(time.Minute))
	feb, err := b.Reserve(t.Context(), limits, usd)
	if err != nil {
		t.Fatalf("Reserve in February: %v", err)
	}
	// The January call finishes in February: its cost is January's.
	if err := full.Settle(t.Context(), 4*usd); err != nil {
		t.Fatal(err)
	}
	if err := feb.Settle(t.Context(), usd); err != nil {
		t.Fatal(err)
	}
	jan := monthOf(keyK1, lastMinute)
	if s, _ := spent(t, l, jan, lastMinute); s != 4*usd {
		t.Errorf("January spent %s, want $4.00", s)
	}
	if s, _ := spent(t, l, monthOf(keyK1, clk.Now()), clk.Now()); s != usd {
		t.Errorf("February spent %s, want $1.00", s)
	}
}

func TestBudgetsExpiredReservationsStopCounting(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	b, clk := newBudgets(t, meter.NewMemoryLedger(), now, nil)
	limits := []meter.AccountBudget{{Account: keyK1, Budget: meter.Budget{Limit: 5 * usd, Period: meter.Month}}}
	// A call whose process died: never settled.
	if _, err := b.Reserve(t.Context(), limits, 4*usd); err != nil {
		t.Fatal(err)
	}
	clk.Set(now.Add(10*time.Minute - time.Second))
	if _, err := b.Reserve(t.Context(), limits, 2*usd); apperr.CodeOf(err) != apperr.BudgetExceeded {
		t.Fatalf("Reserve before the abandoned reservation expired: %v, want a refusal", err)
	}
	clk.Set(now.Add(10 * time.Minute))
	if _, err := b.Reserve(t.Context(), limits, 2*usd); err != nil {
		t.Fatalf("Reserve after the abandoned reservation expired: %v", err)
	}
}

func TestThresholds(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	var (
		mu     sync.Mutex
		events []meter.ThresholdEvent
	)
	record := func(e meter.ThresholdEvent) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}
	b, _ := newBudgets(t, meter.NewMemoryLedger(), now, record)
	limits := []meter.AccountBudget{
		{Account: keyK1, Budget: meter.Budget{Limit: 10 * usd, Period: meter.Month}, Label: "ci key"},
		{Account: teamML, Budget: meter.Budget{Limit: 100 * usd, Period: meter.Day}},
	}
	call := func(actual meter.Amount) {
		t.Helper()
		r, err := b.Reserve(t.Context(), limits, 10*meter.MicroUSD)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Settle(t.Context(), actual); err != nil {
			t.Fatal(err)
		}
	}
	type ev struct {
		acct    meter.Account
		percent int
		spent   meter.Amount
	}
	take := func() []ev {
		mu.Lock()
		defer mu.Unlock()
		var got []ev
		for _, e := range events {
			got = append(got, ev{e.Account, e.Percent, e.Spent})
		}
		events = nil
		return got
	}
	for _, st := range []struct {
		actual   meter.Amount
		raiseKey bool // raise the key's limit to $1000 first, so that calls pass it
		want     []ev
	}{
		{actual: 4 * usd},
		{actual: 999_999_999},                         // $4.999999999: just under half
		{actual: 1, want: []ev{{keyK1, 50, 5 * usd}}}, // exactly half
		{actual: 2*usd + usd*9/10},                    // $7.90
		{actual: usd / 10, want: []ev{{keyK1, 80, 8 * usd}}},
		{actual: 2 * usd, want: []ev{{keyK1, 100, 10 * usd}}},
		{actual: 0, raiseKey: true},
		{actual: 40 * usd, want: []ev{{teamML, 50, 50 * usd}}},
		// A jump crosses two at once, in order.
		{actual: 200 * usd, want: []ev{{teamML, 80, 250 * usd}, {teamML, 100, 250 * usd}}},
	} {
		if st.raiseKey {
			limits[0].Budget.Limit = 1000 * usd
		}
		call(st.actual)
		if got := take(); !slices.Equal(got, st.want) {
			t.Errorf("settling %s: events %+v, want %+v", st.actual, got, st.want)
		}
	}
}

func TestThresholdEventFields(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	var got []meter.ThresholdEvent
	b, _ := newBudgets(t, meter.NewMemoryLedger(), now, func(e meter.ThresholdEvent) { got = append(got, e) })
	r, err := b.Reserve(t.Context(), []meter.AccountBudget{{Account: teamML, Budget: meter.Budget{Limit: 2 * usd, Period: meter.Day}}}, usd)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Settle(t.Context(), usd); err != nil {
		t.Fatal(err)
	}
	want := meter.ThresholdEvent{
		Account: teamML, Label: `team "ml"`, Period: meter.Day, PeriodStart: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC),
		Percent: 50, Spent: usd, Limit: 2 * usd,
	}
	if len(got) != 1 || got[0] != want {
		t.Errorf("events %+v, want [%+v]", got, want)
	}
}

// TestThresholdsOnceUnderConcurrency settles many calls at once: each
// threshold must still fire exactly once.
func TestThresholdsOnceUnderConcurrency(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	var counts [101]atomic.Int32
	b, _ := newBudgets(t, meter.NewMemoryLedger(), now, func(e meter.ThresholdEvent) { counts[e.Percent].Add(1) })
	limits := []meter.AccountBudget{{Account: keyK1, Budget: meter.Budget{Limit: 10 * usd, Period: meter.Month}}}
	var wg sync.WaitGroup
	for range 150 {
		wg.Go(func() {
			r, err := b.Reserve(context.Background(), limits, usd/10)
			if err != nil {
				return // refused near the limit
			}
			if err := r.Settle(context.Background(), usd/10); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, pct := range []int{50, 80, 100} {
		if n := counts[pct].Load(); n != 1 {
			t.Errorf("the %d%% threshold fired %d times, want once", pct, n)
		}
	}
}
