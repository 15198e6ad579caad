// Package audittest is the conformance suite that every audit.Store
// backend must pass (the in-memory one in audit, SQLite in-process, later
// PostgreSQL over a real connection), so that the chain, its checkpoints,
// queries and pruning behave the same whichever store keeps the log.
//
// A backend's test calls Run with a function that opens a new, empty store
// and arranges, with t.Cleanup, for it to be closed:
//
//	func TestAuditStoreConformance(t *testing.T) {
//		audittest.Run(t, func(t *testing.T) audit.Store {
//			return openTest(t, t.TempDir())
//		})
//	}
//
// Besides the interfaces' doc comments, the suite pins down:
//
//   - Every field of a record, including strings with control characters
//     and non-ASCII text, reads back exactly, and its hash still matches.
//   - The tail a seal function sees is the last record, or after every
//     record was pruned the anchor checkpoint, and the latest checkpoint.
//   - A batch that does not continue the chain is refused, and a failed
//     seal or refused batch stores nothing.
//   - Prune removes records only up to a checkpoint older than the cutoff
//     and leaves a log that verifies and that writers continue.
//   - A context that is already canceled fails every method with an error
//     matching context.Canceled.
package audittest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/audit"
)

// t0 is the suite's clock origin, in a zone other than UTC so that a
// store that keeps the zone instead of UTC shows.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))

// Run runs the conformance suite. open must return a new, empty store on
// every call.
func Run(t *testing.T, open func(t *testing.T) audit.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s audit.Store)
	}{
		{"Empty", testEmpty},
		{"RoundTrip", testRoundTrip},
		{"Tail", testTail},
		{"RefusesBrokenChain", testRefusesBrokenChain},
		{"SealErrorStoresNothing", testSealError},
		{"Query", testQuery},
		{"Checkpoints", testCheckpoints},
		{"Prune", testPrune},
		{"WriterChainsAndSigns", testWriterChainsAndSigns},
		{"WriterRestart", testWriterRestart},
		{"ConcurrentWriters", testConcurrentWriters},
		{"PruneKeepsVerifiable", testPruneKeepsVerifiable},
		{"CanceledContext", testCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, open(t))
		})
	}
}

