// Package metertest is the conformance suite that every meter.Ledger and
// meter.UsageStore backend must pass (the in-memory ones in meter, SQLite
// in-process, later PostgreSQL over a real connection), so that budgets
// and usage behave the same whichever store keeps them.
//
// A backend's test calls RunLedger or RunUsageStore with a function that
// opens a new, empty store and arranges, with t.Cleanup, for it to be
// closed:
//
//	func TestLedger(t *testing.T) {
//		metertest.RunLedger(t, func(t *testing.T) meter.Ledger {
//			return openTest(t, t.TempDir())
//		})
//	}
//
// Besides the interfaces' doc comments, the suites pin down:
//
//   - A hold fits while spent + unexpired reservations + amount <= limit,
//     equality included; a reservation stops counting at now+ttl exactly.
//   - Concurrent reservations never let settled spend pass the limit when
//     each call costs at most its estimate, and lose no settlement.
//   - A reservation expired for longer than meter.SettleWindow is forgotten
//     by a later Reserve.
//   - Requests that fail the meter Check functions are refused with an
//     error and change nothing.
//   - A context that is already canceled fails every method with an error
//     matching context.Canceled.
package metertest

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/meter"
)

// t0 is the ledger suite's clock origin: in a zone other than UTC, an hour
// before a new UTC year, so that day and month periods are near a turn.
var t0 = time.Date(2025, 12, 31, 18, 0, 0, 0, time.FixedZone("EST", -5*3600))

// RunLedger runs the ledger conformance suite. open must return a new,
// empty ledger on every call.
func RunLedger(t *testing.T, open func(t *testing.T) meter.Ledger) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, l meter.Ledger)
	}{
		{"ReserveUpToTheLimit", testReserveUpToTheLimit},
		{"AllOrNothing", testAllOrNothing},
		{"Settle", testSettle},
		{"SettleOnce", testSettleOnce},
		{"Release", testRelease},
		{"UnknownID", testUnknownID},
		{"Expiry", testExpiry},
		{"Forget", testForget},
		{"SeparateBuckets", testSeparateBuckets},
		{"InvalidInput", testInvalidInput},
		{"ConcurrentOverspend", testConcurrentOverspend},
		{"CanceledContext", testLedgerCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, open(t))
		})
	}
}

// Accounts used by the suite.
var (
	keyA  = meter.Account{Kind: meter.KindKey, ID: "key_a"}
	teamA = meter.Account{Kind: meter.KindTeam, ID: "a"}
	// keyAsTeam has key A's id but another kind: a different account.
	keyAsTeam = meter.Account{Kind: meter.KindTeam, ID: "key_a"}
)

func bucket(a meter.Account, p meter.Period, now time.Time) meter.Bucket {
	return meter.Bucket{Account: a, Period: p, Start: meter.PeriodStart(p, now)}
}

func hold(b meter.Bucket, limit, amount meter.Amount) meter.Hold {
	return meter.Hold{Bucket: b, Limit: limit, Amount: amount}
}

// reserve reserves holds and fails the test on an error.
func reserve(t *testing.T, l meter.Ledger, now time.Time, ttl time.Duration, holds ...meter.Hold) (string, int) {
	t.Helper()
	id, refused, err := l.Reserve(t.Context(), holds, now, ttl)
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	switch {
	case refused < -1 || refused >= len(holds):
		t.Fatalf("Reserve of %d holds refused index %d", len(holds), refused)
	case refused == -1 && id == "":
		t.Fatal("Reserve succeeded with an empty id")
	case refused >= 0 && id != "":
		t.Fatalf("Reserve refused hold %d but returned id %q", refused, id)
	}
	return id, refused
}

// mustReserve reserves holds and fails the test unless all fit.
func mustReserve(t *testing.T, l meter.Ledger, now time.Time, holds ...meter.Hold) string {
	t.Helper()
	id, refused := reserve(t, l, now, time.Minute, holds...)
	if refused != -1 {
		t.Fatalf("Reserve refused hold %d of %+v", refused, holds)
	}
	return id
}

func settle(t *testing.T, l meter.Ledger, id string, actual meter.Amount) []meter.Amount {
	t.Helper()
	spent, err := l.Settle(t.Context(), id, actual)
	if err != nil {
		t.Fatalf("Settle(%s, %s): %v", id, actual, err)
	}
	return spent
}

