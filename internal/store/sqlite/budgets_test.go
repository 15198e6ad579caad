package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/meter/metertest"
)

func TestLedgerConformance(t *testing.T) {
	metertest.RunLedger(t, func(t *testing.T) meter.Ledger {
		return openTest(t, t.TempDir())
	})
}

// TestBudgetAcrossHandles races calls through two handles on one data
// directory, as two warden processes sharing the file would: each handle
// has its own write connection, so only SQLite's lock keeps their
// reservations apart.
func TestBudgetAcrossHandles(t *testing.T) {
	dir := t.TempDir()
	handles := []*DB{openTest(t, dir), openTest(t, dir)}
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	const (
		calls    = 200
		estimate = meter.USD / 10
		limit    = 5 * meter.USD
	)
	var budgets []*meter.Budgets
	for _, db := range handles {
		b, err := meter.NewBudgets(meter.BudgetsOptions{Ledger: db, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		budgets = append(budgets, b)
	}
	limits := []meter.AccountBudget{{Account: meter.Account{Kind: meter.KindTeam, ID: "ml"}, Budget: meter.Budget{Limit: limit, Period: meter.Month}}}
	var (
		wg, reserved      sync.WaitGroup
		refusals, settled atomic.Int64
		settle            = make(chan struct{})
	)
	// Every call holds its reservation until all have reserved: the most
	// reservations in flight at once that the handles can race.
	reserved.Add(calls)
	for i := range calls {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			r, err := budgets[i%2].Reserve(context.Background(), limits, estimate)
			reserved.Done()
			if apperr.CodeOf(err) == apperr.BudgetExceeded {
				refusals.Add(1)
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			<-settle
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
	if got, want := calls-refusals.Load(), int64(limit/estimate); got != want {
		t.Errorf("%d calls holding %s at once against %s: %d accepted, want %d", calls, estimate, limit, got, want)
	}
	b := meter.Bucket{Account: limits[0].Account, Period: meter.Month, Start: meter.PeriodStart(meter.Month, now)}
	for i, db := range handles {
		spent, reserved, err := db.Spent(t.Context(), b, now)
		if err != nil {
			t.Fatal(err)
		}
		if spent != meter.Amount(settled.Load()) || reserved != 0 {
			t.Errorf("handle %d: spent %s, reserved %s; want %s settled and nothing reserved", i, spent, reserved, meter.Amount(settled.Load()))
		}
		if spent > limit+estimate {
			t.Errorf("handle %d: spent %s of a %s budget", i, spent, limit)
		}
	}
	if refusals.Load() == 0 {
		t.Errorf("%d calls of up to %s against %s: none refused", calls, estimate, limit)
	}
}

// ledgerChildEnv, when set to a data directory, makes
// TestBudgetAcrossProcesses act as one of its child processes.
const ledgerChildEnv = "WARDEN_TEST_LEDGER_CHILD_DIR"

// TestBudgetAcrossProcesses runs this test binary twice more, as two
// warden processes sharing one database file. Each child reserves up to
// 40 calls of $0.10 against one $5.00 budget and holds them until both
// have finished reserving, then settles them at their estimate: exactly 50
// reservations may succeed between them, and the budget must end exactly
// spent, not over.
func TestBudgetAcrossProcesses(t *testing.T) {
	const (
		perChild = 40
		estimate = meter.USD / 10
		limit    = 5 * meter.USD
	)
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	limits := []meter.AccountBudget{{Account: meter.Account{Kind: meter.KindTeam, ID: "ml"}, Budget: meter.Budget{Limit: limit, Period: meter.Month}}}
	if dir := os.Getenv(ledgerChildEnv); dir != "" {
		ledgerChild(t, dir, limits, now, perChild, estimate)
		return
	}

	dir := t.TempDir()
	db := openTest(t, dir) // creates the schema before the children race
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Scanner
	}
	var children []child
	for range 2 {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBudgetAcrossProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), ledgerChildEnv+"="+dir)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, child{cmd, stdin, bufio.NewScanner(stdout)})
	}
	// Start both at once, once both have opened the database.
	for i, c := range children {
		if err := expectLine(c.out, "ready"); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	for _, c := range children {
		if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	var accepted int
	for i, c := range children {
		n, err := readReserved(c.out)
		if err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
		t.Logf("child %d reserved %d calls", i, n)
		accepted += n
	}
	// Both children hold their reservations now: let them settle.
	for _, c := range children {
		c.stdin.Close()
	}
	for i, c := range children {
		for c.out.Scan() { // drain the test framework's output
		}
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
	}
	if want := int(limit / estimate); accepted != want {
		t.Errorf("two processes reserved %d calls of %s against %s at once, want %d", accepted, estimate, limit, want)
	}
	b := meter.Bucket{Account: limits[0].Account, Period: meter.Month, Start: meter.PeriodStart(meter.Month, now)}
	spent, reserved, err := db.Spent(t.Context(), b, now)
	if err != nil {
		t.Fatal(err)
	}
	if spent != meter.Amount(accepted)*estimate || reserved != 0 {
		t.Errorf("spent %s, reserved %s; want %s and nothing reserved", spent, reserved, meter.Amount(accepted)*estimate)
	}
}

// expectLine reads lines until one is want.
func expectLine(out *bufio.Scanner, want string) error {
	for out.Scan() {
		if out.Text() == want {
			return nil
		}
	}
	return fmt.Errorf("no %q line: %v", want, out.Err())
}

// readReserved reads a child's "reserved N" line.
func readReserved(out *bufio.Scanner) (int, error) {
	for out.Scan() {
		if n, ok := strings.CutPrefix(out.Text(), "reserved "); ok {
			return strconv.Atoi(n)
		}
	}
	return 0, fmt.Errorf("no reservation count: %v", out.Err())
}

// ledgerChild is one process of TestBudgetAcrossProcesses.
func ledgerChild(t *testing.T, dir string, limits []meter.AccountBudget, now time.Time, calls int, estimate meter.Amount) {
	db := openTest(t, dir)
	budgets, err := meter.NewBudgets(meter.BudgetsOptions{Ledger: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	in := bufio.NewReader(os.Stdin)
	if line, err := in.ReadString('\n'); err != nil || line != "go\n" {
		t.Fatalf("waiting for the start: %q, %v", line, err)
	}
	var held []*meter.Reservation
	for range calls {
		r, err := budgets.Reserve(t.Context(), limits, estimate)
		if apperr.CodeOf(err) == apperr.BudgetExceeded {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	fmt.Printf("reserved %d\n", len(held))
	// Wait for the parent: it closes stdin once both children reserved.
	if _, err := io.Copy(io.Discard, in); err != nil {
		t.Fatal(err)
	}
	for _, r := range held {
		if err := r.Settle(t.Context(), estimate); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQueryPlans checks that the hot queries use the indexes made for
// them rather than scanning a table.
func TestQueryPlans(t *testing.T) {
	db := openTest(t, t.TempDir())
	for _, tc := range []struct {
		name, query, index string
	}{
		{"reserve sums a bucket's live holds", `SELECT sum(amount) FROM budget_holds
			WHERE account_kind = 'key' AND account_id = 'k' AND period = 'day' AND period_start = 0 AND expires_at > 5`,
			"COVERING INDEX budget_holds_bucket"},
		{"reserve forgets old holds", `DELETE FROM budget_holds WHERE expires_at < 5`, "budget_holds_expires"},
		{"settle finds a reservation", `SELECT * FROM budget_holds WHERE reservation_id = 'r'`, "PRIMARY KEY"},
		{"usage of a key", `SELECT sum(cost) FROM usage_records WHERE at >= 0 AND at < 9 AND key_id = 'k'`, "usage_records_key_at"},
		{"usage of a team", `SELECT sum(cost) FROM usage_records WHERE at >= 0 AND at < 9 AND team = 't'`, "usage_records_team_at"},
		{"usage of a user", `SELECT sum(cost) FROM usage_records WHERE at >= 0 AND at < 9 AND user_name = 'u'`, "usage_records_user_at"},
		{"usage in a time range", `SELECT model, sum(cost) FROM usage_records WHERE at >= 0 AND at < 9 GROUP BY model`, "usage_records_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := db.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if p := strings.Join(plan, "; "); !strings.Contains(p, tc.index) {
				t.Errorf("plan %q does not use %s", p, tc.index)
			}
		})
	}
}

// TestBudgetSchemaRefusesBadRows checks that the tables' constraints hold
// even against writes that bypass the methods.
func TestBudgetSchemaRefusesBadRows(t *testing.T) {
	db := openTest(t, t.TempDir())
	for _, tc := range []struct {
		name, stmt string
	}{
		{"negative spend", `INSERT INTO budget_spend VALUES ('key', 'k', 'day', 0, -1)`},
		{"unknown period", `INSERT INTO budget_spend VALUES ('key', 'k', 'week', 0, 1)`},
		{"empty account", `INSERT INTO budget_spend VALUES ('key', '', 'day', 0, 1)`},
		{"spend as text", `INSERT INTO budget_spend VALUES ('key', 'k', 'day', 0, 'one')`},
		{"negative hold", `INSERT INTO budget_holds VALUES ('r', 0, 'key', 'k', 'day', 0, -1, 5)`},
		{"a bucket twice in a reservation", `INSERT INTO budget_holds VALUES ('r', 0, 'key', 'k', 'day', 0, 1, 5), ('r', 1, 'key', 'k', 'day', 0, 1, 5)`},
		{"status out of range", `INSERT INTO usage_records VALUES ('q', 1, '', '', '', '', '', '', '', 1000, 0, 0, 0, 0, 0, 0, 0)`},
		{"negative tokens", `INSERT INTO usage_records VALUES ('q', 1, '', '', '', '', '', '', '', 200, -1, 0, 0, 0, 0, 0, 0)`},
		{"stream not a flag", `INSERT INTO usage_records VALUES ('q', 1, '', '', '', '', '', '', '', 200, 0, 0, 0, 0, 0, 2, 0)`},
		{"no request id", `INSERT INTO usage_records VALUES ('', 1, '', '', '', '', '', '', '', 200, 0, 0, 0, 0, 0, 0, 0)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := db.writer.ExecContext(t.Context(), tc.stmt); err == nil {
				t.Fatal("the row was accepted")
			}
		})
	}
}

// BenchmarkLedgerReserveSettle measures one call's budget work through
// Budgets on SQLite: a key's and a team's budget reserved, then settled,
// in two IMMEDIATE transactions, each synced to disk.
func BenchmarkLedgerReserveSettle(b *testing.B) {
	db, err := Open(b.Context(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	budgets, err := meter.NewBudgets(meter.BudgetsOptions{Ledger: db, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	limits := []meter.AccountBudget{
		{Account: meter.Account{Kind: meter.KindKey, ID: "key_bench"}, Budget: meter.Budget{Limit: meter.MaxAmount, Period: meter.Month}},
		{Account: meter.Account{Kind: meter.KindTeam, ID: "bench"}, Budget: meter.Budget{Limit: meter.MaxAmount, Period: meter.Day}},
	}
	ctx := context.Background()
	op := func() error {
		r, err := budgets.Reserve(ctx, limits, 100*meter.MicroUSD)
		if err != nil {
			return err
		}
		return r.Settle(ctx, 60*meter.MicroUSD)
	}
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