// NewSigner returns a signer with a key made for this test run.
func NewSigner(t testing.TB) *audit.Ed25519Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed)
	s, err := audit.NewEd25519Signer(seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// newClock returns a clock reading start.
func newClock(start time.Time) *fakeClock { return &fakeClock{now: start} }

// Now returns the clock's time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Sample returns a record with every field set, varied by i.
func Sample(i int, at time.Time) audit.Record {
	kinds := []audit.Kind{audit.KindCall, audit.KindAdmin, audit.KindCLI, audit.KindSystem}
	actions := []string{"chat.completions", "key.create", "key.revoke", "secret.set"}
	return audit.Record{
		Time:      at,
		RequestID: fmt.Sprintf("req-%d", i),
		Kind:      kinds[i%len(kinds)],
		Action:    actions[i%len(actions)],
		Principal: audit.Principal{User: fmt.Sprintf("user-%d", i%3), Team: "ml", Role: "user"},
		KeyID:     fmt.Sprintf("key_%d", i%5),
		ClientIP:  "192.0.2.7", UserAgent: "openai-python/1.0",
		Route: "/v1/chat/completions", Model: "gpt-4o", Provider: "openai", Deployment: "openai-eu",
		Status: 200, Latency: time.Duration(i+1) * time.Millisecond, TokensIn: int64(10 * i), TokensOut: int64(i),
		Cost:      int64(1000 * i),
		Verdicts:  []audit.Verdict{{Class: "pii", Type: "email", Action: "redact", Count: int64(i%2 + 1)}},
		Retries:   i % 2,
		Fallbacks: i % 3,
		Target:    fmt.Sprintf("obj-%d", i),
	}
}

// seal chains recs onto the tail and returns a seal function that
// appends them, with a checkpoint of the new tail if signer is not nil.
func seal(recs []audit.Record, signer audit.Signer, at time.Time) func(audit.Tail) (audit.Batch, error) {
	return func(t audit.Tail) (audit.Batch, error) {
		out := slices.Clone(recs)
		seq, prev := t.Seq, t.Hash
		for i := range out {
			seq++
			out[i].Seq, out[i].PrevHash = seq, prev
			out[i].Hash = out[i].ComputeHash()
			prev = out[i].Hash
		}
		b := audit.Batch{Records: out}
		if signer != nil {
			cp := &audit.Checkpoint{Seq: seq, Hash: prev, Time: at.UTC()}
			sig, err := signer.Sign(audit.CheckpointMessage(cp))
			if err != nil {
				return audit.Batch{}, err
			}
			cp.Signature = sig
			b.Checkpoint = cp
		}
		return b, nil
	}
}

// appendN appends n sample records timed from start a second apart, and
// a checkpoint of them if signer is not nil.
func appendN(t *testing.T, s audit.Store, first, n int, start time.Time, signer audit.Signer) {
	t.Helper()
	recs := make([]audit.Record, n)
	for i := range recs {
		recs[i] = normalized(Sample(first+i, start.Add(time.Duration(i)*time.Second)))
	}
	if err := s.AppendAudit(t.Context(), seal(recs, signer, start.Add(time.Duration(n)*time.Second))); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
}

// normalized is r as a store gives it back: in UTC.
func normalized(r audit.Record) audit.Record {
	r.Time = r.Time.UTC()
	return r
}

func all(t *testing.T, s audit.Store) []audit.Record {
	t.Helper()
	recs, err := s.AuditRecords(t.Context(), audit.Query{})
	if err != nil {
		t.Fatalf("AuditRecords: %v", err)
	}
	return recs
}

func seqs(recs []audit.Record) []int64 {
	out := []int64{}
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

func cpSeqs(t *testing.T, s audit.Store) []int64 {
	t.Helper()
	cps, err := s.AuditCheckpoints(t.Context(), 0, 0)
	if err != nil {
		t.Fatalf("AuditCheckpoints: %v", err)
	}
	out := []int64{}
	for _, cp := range cps {
		out = append(out, cp.Seq)
	}
	return out
}

func mustVerify(t *testing.T, s audit.Store, pub ed25519.PublicKey) audit.Report {
	t.Helper()
	rep, err := audit.Verify(t.Context(), s, pub)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("Verify: %s", rep.Problem)
	}
	return rep
}

func testEmpty(t *testing.T, s audit.Store) {
	recs, err := s.AuditRecords(t.Context(), audit.Query{})
	if err != nil || recs == nil || len(recs) != 0 {
		t.Fatalf("AuditRecords on an empty log = %v, %v; want an empty slice", recs, err)
	}
	cps, err := s.AuditCheckpoints(t.Context(), 0, 0)
	if err != nil || len(cps) != 0 {
		t.Fatalf("AuditCheckpoints on an empty log = %v, %v", cps, err)
	}
	var seen audit.Tail
	if err := s.AppendAudit(t.Context(), func(tl audit.Tail) (audit.Batch, error) {
		seen = tl
		return audit.Batch{}, nil
	}); err != nil {
		t.Fatalf("empty AppendAudit: %v", err)
	}
	if seen != (audit.Tail{}) {
		t.Errorf("tail of an empty log = %+v, want zero", seen)
	}
	if rep := mustVerify(t, s, NewSigner(t).PublicKey()); rep.Records != 0 || rep.Checkpoints != 0 {
		t.Errorf("Verify of an empty log = %+v", rep)
	}
	if res, err := s.PruneAudit(t.Context(), t0); err != nil || res != (audit.PruneResult{}) {
		t.Errorf("PruneAudit of an empty log = %+v, %v", res, err)
	}
}

func testRoundTrip(t *testing.T, s audit.Store) {
	awkward := "tab\there \"quoted\" back\\slash\nnewline \x01 ctl, ünïcödé ✓ 𝄞, </script>\u2028"
	want := []audit.Record{
		{
			Time: time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC), RequestID: "req-" + awkward, Kind: audit.KindCall,
			Action: "chat.completions", Principal: audit.Principal{User: "alice", Team: "ml", Role: "admin"},
			KeyID: "key_3xY9", ClientIP: "2001:db8::1", UserAgent: awkward, Route: "/v1/chat/completions",
			Model: "gpt-4o", Provider: "openai", Deployment: "openai-eu", Status: 429, Reason: "rate_limit_exceeded",
			Latency: 1234567 * time.Nanosecond, TokensIn: 1 << 40, TokensOut: 7, Cost: 1<<62 + 1,
			Verdicts: []audit.Verdict{
				{Class: "pii", Type: "email", Action: "redact", Count: 3},
				{Class: "secret", Type: "openai-key", Action: "block", Count: 1},
			},
			Retries: 2, Fallbacks: 1, Target: "key_other", Payload: `{"messages":[{"role":"user","content":"[REDACTED]"}]}`,
		},
		// The zero values of every optional field.
		{Time: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), Kind: audit.KindSystem, Action: "startup"},
	}
	if err := s.AppendAudit(t.Context(), seal(want, nil, t0)); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	got := all(t, s)
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	prev := audit.Hash{}
	for i := range want {
		w := want[i]
		w.Seq, w.PrevHash = int64(i+1), prev
		w.Hash = w.ComputeHash()
		prev = w.Hash
		if !got[i].Time.Equal(w.Time) || got[i].Time.Location() != time.UTC {
			t.Errorf("record %d: time %v, want %v in UTC", i+1, got[i].Time, w.Time)
		}
		got[i].Time = w.Time
		if !reflect.DeepEqual(got[i], w) {
			t.Errorf("record %d reads back as\n  %+v\nwant\n  %+v", i+1, got[i], w)
		}
		if got[i].ComputeHash() != got[i].Hash {
			t.Errorf("record %d no longer matches its hash after a round trip", i+1)
		}
	}
}