// checkSpent fails unless bucket b has the given spent and reserved
// amounts at now.
func checkSpent(t *testing.T, l meter.Ledger, what string, b meter.Bucket, now time.Time, spent, reserved meter.Amount) {
	t.Helper()
	s, r, err := l.Spent(t.Context(), b, now)
	if err != nil {
		t.Fatalf("%s: Spent: %v", what, err)
	}
	if s != spent || r != reserved {
		t.Errorf("%s: spent %s, reserved %s; want %s and %s", what, s, r, spent, reserved)
	}
}

const usd = meter.USD

func testReserveUpToTheLimit(t *testing.T, l meter.Ledger) {
	b := bucket(keyA, meter.Month, t0)
	checkSpent(t, l, "new bucket", b, t0, 0, 0)

	id1 := mustReserve(t, l, t0, hold(b, 10*usd, 3*usd))
	checkSpent(t, l, "after reserving $3", b, t0, 0, 3*usd)
	id2 := mustReserve(t, l, t0, hold(b, 10*usd, 7*usd))
	if id1 == id2 {
		t.Fatalf("two reservations got the same id %q", id1)
	}
	checkSpent(t, l, "after reserving $10 of $10", b, t0, 0, 10*usd)

	if _, refused := reserve(t, l, t0, time.Minute, hold(b, 10*usd, meter.NanoUSD)); refused != 0 {
		t.Errorf("one nano-dollar past the limit: refused = %d, want 0", refused)
	}
	// Exactly at the limit, a hold of nothing still fits.
	mustReserve(t, l, t0, hold(b, 10*usd, 0))
	// A higher limit (the budget was raised) makes room.
	mustReserve(t, l, t0, hold(b, 11*usd, usd))
	checkSpent(t, l, "after the refusal and two more holds", b, t0, 0, 11*usd)
}

func testAllOrNothing(t *testing.T, l meter.Ledger) {
	key, team := bucket(keyA, meter.Day, t0), bucket(teamA, meter.Month, t0)
	mustReserve(t, l, t0, hold(team, 5*usd, 4*usd))

	if _, refused := reserve(t, l, t0, time.Minute, hold(key, 10*usd, 2*usd), hold(team, 5*usd, 2*usd)); refused != 1 {
		t.Errorf("second hold over its limit: refused = %d, want 1", refused)
	}
	if _, refused := reserve(t, l, t0, time.Minute, hold(team, 5*usd, 2*usd), hold(key, 1*usd, 2*usd)); refused != 0 {
		t.Errorf("both holds over their limits: refused = %d, want 0 (the first)", refused)
	}
	checkSpent(t, l, "key after refused reservations", key, t0, 0, 0)
	checkSpent(t, l, "team after refused reservations", team, t0, 0, 4*usd)

	mustReserve(t, l, t0, hold(key, 10*usd, 2*usd), hold(team, 5*usd, usd))
	checkSpent(t, l, "key after a reservation that fit", key, t0, 0, 2*usd)
	checkSpent(t, l, "team after a reservation that fit", team, t0, 0, 5*usd)
}

func testSettle(t *testing.T, l meter.Ledger) {
	key, team := bucket(keyA, meter.Month, t0), bucket(teamA, meter.Month, t0)
	id := mustReserve(t, l, t0, hold(team, 100*usd, 10*usd))
	if got := settle(t, l, id, 10*usd); !slices.Equal(got, []meter.Amount{10 * usd}) {
		t.Errorf("Settle returned %v, want [$10.00]", got)
	}

	id = mustReserve(t, l, t0, hold(key, 100*usd, 2*usd), hold(team, 100*usd, 2*usd))
	// The call cost less than its estimate.
	if got := settle(t, l, id, 1500*meter.MicroUSD); !slices.Equal(got, []meter.Amount{1500 * meter.MicroUSD, 10*usd + 1500*meter.MicroUSD}) {
		t.Errorf("Settle returned %v, want each bucket's new spend in the order of the holds", got)
	}
	checkSpent(t, l, "key after settling less than reserved", key, t0, 1500*meter.MicroUSD, 0)
	checkSpent(t, l, "team after settling less than reserved", team, t0, 10*usd+1500*meter.MicroUSD, 0)

	// The call cost more than its estimate: the money is spent anyway,
	// past the limit.
	id = mustReserve(t, l, t0, hold(key, 2*usd, usd))
	settle(t, l, id, 3*usd)
	checkSpent(t, l, "key after settling more than reserved", key, t0, 3*usd+1500*meter.MicroUSD, 0)
	if _, refused := reserve(t, l, t0, time.Minute, hold(key, 2*usd, 0)); refused != 0 {
		t.Error("a bucket spent past its limit still took a hold")
	}

	// Settling nothing is a settlement too.
	id = mustReserve(t, l, t0, hold(team, 100*usd, usd))
	if got := settle(t, l, id, 0); !slices.Equal(got, []meter.Amount{10*usd + 1500*meter.MicroUSD}) {
		t.Errorf("Settle of $0 returned %v", got)
	}
	checkSpent(t, l, "team after settling $0", team, t0, 10*usd+1500*meter.MicroUSD, 0)
}

