package meter

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
)

// Account kinds that carry budgets.
const (
	KindKey  = "key"
	KindUser = "user"
	KindTeam = "team"
)

// Account is who a budget belongs to: a virtual key, a user or a team.
type Account struct {
	Kind string // KindKey, KindUser or KindTeam
	ID   string
}

// String names the account for people: team "ml".
func (a Account) String() string { return a.Kind + " " + strconv.Quote(a.ID) }

// PeriodStart returns the start of the period of kind p that contains now:
// midnight UTC for Day, midnight UTC on the first for Month, and the zero
// time for Total and for unknown periods.
func PeriodStart(p Period, now time.Time) time.Time {
	u := now.UTC()
	switch p {
	case Day:
		return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	case Month:
		return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Time{}
}

// periodEnd returns when the period of kind p starting at start ends: the
// zero time for Total, which never does.
func periodEnd(p Period, start time.Time) time.Time {
	switch p {
	case Day:
		return start.AddDate(0, 0, 1)
	case Month:
		return start.AddDate(0, 1, 0)
	}
	return time.Time{}
}

// AccountBudget is a budget that applies to a call.
type AccountBudget struct {
	Account Account
	Budget  Budget
	// Label names the account in refusals and threshold events, e.g.
	// `team "ml"`; empty means Account.String(). It is shown to the
	// caller, so it must hold nothing secret.
	Label string
}

func (ab AccountBudget) label() string {
	if ab.Label != "" {
		return ab.Label
	}
	return ab.Account.String()
}

// ThresholdEvent reports that settled spend crossed a share of a budget.
type ThresholdEvent struct {
	Account     Account
	Label       string
	Period      Period
	PeriodStart time.Time
	Percent     int // 50, 80 or 100
	Spent       Amount
	Limit       Amount
}

// thresholds are the percentages of a limit that raise a ThresholdEvent.
var thresholds = [...]int{50, 80, 100}

// DefaultReservationTTL is how long a reservation counts against its
// budgets when BudgetsOptions leaves it unset. It must outlast the longest
// call (a long stream included), or a call still running stops counting
// and concurrent calls may overspend by its estimate.
const DefaultReservationTTL = 15 * time.Minute

// BudgetsOptions configures Budgets.
type BudgetsOptions struct {
	// Ledger keeps spend and reservations. Required.
	Ledger Ledger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ReservationTTL is how long a reservation counts if it is neither
	// settled nor released (its process crashed); zero means
	// DefaultReservationTTL.
	ReservationTTL time.Duration
	// OnThreshold, if set, is called once for each crossing of 50%, 80%
	// and 100% of a budget by a Settle, synchronously: it must not block.
	OnThreshold func(ThresholdEvent)
}

// Budgets enforces spending limits on calls: Reserve before the call sets
// its estimated maximum cost aside in every budget that applies, and the
// Reservation's Settle records what it really cost. Concurrent calls can
// therefore not spend past a limit by more than what their actual costs
// exceed their estimates. Budgets is safe for concurrent use.
type Budgets struct {
	ledger      Ledger
	now         func() time.Time
	ttl         time.Duration
	onThreshold func(ThresholdEvent)
}

// NewBudgets returns a budgeter, or an error if opts are incomplete.
func NewBudgets(opts BudgetsOptions) (*Budgets, error) {
	if opts.Ledger == nil {
		return nil, errors.New("budgets: no ledger given; pass the store that keeps budget spend")
	}
	if opts.ReservationTTL < 0 {
		return nil, fmt.Errorf("budgets: reservation lifetime %s is negative", opts.ReservationTTL)
	}
	b := &Budgets{ledger: opts.Ledger, now: opts.Now, ttl: opts.ReservationTTL, onThreshold: opts.OnThreshold}
	if b.now == nil {
		b.now = time.Now
	}
	if b.ttl == 0 {
		b.ttl = DefaultReservationTTL
	}
	return b, nil
}

// heldBudget is one budget a reservation holds money in.
type heldBudget struct {
	AccountBudget
	start time.Time
}

// Reserve sets estimate aside in every budget in limits that is not zero,
// all or none. It refuses with an *apperr.Error: BudgetExceeded, saying
// which budget, if one cannot take the estimate; Unavailable if the ledger
// cannot be reached, since a budget that cannot be checked must not be
// passed; Internal if a budget or the estimate is malformed.
//
// The returned Reservation must be settled or released when the call
// ends. With no budgets to enforce it is a no-op, but still non-nil.
func (b *Budgets) Reserve(ctx context.Context, limits []AccountBudget, estimate Amount) (*Reservation, error) {
	if estimate < 0 || estimate > MaxAmount {
		return nil, apperr.Wrap(apperr.Internal, "the cost estimate of this call is out of range; see the server log",
			fmt.Errorf("reserve budget: estimate %s is not between $0 and %s", estimate, MaxAmount))
	}
	now := b.now()
	var held []heldBudget
	for _, l := range limits {
		if l.Budget.IsZero() {
			continue
		}
		if !l.Budget.Period.Valid() || l.Budget.Limit < 0 || l.Budget.Limit > MaxAmount ||
			l.Account.Kind == "" || l.Account.ID == "" {
			return nil, apperr.Wrap(apperr.Internal, "a budget that applies to this call is misconfigured; see the server log",
				fmt.Errorf("reserve budget: %s has a malformed budget (limit %s, period %q)", l.label(), l.Budget.Limit, l.Budget.Period))
		}
		h := heldBudget{AccountBudget: l, start: PeriodStart(l.Budget.Period, now)}
		if i := indexBucket(held, h); i >= 0 {
			// The same budget twice: enforcing both is enforcing the
			// smaller limit.
			if h.Budget.Limit < held[i].Budget.Limit {
				held[i] = h
			}
			continue
		}
		held = append(held, h)
	}
	r := &Reservation{budgets: b, held: held}
	if len(held) == 0 {
		return r, nil
	}
	// A hold of zero would fit a budget that is exactly used up.
	amount := max(estimate, NanoUSD)
	holds := make([]Hold, len(held))
	for i, h := range held {
		holds[i] = Hold{Bucket: h.bucket(), Limit: h.Budget.Limit, Amount: amount}
	}
	id, refused, err := b.ledger.Reserve(ctx, holds, now, b.ttl)
	switch {
	case err != nil:
		return nil, apperr.Wrap(apperr.Unavailable, "the budget for this call cannot be checked right now; try again shortly", err)
	case refused >= len(held):
		return nil, apperr.Wrap(apperr.Unavailable, "the budget for this call cannot be checked right now; try again shortly",
			fmt.Errorf("reserve budget: the ledger refused hold %d of %d", refused, len(held)))
	case refused >= 0:
		return nil, b.refusal(ctx, held[refused], now, amount)
	}
	r.id = id
	return r, nil
}

func (h heldBudget) bucket() Bucket {
	return Bucket{Account: h.Account, Period: h.Budget.Period, Start: h.start}
}

func indexBucket(held []heldBudget, h heldBudget) int {
	for i, o := range held {
		if o.Account == h.Account && o.Budget.Period == h.Budget.Period {
			return i
		}
	}
	return -1
}

// refusal explains which budget refused a call, with its figures if the
// ledger can still give them.
func (b *Budgets) refusal(ctx context.Context, h heldBudget, now time.Time, amount Amount) *apperr.Error {
	var msg strings.Builder
	fmt.Fprintf(&msg, "%s budget of %s ", periodAdjective(h.Budget.Period), h.label())
	spent, reserved, err := b.ledger.Spent(ctx, h.bucket(), now)
	switch {
	case err != nil:
		msg.WriteString("cannot cover this call")
	case spent >= h.Budget.Limit:
		fmt.Fprintf(&msg, "exhausted: %s of %s spent", spent, h.Budget.Limit)
	default:
		fmt.Fprintf(&msg, "cannot cover this call: %s of %s spent", spent, h.Budget.Limit)
		if reserved > 0 {
			fmt.Fprintf(&msg, ", %s held for calls in progress,", reserved)
		}
		fmt.Fprintf(&msg, " and this call may cost up to %s", amount)
	}
	e := &apperr.Error{Code: apperr.BudgetExceeded, Cause: err}
	if end := periodEnd(h.Budget.Period, h.start); !end.IsZero() {
		fmt.Fprintf(&msg, "; it resets %s", end.Format(time.DateOnly))
		e.RetryAfter = end.Sub(now)
	} else {
		msg.WriteString("; a total budget does not reset")
	}
	e.Message = msg.String()
	return e
}

func periodAdjective(p Period) string {
	switch p {
	case Day:
		return "daily"
	case Month:
		return "monthly"
	}
	return "total"
}

// Reservation is money set aside for one call. Settle or Release it when
// the call ends; the first of them to succeed counts, later calls do
// nothing. A nil *Reservation is a no-op too.
type Reservation struct {
	budgets *Budgets
	id      string // empty when no budget applies
	held    []heldBudget

	mu   sync.Mutex
	done bool
}

// ID returns the ledger's id for the reservation, for logs: empty if no
// budget applied to the call.
func (r *Reservation) ID() string {
	if r == nil {
		return ""
	}
	return r.id
}

// Settle records that the call cost actual, which may be more than the
// estimate, and raises threshold events. It ignores ctx's cancellation,
// keeping its values: the money is spent whether or not the client is
// still connected. After an error it may be called again.
func (r *Reservation) Settle(ctx context.Context, actual Amount) error {
	if r == nil {
		return nil
	}
	if actual < 0 || actual > MaxAmount {
		// The reservation keeps counting until it expires: erring on the
		// side of the budget.
		return fmt.Errorf("settle budget reservation %s: actual cost %s is not between $0 and %s", r.id, actual, MaxAmount)
	}
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return nil
	}
	if r.id == "" {
		r.done = true
		r.mu.Unlock()
		return nil
	}
	spent, err := r.budgets.ledger.Settle(context.WithoutCancel(ctx), r.id, actual)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("settle budget reservation %s: %w", r.id, err)
	}
	r.done = true
	r.mu.Unlock()

	if r.budgets.onThreshold == nil || len(spent) != len(r.held) {
		// nil: the ledger had already settled it, and raised the events.
		return nil
	}
	for i, h := range r.held {
		after := spent[i]
		before := after - actual
		for _, pct := range thresholds {
			if !reached(before, h.Budget.Limit, pct) && reached(after, h.Budget.Limit, pct) {
				r.budgets.onThreshold(ThresholdEvent{
					Account: h.Account, Label: h.label(), Period: h.Budget.Period, PeriodStart: h.start,
					Percent: pct, Spent: after, Limit: h.Budget.Limit,
				})
			}
		}
	}
	return nil
}

// Release gives the reserved money back, for a call that failed before
// the upstream billed it. Like Settle it ignores ctx's cancellation.
func (r *Reservation) Release(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil
	}
	if r.id != "" {
		if err := r.budgets.ledger.Release(context.WithoutCancel(ctx), r.id); err != nil {
			return fmt.Errorf("release budget reservation %s: %w", r.id, err)
		}
	}
	r.done = true
	return nil
}

// reached reports whether spent is at least pct percent of a positive
// limit, exactly: spent*100 >= limit*pct in 128 bits, where int64 would
// overflow for large limits.
func reached(spent, limit Amount, pct int) bool {
	if spent < 0 || limit <= 0 {
		return false
	}
	sh, sl := bits.Mul64(uint64(spent), 100)
	lh, ll := bits.Mul64(uint64(limit), uint64(pct))
	return sh > lh || (sh == lh && sl >= ll)
}