func testTail(t *testing.T, s audit.Store) {
	signer := NewSigner(t)
	appendN(t, s, 0, 3, t0, nil)
	recs := all(t, s)
	var seen audit.Tail
	if err := s.AppendAudit(t.Context(), func(tl audit.Tail) (audit.Batch, error) {
		seen = tl
		return audit.Batch{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := (audit.Tail{Seq: 3, Hash: recs[2].Hash}); seen != want {
		t.Errorf("tail = %+v, want %+v", seen, want)
	}
	cpAt := t0.Add(time.Hour)
	appendN(t, s, 3, 2, t0, nil)
	if err := s.AppendAudit(t.Context(), seal(nil, signer, cpAt)); err != nil {
		t.Fatalf("append a checkpoint alone: %v", err)
	}
	recs = all(t, s)
	if err := s.AppendAudit(t.Context(), func(tl audit.Tail) (audit.Batch, error) {
		seen = tl
		return audit.Batch{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen.Seq != 5 || seen.Hash != recs[4].Hash || seen.CheckpointSeq != 5 || !seen.CheckpointTime.Equal(cpAt) {
		t.Errorf("tail = %+v, want seq 5 with a checkpoint at 5, %v", seen, cpAt)
	}
	if got := seqs(recs); !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("seqs = %v", got)
	}
}

func testRefusesBrokenChain(t *testing.T, s audit.Store) {
	signer := NewSigner(t)
	appendN(t, s, 0, 2, t0, nil)
	good := func(tl audit.Tail) audit.Batch {
		b, _ := seal([]audit.Record{Sample(9, t0)}, signer, t0)(tl)
		return b
	}
	tests := []struct {
		name   string
		mutate func(b *audit.Batch)
	}{
		{"seq repeated", func(b *audit.Batch) { b.Records[0].Seq = 2 }},
		{"seq skips", func(b *audit.Batch) { b.Records[0].Seq = 4 }},
		{"prev hash wrong", func(b *audit.Batch) { b.Records[0].PrevHash[0] ^= 1 }},
		{"checkpoint not at the tail", func(b *audit.Batch) { b.Checkpoint.Seq = 2 }},
		{"checkpoint hash wrong", func(b *audit.Batch) { b.Checkpoint.Hash[0] ^= 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.AppendAudit(t.Context(), func(tl audit.Tail) (audit.Batch, error) {
				b := good(tl)
				tc.mutate(&b)
				return b, nil
			})
			if err == nil {
				t.Fatal("AppendAudit accepted a batch that does not continue the chain")
			}
			if got := seqs(all(t, s)); !slices.Equal(got, []int64{1, 2}) {
				t.Fatalf("after a refused batch the log holds %v", got)
			}
			if got := cpSeqs(t, s); len(got) != 0 {
				t.Fatalf("after a refused batch the checkpoints are %v", got)
			}
		})
	}
}

func testSealError(t *testing.T, s audit.Store) {
	appendN(t, s, 0, 1, t0, nil)
	boom := errors.New("boom")
	err := s.AppendAudit(t.Context(), func(tl audit.Tail) (audit.Batch, error) { return audit.Batch{}, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("AppendAudit with a failing seal = %v, want the seal's error", err)
	}
	if got := seqs(all(t, s)); !slices.Equal(got, []int64{1}) {
		t.Fatalf("after a failed seal the log holds %v", got)
	}
}

func testQuery(t *testing.T, s audit.Store) {
	// 20 records a second apart: i%4 picks the kind and action, i%5 the key.
	appendN(t, s, 0, 20, t0, nil)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	tests := []struct {
		name string
		q    audit.Query
		want []int64
	}{
		{"all", audit.Query{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}},
		{"since inclusive", audit.Query{Since: at(17)}, []int64{18, 19, 20}},
		{"until exclusive", audit.Query{Until: at(2)}, []int64{1, 2}},
		{"since and until in another zone", audit.Query{Since: at(3).UTC(), Until: at(5).In(time.FixedZone("X", -7200))}, []int64{4, 5}},
		{"key", audit.Query{KeyID: "key_3"}, []int64{4, 9, 14, 19}},
		{"kind", audit.Query{Kind: audit.KindAdmin}, []int64{2, 6, 10, 14, 18}},
		{"action", audit.Query{Action: "key.revoke"}, []int64{3, 7, 11, 15, 19}},
		{"kind and since", audit.Query{Kind: audit.KindCall, Since: at(8)}, []int64{9, 13, 17}},
		{"kind and key", audit.Query{Kind: audit.KindCall, KeyID: "key_4"}, []int64{5}},
		{"after seq", audit.Query{AfterSeq: 17}, []int64{18, 19, 20}},
		{"limit", audit.Query{Limit: 3}, []int64{1, 2, 3}},
		{"limit after seq", audit.Query{AfterSeq: 5, Limit: 2}, []int64{6, 7}},
		{"latest", audit.Query{Limit: 3, Latest: true}, []int64{18, 19, 20}},
		{"latest with a filter", audit.Query{KeyID: "key_1", Limit: 2, Latest: true}, []int64{12, 17}},
		{"latest without limit", audit.Query{Latest: true, Since: at(18)}, []int64{19, 20}},
		{"nothing", audit.Query{KeyID: "key_none"}, []int64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := s.AuditRecords(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if recs == nil {
				t.Error("AuditRecords returned nil, want an empty slice")
			}
			if got := seqs(recs); !slices.Equal(got, tc.want) {
				t.Errorf("seqs = %v, want %v", got, tc.want)
			}
		})
	}
	for _, q := range []audit.Query{{Limit: -1}, {AfterSeq: -1}, {Kind: "nope"}, {Since: at(5), Until: at(4)}} {
		if _, err := s.AuditRecords(t.Context(), q); err == nil {
			t.Errorf("AuditRecords(%+v) accepted a bad query", q)
		}
	}
}

func testCheckpoints(t *testing.T, s audit.Store) {
	signer := NewSigner(t)
	for i := range 4 {
		appendN(t, s, 10*i, 10, t0, signer)
	}
	for _, tc := range []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 0, []int64{10, 20, 30, 40}},
		{10, 0, []int64{20, 30, 40}},
		{15, 2, []int64{20, 30}},
		{40, 0, []int64{}},
	} {
		cps, err := s.AuditCheckpoints(t.Context(), tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, cp := range cps {
			got = append(got, cp.Seq)
			if len(cp.Signature) != ed25519.SignatureSize || !cp.Time.Equal(t0.Add(10*time.Second)) || cp.Time.Location() != time.UTC {
				t.Errorf("checkpoint %d reads back as %+v", cp.Seq, cp)
			}
		}
		if !slices.Equal(orEmpty(got), tc.want) {
			t.Errorf("AuditCheckpoints(%d, %d) = %v, want %v", tc.after, tc.limit, got, tc.want)
		}
	}
	mustVerify(t, s, signer.PublicKey())
}

func orEmpty(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

func testPrune(t *testing.T, s audit.Store) {
	// Records 1-30, one a second from t0, checkpoints at 10, 20 and 25;
	// 26-30 are unsigned.
	signer := NewSigner(t)
	appendN(t, s, 0, 10, t0, signer)
	appendN(t, s, 10, 10, t0.Add(10*time.Second), signer)
	appendN(t, s, 20, 5, t0.Add(20*time.Second), signer)
	appendN(t, s, 25, 5, t0.Add(25*time.Second), nil)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

	tests := []struct {
		name      string
		before    time.Time
		want      audit.PruneResult
		firstSeq  int64
		remaining []int64 // checkpoints
	}{
		{"nothing old enough", at(5), audit.PruneResult{}, 1, []int64{10, 20, 25}},
		// Record 10 is at(9): a cutoff at it keeps it, so checkpoint 10 cannot anchor.
		{"cutoff on the checkpointed record", at(9), audit.PruneResult{}, 1, []int64{10, 20, 25}},
		{"just past the first checkpoint", at(10), audit.PruneResult{Deleted: 10, Anchor: 10}, 11, []int64{10, 20, 25}},
		{"again, same cutoff", at(10), audit.PruneResult{Deleted: 0, Anchor: 10}, 11, []int64{10, 20, 25}},
		{"between checkpoints", at(22), audit.PruneResult{Deleted: 10, Anchor: 20}, 21, []int64{20, 25}},
		{"everything: unsigned records stay", at(1000), audit.PruneResult{Deleted: 5, Anchor: 25}, 26, []int64{25}},
	}
	for _, tc := range tests {
		res, err := audit.Prune(t.Context(), s, tc.before)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res != tc.want {
			t.Errorf("%s: Prune = %+v, want %+v", tc.name, res, tc.want)
		}
		recs := all(t, s)
		if len(recs) == 0 || recs[0].Seq != tc.firstSeq || recs[len(recs)-1].Seq != 30 {
			t.Errorf("%s: records left %v, want %d to 30", tc.name, seqs(recs), tc.firstSeq)
		}
		if got := cpSeqs(t, s); !slices.Equal(got, tc.remaining) {
			t.Errorf("%s: checkpoints left %v, want %v", tc.name, got, tc.remaining)
		}
		rep := mustVerify(t, s, signer.PublicKey())
		if rep.FirstSeq != tc.firstSeq || rep.LastSeq != 30 || rep.Unsigned != 5 {
			t.Errorf("%s: Verify = %+v", tc.name, rep)
		}
	}
	if _, err := audit.Prune(t.Context(), s, time.Time{}); err == nil {
		t.Error("Prune with no cutoff succeeded")
	}
}

func newWriter(t *testing.T, s audit.Store, signer audit.Signer, clock *fakeClock, opts audit.WriterOptions) *audit.Writer {
	t.Helper()
	opts.Store, opts.Signer, opts.Now = s, signer, clock.Now
	w, err := audit.NewWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func logN(t *testing.T, w *audit.Writer, first, n int, clock *fakeClock) {
	t.Helper()
	for i := range n {
		if err := w.Log(t.Context(), Sample(first+i, clock.Now())); err != nil {
			t.Fatalf("Log: %v", err)
		}
	}
}

func testWriterChainsAndSigns(t *testing.T, s audit.Store) {
	signer, clock := NewSigner(t), newClock(t0)
	w := newWriter(t, s, signer, clock, audit.WriterOptions{CheckpointEvery: 1000, BatchSize: 100})
	logN(t, w, 0, 2500, clock)
	if err := w.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if w.Dropped() != 0 {
		t.Errorf("Dropped = %d", w.Dropped())
	}
	recs := all(t, s)
	if len(recs) != 2500 || recs[0].Seq != 1 || recs[2499].Seq != 2500 {
		t.Fatalf("log holds %d records", len(recs))
	}
	for i, r := range recs {
		if r.RequestID != fmt.Sprintf("req-%d", i) {
			t.Fatalf("record %d is %s: out of order", r.Seq, r.RequestID)
		}
	}
	// A checkpoint comes with the batch that makes 1000 unsigned records,
	// and Close signs the rest.
	cps := cpSeqs(t, s)
	if len(cps) != 3 || cps[2] != 2500 {
		t.Fatalf("checkpoints at %v, want two every 1000 records and one at 2500", cps)
	}
	for i, prev := range []int64{0, cps[0]} {
		if gap := cps[i] - prev; gap < 1000 || gap >= 1100 {
			t.Errorf("checkpoint at %d comes %d records after the one before, want 1000 to 1099 (a batch)", cps[i], gap)
		}
	}
	rep := mustVerify(t, s, signer.PublicKey())
	if rep.Records != 2500 || rep.Checkpoints != 3 || rep.Unsigned != 0 {
		t.Errorf("Verify = %+v", rep)
	}
	// Another key's signatures do not pass.
	rep, err := audit.Verify(t.Context(), s, NewSigner(t).PublicKey())
	if err != nil || rep.OK() {
		t.Errorf("Verify with another key = %+v, %v", rep, err)
	}
}

func testWriterRestart(t *testing.T, s audit.Store) {
	signer, clock := NewSigner(t), newClock(t0)
	for round := range 3 {
		w := newWriter(t, s, signer, clock, audit.WriterOptions{})
		logN(t, w, 10*round, 10, clock)
		if err := w.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		clock.Advance(time.Minute)
	}
	if got := seqs(all(t, s)); len(got) != 30 || got[29] != 30 {
		t.Fatalf("seqs after restarts = %v", got)
	}
	if got := cpSeqs(t, s); !slices.Equal(got, []int64{10, 20, 30}) {
		t.Errorf("checkpoints at %v, want one per writer's Close", got)
	}
	mustVerify(t, s, signer.PublicKey())
}

func testConcurrentWriters(t *testing.T, s audit.Store) {
	signer, clock := NewSigner(t), newClock(t0)
	ws := []*audit.Writer{
		newWriter(t, s, signer, clock, audit.WriterOptions{BatchSize: 7, CheckpointEvery: 50}),
		newWriter(t, s, signer, clock, audit.WriterOptions{BatchSize: 13, CheckpointEvery: 50}),
	}
	var wg sync.WaitGroup
	for i, w := range ws {
		for g := range 4 {
			wg.Go(func() {
				for j := range 50 {
					if err := w.Log(context.Background(), Sample(1000*(4*i+g)+j, clock.Now())); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	for _, w := range ws {
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	rep := mustVerify(t, s, signer.PublicKey())
	if rep.Records != 400 || rep.Unsigned != 0 {
		t.Errorf("Verify = %+v, want 400 records, all signed", rep)
	}
	seen := map[string]bool{}
	for _, r := range all(t, s) {
		if seen[r.RequestID] {
			t.Fatalf("%s written twice", r.RequestID)
		}
		seen[r.RequestID] = true
	}
}

func testPruneKeepsVerifiable(t *testing.T, s audit.Store) {
	signer, clock := NewSigner(t), newClock(t0)
	// Three writers' lives a day apart, each closing with a checkpoint.
	for day := range 3 {
		w := newWriter(t, s, signer, clock, audit.WriterOptions{})
		logN(t, w, 100*day, 20, clock)
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		clock.Advance(24 * time.Hour)
	}
	res, err := audit.Prune(t.Context(), s, t0.Add(36*time.Hour))
	if err != nil || res != (audit.PruneResult{Deleted: 40, Anchor: 40}) {
		t.Fatalf("Prune = %+v, %v; want the first two days up to checkpoint 40", res, err)
	}
	rep := mustVerify(t, s, signer.PublicKey())
	if rep.Anchor != 40 || rep.FirstSeq != 41 || rep.Records != 20 {
		t.Errorf("Verify after prune = %+v", rep)
	}
	// Everything goes; the next writer continues from the anchor.
	res, err = audit.Prune(t.Context(), s, clock.Now())
	if err != nil || res != (audit.PruneResult{Deleted: 20, Anchor: 60}) {
		t.Fatalf("Prune all = %+v, %v", res, err)
	}
	if rep := mustVerify(t, s, signer.PublicKey()); rep.Records != 0 || rep.Anchor != 60 {
		t.Errorf("Verify of a log pruned to its anchor = %+v", rep)
	}
	w := newWriter(t, s, signer, clock, audit.WriterOptions{})
	logN(t, w, 900, 5, clock)
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	rep = mustVerify(t, s, signer.PublicKey())
	if rep.Anchor != 60 || rep.FirstSeq != 61 || rep.LastSeq != 65 || rep.Unsigned != 0 {
		t.Errorf("Verify after writing past the anchor = %+v", rep)
	}
}

func testCanceledContext(t *testing.T, s audit.Store) {
	appendN(t, s, 0, 1, t0, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]error{}
	calls["AppendAudit"] = s.AppendAudit(ctx, seal([]audit.Record{Sample(1, t0)}, nil, t0))
	_, calls["AuditRecords"] = s.AuditRecords(ctx, audit.Query{})
	_, calls["AuditCheckpoints"] = s.AuditCheckpoints(ctx, 0, 0)
	_, calls["PruneAudit"] = s.PruneAudit(ctx, t0.Add(time.Hour))
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled", name, err)
		}
	}
	if got := seqs(all(t, s)); !slices.Equal(got, []int64{1}) {
		t.Errorf("after canceled calls the log holds %v", got)
	}
}