func testSettleOnce(t *testing.T, l meter.Ledger) {
	b := bucket(keyA, meter.Day, t0)
	id := mustReserve(t, l, t0, hold(b, 10*usd, 2*usd))
	settle(t, l, id, usd)
	if got := settle(t, l, id, usd); got != nil {
		t.Errorf("second Settle returned %v, want nil", got)
	}
	if err := l.Release(t.Context(), id); err != nil {
		t.Errorf("Release after Settle: %v", err)
	}
	checkSpent(t, l, "after settling twice and releasing", b, t0, usd, 0)
}

func testRelease(t *testing.T, l meter.Ledger) {
	key, team := bucket(keyA, meter.Day, t0), bucket(teamA, meter.Total, t0)
	id := mustReserve(t, l, t0, hold(key, 10*usd, 2*usd), hold(team, 10*usd, 2*usd))
	keep := mustReserve(t, l, t0, hold(key, 10*usd, 3*usd))
	for i := range 2 {
		if err := l.Release(t.Context(), id); err != nil {
			t.Fatalf("Release #%d: %v", i+1, err)
		}
	}
	if got := settle(t, l, id, usd); got != nil {
		t.Errorf("Settle after Release returned %v, want nil", got)
	}
	checkSpent(t, l, "key after release", key, t0, 0, 3*usd)
	checkSpent(t, l, "team after release", team, t0, 0, 0)
	settle(t, l, keep, 3*usd)
	checkSpent(t, l, "key after settling the other reservation", key, t0, 3*usd, 0)
}

func testUnknownID(t *testing.T, l meter.Ledger) {
	b := bucket(keyA, meter.Day, t0)
	mustReserve(t, l, t0, hold(b, 10*usd, 2*usd))
	if got := settle(t, l, "no-such-reservation", usd); got != nil {
		t.Errorf("Settle of an unknown id returned %v, want nil", got)
	}
	if err := l.Release(t.Context(), "no-such-reservation"); err != nil {
		t.Errorf("Release of an unknown id: %v", err)
	}
	checkSpent(t, l, "after settling and releasing unknown ids", b, t0, 0, 2*usd)
}

func testExpiry(t *testing.T, l meter.Ledger) {
	b := bucket(keyA, meter.Month, t0)
	id, _ := reserve(t, l, t0, time.Minute, hold(b, 10*usd, 8*usd))
	just := t0.Add(time.Minute - time.Nanosecond)
	checkSpent(t, l, "just before expiry", b, just, 0, 8*usd)
	if _, refused := reserve(t, l, just, time.Minute, hold(b, 10*usd, 3*usd)); refused != 0 {
		t.Error("a reservation stopped counting before it expired")
	}
	expired := t0.Add(time.Minute)
	checkSpent(t, l, "at expiry", b, expired, 0, 0)
	later, _ := reserve(t, l, expired, time.Minute, hold(b, 10*usd, 3*usd))
	if later == "" {
		t.Fatal("an expired reservation still counted")
	}
	checkSpent(t, l, "with one expired and one live reservation", b, expired, 0, 3*usd)

	// The expired call finished after all: what it spent counts.
	if got := settle(t, l, id, 8*usd); !slices.Equal(got, []meter.Amount{8 * usd}) {
		t.Errorf("Settle of an expired reservation returned %v, want [$8.00]", got)
	}
	checkSpent(t, l, "after settling the expired reservation", b, expired, 8*usd, 3*usd)
}

