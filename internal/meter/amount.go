// Package meter prices calls and keeps spend within budgets: the pricing
// table, the cost of a call from its token usage, the estimate of a call's
// maximum cost before it is made, budget reservations settled from actual
// usage, and usage records.
//
// Prices come from a table embedded in Warden (pricing.json): the
// providers' published list prices as of the table's as_of date. They are
// not authoritative and go out of date; operators must check them against
// their providers and override what differs (Table.With for single models,
// ParsePricing for a whole file). Costs are exact integers in
// nano-dollars. Estimates made before a call (Estimate) are deliberate
// over-estimates from the request's text, not tokenizer counts; what is
// billed is the cost of the usage the provider reports.
package meter

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// Amount is an amount of money in nano-dollars (1e-9 USD). Integers keep
// sums exact: a cheap model costs a fraction of a micro-dollar per token,
// and an int64 still holds more than nine billion dollars.
type Amount int64

// Common amounts.
const (
	NanoUSD  Amount = 1
	MicroUSD Amount = 1_000
	USD      Amount = 1_000_000_000
)

// MaxAmount is the largest amount ParseUSD accepts (one billion dollars):
// anything larger is a typo, not a budget.
const MaxAmount = 1_000_000_000 * USD

// String formats a as dollars with as many decimals as it needs, at least
// two: "$1.50", "$0.000125", "-$3.00".
func (a Amount) String() string {
	sign := ""
	u := uint64(a)
	if a < 0 {
		sign = "-"
		u = uint64(-(a + 1)) + 1 // also right for math.MinInt64
	}
	whole, frac := u/uint64(USD), u%uint64(USD)
	f := strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
	for len(f) < 2 {
		f += "0"
	}
	return fmt.Sprintf("%s$%d.%s", sign, whole, f)
}

// Dollars returns a as a float, for display and JSON only.
func (a Amount) Dollars() float64 { return float64(a) / float64(USD) }

// ParseUSD parses a non-negative dollar amount such as "5", "0.25",
// "$1.50" or "1e-3", exactly, to the nano-dollar.
func ParseUSD(s string) (Amount, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "$")
	r, ok := new(big.Rat).SetString(t)
	if !ok || t == "" {
		return 0, fmt.Errorf("%q is not a dollar amount; write it like 5 or 0.25", s)
	}
	if r.Sign() < 0 {
		return 0, fmt.Errorf("%q is negative; a dollar amount must be zero or more", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(USD)))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q has more than nine decimals; amounts are counted in nano-dollars", s)
	}
	n := r.Num()
	if !n.IsInt64() || n.Int64() > int64(MaxAmount) {
		return 0, fmt.Errorf("%q is more than the largest amount allowed (%s)", s, MaxAmount)
	}
	return Amount(n.Int64()), nil
}

// FromDollars converts a price given as a float (as pricing files write
// them) to an Amount, rounding to the nearest nano-dollar. It returns
// false for NaN, infinities, negative and out-of-range values.
func FromDollars(d float64) (Amount, bool) {
	if math.IsNaN(d) || d < 0 || d > MaxAmount.Dollars() {
		return 0, false
	}
	return Amount(math.Round(d * float64(USD))), true
}

// Period is how often a budget starts again.
type Period string

// Budget periods. Days and months are in UTC.
const (
	Day   Period = "day"
	Month Period = "month"
	Total Period = "total" // never resets
)

// Valid reports whether p is a known period.
func (p Period) Valid() bool { return p == Day || p == Month || p == Total }

// Budget is a spending limit over a period. The zero Budget is no limit.
type Budget struct {
	Limit  Amount
	Period Period
}

// IsZero reports whether b sets no limit.
func (b Budget) IsZero() bool { return b.Limit == 0 && b.Period == "" }
