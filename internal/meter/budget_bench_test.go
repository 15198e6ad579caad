package meter_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/meter"
)

// BenchmarkBudgetsReserveSettle measures one call's budget work (reserve
// an estimate in a key's and a team's budget, then settle the actual cost)
// through Budgets and MemoryLedger, next to a baseline that does the same
// arithmetic on a mutex-guarded map. The budgets runs report their cost
// as a multiple of the baseline's ("x-baseline").
func BenchmarkBudgetsReserveSettle(b *testing.B) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	limits := []meter.AccountBudget{
		{Account: meter.Account{Kind: meter.KindKey, ID: "key_bench"}, Budget: meter.Budget{Limit: meter.MaxAmount, Period: meter.Month}},
		{Account: meter.Account{Kind: meter.KindTeam, ID: "bench"}, Budget: meter.Budget{Limit: meter.MaxAmount, Period: meter.Day}},
	}
	const estimate, actual = 100 * meter.MicroUSD, 60 * meter.MicroUSD

	for _, mode := range []string{"sequential", "parallel"} {
		run := func(b *testing.B, op func() error) {
			if mode == "sequential" {
				for b.Loop() {
					if err := op(); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		var baseline float64 // ns/op
		b.Run(mode+"/baseline", func(b *testing.B) {
			m := newMapBudgets()
			run(b, func() error { m.reserveSettle(limits, estimate, actual); return nil })
			baseline = nsPerOp(b)
		})
		b.Run(mode+"/budgets", func(b *testing.B) {
			budgets, err := meter.NewBudgets(meter.BudgetsOptions{
				Ledger: meter.NewMemoryLedger(), Now: func() time.Time { return now },
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			run(b, func() error {
				r, err := budgets.Reserve(ctx, limits, estimate)
				if err != nil {
					return err
				}
				return r.Settle(ctx, actual)
			})
			if baseline > 0 {
				b.ReportMetric(nsPerOp(b)/baseline, "x-baseline")
			}
		})
	}
}

func nsPerOp(b *testing.B) float64 {
	if b.N == 0 {
		return 0
	}
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

// mapBudgets is the least a budget check can do: under one lock, check
// and add a reservation per account, then swap it for the actual cost.
type mapBudgets struct {
	mu              sync.Mutex
	spent, reserved map[meter.Account]meter.Amount
}

func newMapBudgets() *mapBudgets {
	return &mapBudgets{spent: make(map[meter.Account]meter.Amount), reserved: make(map[meter.Account]meter.Amount)}
}

func (m *mapBudgets) reserveSettle(limits []meter.AccountBudget, estimate, actual meter.Amount) {
	m.mu.Lock()
	for _, l := range limits {
		if m.spent[l.Account]+m.reserved[l.Account]+estimate > l.Budget.Limit {
			m.mu.Unlock()
			return
		}
	}
	for _, l := range limits {
		m.reserved[l.Account] += estimate
	}
	m.mu.Unlock()

	m.mu.Lock()
	for _, l := range limits {
		m.reserved[l.Account] -= estimate
		m.spent[l.Account] += actual
	}
	m.mu.Unlock()
}