func testForget(t *testing.T, l meter.Ledger) {
	b := bucket(keyA, meter.Total, t0)
	old := mustReserve(t, l, t0, hold(b, 10*usd, usd))
	// Within the settle window the reservation can still be settled.
	within := mustReserve(t, l, t0, hold(b, 10*usd, usd))
	settle(t, l, within, usd)

	now := t0.Add(time.Minute + meter.SettleWindow + time.Second)
	mustReserve(t, l, now, hold(b, 10*usd, usd))
	if got := settle(t, l, old, 5*usd); got != nil {
		t.Errorf("Settle of a reservation expired for longer than the settle window returned %v, want nil", got)
	}
	checkSpent(t, l, "after the old reservation was forgotten", b, now, usd, usd)
}

func testSeparateBuckets(t *testing.T, l meter.Ledger) {
	// On the first of a month a day and a month start together.
	first := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	day, month := bucket(keyA, meter.Day, first), bucket(keyA, meter.Month, first)
	if !day.Start.Equal(month.Start) {
		t.Fatalf("test setup: %v and %v should start together", day, month)
	}
	buckets := []meter.Bucket{
		day, month,
		bucket(keyA, meter.Total, first),
		bucket(keyAsTeam, meter.Day, first),
		bucket(teamA, meter.Day, first),
		bucket(keyA, meter.Day, first.AddDate(0, 0, 1)),
		bucket(keyA, meter.Month, first.AddDate(0, 1, 0)),
	}
	for i, b := range buckets {
		amount := meter.Amount(i+1) * usd
		id := mustReserve(t, l, first, hold(b, 100*usd, amount))
		settle(t, l, id, amount)
	}
	for i, b := range buckets {
		checkSpent(t, l, b.Account.String()+" "+string(b.Period)+" "+b.Start.Format(time.DateOnly), b, first, meter.Amount(i+1)*usd, 0)
	}
}

func testInvalidInput(t *testing.T, l meter.Ledger) {
	ctx := t.Context()
	good := bucket(keyA, meter.Day, t0)
	mustReserve(t, l, t0, hold(good, 10*usd, usd))
	bad := []struct {
		name  string
		holds []meter.Hold
		now   time.Time
		ttl   time.Duration
	}{
		{"no holds", nil, t0, time.Minute},
		{"empty account kind", []meter.Hold{hold(bucket(meter.Account{ID: "x"}, meter.Day, t0), usd, 0)}, t0, time.Minute},
		{"empty account id", []meter.Hold{hold(bucket(meter.Account{Kind: meter.KindKey}, meter.Day, t0), usd, 0)}, t0, time.Minute},
		{"unknown period", []meter.Hold{hold(meter.Bucket{Account: keyA, Period: "week", Start: meter.PeriodStart(meter.Day, t0)}, usd, 0)}, t0, time.Minute},
		{"start not a day's start", []meter.Hold{hold(meter.Bucket{Account: keyA, Period: meter.Day, Start: t0}, usd, 0)}, t0, time.Minute},
		{"day start for a month", []meter.Hold{hold(meter.Bucket{Account: keyA, Period: meter.Month, Start: meter.PeriodStart(meter.Day, t0)}, usd, 0)}, t0, time.Minute},
		{"no start", []meter.Hold{hold(meter.Bucket{Account: keyA, Period: meter.Month}, usd, 0)}, t0, time.Minute},
		{"start for a total", []meter.Hold{hold(meter.Bucket{Account: keyA, Period: meter.Total, Start: meter.PeriodStart(meter.Day, t0)}, usd, 0)}, t0, time.Minute},
		{"negative amount", []meter.Hold{hold(good, usd, -1)}, t0, time.Minute},
		{"negative limit", []meter.Hold{hold(good, -1, 0)}, t0, time.Minute},
		{"amount too large", []meter.Hold{hold(good, meter.MaxAmount, meter.MaxAmount+1)}, t0, time.Minute},
		{"same bucket twice", []meter.Hold{hold(good, 10*usd, usd), hold(good, 10*usd, usd)}, t0, time.Minute},
		{"no time", []meter.Hold{hold(good, 10*usd, usd)}, time.Time{}, time.Minute},
		{"no lifetime", []meter.Hold{hold(good, 10*usd, usd)}, t0, 0},
	}
	for _, tc := range bad {
		id, refused, err := l.Reserve(ctx, tc.holds, tc.now, tc.ttl)
		if err == nil {
			t.Errorf("Reserve with %s: no error (id %q, refused %d)", tc.name, id, refused)
		}
	}
	if _, err := l.Settle(ctx, "", usd); err == nil {
		t.Error("Settle with no id: no error")
	}
	id := mustReserve(t, l, t0, hold(good, 10*usd, usd))
	if _, err := l.Settle(ctx, id, -1); err == nil {
		t.Error("Settle of a negative cost: no error")
	}
	if err := l.Release(ctx, ""); err == nil {
		t.Error("Release with no id: no error")
	}
	if _, _, err := l.Spent(ctx, meter.Bucket{Account: keyA, Period: meter.Day, Start: t0}, t0); err == nil {
		t.Error("Spent of a malformed bucket: no error")
	}
	checkSpent(t, l, "after the refused requests", good, t0, 0, 2*usd)
}

