package sqlite

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/audit/audittest"
)

func TestAuditStoreConformance(t *testing.T) {
	audittest.Run(t, func(t *testing.T) audit.Store {
		return openTest(t, t.TempDir())
	})
}

var auditT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// auditWriter starts a writer on db with a clock that stands still.
func auditWriter(t testing.TB, db *DB, signer audit.Signer, opts audit.WriterOptions) *audit.Writer {
	t.Helper()
	opts.Store, opts.Signer = db, signer
	opts.Now = func() time.Time { return auditT0 }
	opts.Logger = slog.New(slog.DiscardHandler)
	w, err := audit.NewWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// buildAuditLog writes records 1-35 with checkpoints at 10, 20 and 30,
// and 35 when the writer closes.
func buildAuditLog(t *testing.T, db *DB, signer audit.Signer) {
	t.Helper()
	w := auditWriter(t, db, signer, audit.WriterOptions{CheckpointEvery: 10})
	for i := range 35 {
		if err := w.Log(t.Context(), audittest.Sample(i, auditT0)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			// A checkpoint comes with the batch that makes ten unsigned
			// records: flushing every ten puts them at 10, 20, 30.
			if err := w.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	cps, err := db.AuditCheckpoints(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, cp := range cps {
		got = append(got, cp.Seq)
	}
	if !slices.Equal(got, []int64{10, 20, 30, 35}) {
		t.Fatalf("checkpoints at %v, want 10, 20, 30, 35", got)
	}
}

// forgedRecordSQL inserts a copy of record 15 as record 16, with a new
// request id, linked to record 15. hash is the forged hash.
const forgedRecordSQL = `INSERT INTO audit_records (` + auditColumns + `)
	SELECT 16, hash, ?, at, 'forged', kind, action, user_name, team, role, key_id, client_ip, user_agent, route, model,
	       provider, deployment, status, reason, latency, tokens_in, tokens_out, cost, verdicts, retries, fallbacks,
	       target, payload
	FROM audit_records WHERE seq = 15`

// renumberSQL moves records 16 on up by one to make room for a forged
// record 16; the primary key forbids doing it in one step.
var renumberSQL = []string{
	`UPDATE audit_records SET seq = seq + 1000000 WHERE seq >= 16`,
	`UPDATE audit_records SET seq = seq - 999999 WHERE seq >= 1000000`,
}

// TestAuditTamperingFound changes the database with SQL, as someone with
// the file but not the signing key could, and checks that Verify names
// the first record that is wrong.
func TestAuditTamperingFound(t *testing.T) {
	tests := []struct {
		name       string
		sql        func(db *DB) []string
		args       func(t *testing.T, db *DB) [][]any
		wantSeq    int64
		wantReason string
	}{
		{"field edited", func(*DB) []string {
			return []string{`UPDATE audit_records SET cost = cost + 1 WHERE seq = 15`}
		}, nil, 15, "does not match its hash"},
		{"verdict removed", func(*DB) []string {
			return []string{`UPDATE audit_records SET verdicts = '[]' WHERE seq = 12`}
		}, nil, 12, "does not match its hash"},
		{"time moved", func(*DB) []string {
			return []string{`UPDATE audit_records SET at = at - 3600000000000 WHERE seq = 33`}
		}, nil, 33, "does not match its hash"},
		{"record deleted", func(*DB) []string {
			return []string{`DELETE FROM audit_records WHERE seq = 15`}
		}, nil, 15, "missing"},
		{"records deleted from the end", func(*DB) []string {
			return []string{`DELETE FROM audit_records WHERE seq >= 33`}
		}, nil, 33, "deleted from the end"},
		{"forged record inserted", func(*DB) []string {
			return append(slices.Clone(renumberSQL), forgedRecordSQL)
		}, func(t *testing.T, db *DB) [][]any {
			return [][]any{nil, nil, {make([]byte, 32)}}
		}, 16, "does not match its hash"},
		{"forged record inserted with a correct hash", func(*DB) []string {
			return append(slices.Clone(renumberSQL), forgedRecordSQL)
		}, func(t *testing.T, db *DB) [][]any {
			// The forger computes the hash the forged row will need.
			recs, err := db.AuditRecords(t.Context(), audit.Query{AfterSeq: 14, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			forged := recs[0]
			forged.Seq, forged.PrevHash, forged.RequestID = 16, recs[0].Hash, "forged"
			h := forged.ComputeHash()
			return [][]any{nil, nil, {h[:]}}
		}, 17, "does not match its hash"},
		{"two records swapped", func(*DB) []string {
			return []string{
				`UPDATE audit_records SET seq = 1000015 WHERE seq = 15`,
				`UPDATE audit_records SET seq = 15 WHERE seq = 16`,
				`UPDATE audit_records SET seq = 16 WHERE seq = 1000015`,
			}
		}, nil, 15, "does not match its hash"},
		{"checkpoint signature forged", func(*DB) []string {
			return []string{`UPDATE audit_checkpoints SET signature = randomblob(64) WHERE seq = 20`}
		}, nil, 20, "signature"},
		{"checkpoint hash changed", func(*DB) []string {
			return []string{`UPDATE audit_checkpoints SET hash = (SELECT hash FROM audit_records WHERE seq = 19), seq = 19 WHERE seq = 20`}
		}, nil, 19, "signature"},
		{"checkpoint forged after deleting records", func(*DB) []string {
			return []string{
				`DELETE FROM audit_records WHERE seq > 30`,
				`DELETE FROM audit_checkpoints WHERE seq = 35`,
				`DELETE FROM audit_records WHERE seq = 30`,
				`UPDATE audit_checkpoints SET seq = 29, hash = (SELECT hash FROM audit_records WHERE seq = 29) WHERE seq = 30`,
			}
		}, nil, 29, "signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTest(t, t.TempDir())
			signer := audittest.NewSigner(t)
			buildAuditLog(t, db, signer)
			if rep, err := audit.Verify(t.Context(), db, signer.PublicKey()); err != nil || !rep.OK() {
				t.Fatalf("Verify before tampering = %+v, %v", rep, err)
			}
			stmts := tc.sql(db)
			var args [][]any
			if tc.args != nil {
				args = tc.args(t, db)
			}
			for i, s := range stmts {
				var a []any
				if i < len(args) {
					a = args[i]
				}
				if _, err := db.writer.ExecContext(t.Context(), s, a...); err != nil {
					t.Fatalf("tamper: %s: %v", s, err)
				}
			}
			rep, err := audit.Verify(t.Context(), db, signer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatalf("Verify found nothing wrong: %+v", rep)
			}
			if rep.Problem.Seq != tc.wantSeq || !strings.Contains(rep.Problem.Reason, tc.wantReason) {
				t.Errorf("Verify found %q, want record %d: …%s…", rep.Problem, tc.wantSeq, tc.wantReason)
			}
		})
	}
}

// TestAuditTwoProcessesOneChain opens the file twice, as the CLI and a
// running server would, and appends through both at once: the records
// form one chain, and every one is written once.
func TestAuditTwoProcessesOneChain(t *testing.T) {
	dir := t.TempDir()
	signer := audittest.NewSigner(t)
	a, b := openTest(t, dir), openTest(t, dir)
	ws := []*audit.Writer{
		auditWriter(t, a, signer, audit.WriterOptions{BatchSize: 5, CheckpointEvery: 25}),
		auditWriter(t, b, signer, audit.WriterOptions{BatchSize: 8, CheckpointEvery: 25}),
	}
	const perWorker = 60
	var wg sync.WaitGroup
	for i, w := range []*audit.Writer{ws[0], ws[1], ws[0], ws[1]} {
		wg.Go(func() {
			for j := range perWorker {
				if err := w.Log(context.Background(), audittest.Sample(1000*i+j, auditT0)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, w := range ws {
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := audit.Verify(t.Context(), a, signer.PublicKey())
	if err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if rep.Records != 4*perWorker || rep.Unsigned != 0 {
		t.Errorf("Verify = %+v, want %d records, all signed", rep, 4*perWorker)
	}
	recs, err := b.AuditRecords(t.Context(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.RequestID] {
			t.Errorf("%s written twice", r.RequestID)
		}
		seen[r.RequestID] = true
	}
}

// TestAuditChainSurvivesReopen restarts the process between writers.
func TestAuditChainSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	signer := audittest.NewSigner(t)
	for round := range 3 {
		db, err := Open(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		w := auditWriter(t, db, signer, audit.WriterOptions{})
		for i := range 10 {
			if err := w.Log(t.Context(), audittest.Sample(10*round+i, auditT0)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := openTest(t, dir)
	rep, err := audit.Verify(t.Context(), db, signer.PublicKey())
	if want := (audit.Report{Records: 30, Checkpoints: 3, FirstSeq: 1, LastSeq: 30}); err != nil || rep != want {
		t.Errorf("Verify after restarts = %+v, %v; want %+v", rep, err, want)
	}
}

// BenchmarkAuditWriterSQLite measures how many records a second the
// writer stores in SQLite in batches of 100 (synchronous=FULL: one fsync
// per batch).
//
//	go test -run XXX -bench AuditWriter ./internal/store/sqlite/
func BenchmarkAuditWriterSQLite(b *testing.B) {
	db, err := Open(b.Context(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	w := auditWriter(b, db, audittest.NewSigner(b), audit.WriterOptions{BatchSize: 100})
	rec := audittest.Sample(1, auditT0)
	ctx := context.Background()
	start := time.Now()
	for i := range b.N {
		rec.RequestID = fmt.Sprint("req-", i)
		if err := w.Log(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}