// testConcurrentOverspend races calls against one budget: each reserves
// its estimate in a key's and a team's budget, then settles a random cost
// up to the estimate, or releases. In the first round every call holds its
// reservation until all have reserved, so exactly as many fit as the limit
// allows; in the second, calls come and go freely. No settled spend may
// pass a limit, no settlement may be lost, and some calls must have been
// refused.
func testConcurrentOverspend(t *testing.T, l meter.Ledger) {
	const (
		calls    = 200
		estimate = usd / 10
		limit    = 5 * usd
	)
	key, team := bucket(keyA, meter.Month, t0), bucket(teamA, meter.Month, t0)
	var (
		settled, refusals atomic.Int64
		errs              = make(chan error, 2*calls)
	)
	round := func(seed uint64, overlap bool) (accepted int64) {
		var (
			wg, reserved sync.WaitGroup
			start, go2   = make(chan struct{}), make(chan struct{})
			n            atomic.Int64
		)
		reserved.Add(calls)
		for i := range calls {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(i), seed))
				<-start
				holds := []meter.Hold{hold(key, limit, estimate), hold(team, 2*limit, estimate)}
				id, refused, err := l.Reserve(context.Background(), holds, t0, time.Hour)
				reserved.Done()
				switch {
				case err != nil:
					errs <- err
					return
				case refused >= 0:
					refusals.Add(1)
					return
				}
				n.Add(1)
				if overlap {
					<-go2
				}
				if rng.IntN(10) == 0 {
					if err := l.Release(context.Background(), id); err != nil {
						errs <- err
					}
					return
				}
				actual := meter.Amount(rng.Int64N(int64(estimate) + 1))
				if _, err := l.Settle(context.Background(), id, actual); err != nil {
					errs <- err
					return
				}
				settled.Add(int64(actual))
			})
		}
		close(start)
		reserved.Wait()
		close(go2)
		wg.Wait()
		return n.Load()
	}
	if n := round(1, true); n != int64(limit/estimate) {
		t.Errorf("%d calls holding %s each at once against %s: %d reserved, want %d", calls, estimate, limit, n, limit/estimate)
	}
	round(2, false)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	spent, reserved, err := l.Spent(t.Context(), key, t0)
	if err != nil {
		t.Fatal(err)
	}
	if spent != meter.Amount(settled.Load()) || reserved != 0 {
		t.Errorf("key: spent %s, reserved %s; want %s settled and nothing reserved", spent, reserved, meter.Amount(settled.Load()))
	}
	// Every call costs at most its estimate, so the reservations alone
	// keep spend within the limit; the looser bound that Budgets promises
	// (one estimate over) holds a fortiori.
	if spent > limit {
		t.Errorf("concurrent calls spent %s of a %s budget", spent, limit)
	}
	if refusals.Load() == 0 {
		t.Errorf("%d calls of up to %s each against %s: none was refused", 2*calls, estimate, limit)
	}
	checkSpent(t, l, "team", team, t0, spent, 0)
}

func testLedgerCanceledContext(t *testing.T, l meter.Ledger) {
	b := bucket(keyA, meter.Day, t0)
	id := mustReserve(t, l, t0, hold(b, 10*usd, usd))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", what, err)
		}
	}
	_, _, err := l.Reserve(ctx, []meter.Hold{hold(b, 10*usd, usd)}, t0, time.Minute)
	check("Reserve", err)
	_, err = l.Settle(ctx, id, usd)
	check("Settle", err)
	check("Release", l.Release(ctx, id))
	_, _, err = l.Spent(ctx, b, t0)
	check("Spent", err)
	checkSpent(t, l, "after the canceled calls", b, t0, 0, usd)
}
