package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
)

func TestNewWriterRefuses(t *testing.T) {
	store, signer := NewMemoryStore(), testSigner(t)
	tests := []struct {
		name string
		opts WriterOptions
		want string
	}{
		{"no store", WriterOptions{Signer: signer}, "no store"},
		{"no signer", WriterOptions{Store: store}, "no signer"},
		{"negative queue", WriterOptions{Store: store, Signer: signer, QueueSize: -1}, "negative"},
		{"negative batch", WriterOptions{Store: store, Signer: signer, BatchSize: -1}, "negative"},
		{"negative interval", WriterOptions{Store: store, Signer: signer, FlushInterval: -time.Second}, "negative"},
		{"negative timeout", WriterOptions{Store: store, Signer: signer, BlockTimeout: -time.Second}, "negative"},
		{"unknown policy", WriterOptions{Store: store, Signer: signer, Policy: "shrug"}, `"shrug"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWriter(tc.opts)
			if err == nil {
				w.Close(t.Context())
				t.Fatal("NewWriter accepted the options")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestLogRefusesInvalidRecords(t *testing.T) {
	r := newRig(t, WriterOptions{})
	tests := []struct {
		name   string
		change func(*Record)
	}{
		{"no kind", func(rec *Record) { rec.Kind = "" }},
		{"unknown kind", func(rec *Record) { rec.Kind = "other" }},
		{"no action", func(rec *Record) { rec.Action = "" }},
		{"status", func(rec *Record) { rec.Status = 1000 }},
		{"negative tokens", func(rec *Record) { rec.TokensIn = -1 }},
		{"negative cost", func(rec *Record) { rec.Cost = -1 }},
		{"negative latency", func(rec *Record) { rec.Latency = -1 }},
		{"negative verdict count", func(rec *Record) { rec.Verdicts = []Verdict{{Count: -1}} }},
		{"time out of range", func(rec *Record) { rec.Time = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tc := range tests {
		rec := sample(1)
		tc.change(&rec)
		if err := r.w.Log(t.Context(), rec); err == nil {
			t.Errorf("%s: Log accepted the record", tc.name)
		}
	}
	if err := r.w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := r.store.count(t); n != 0 {
		t.Errorf("%d invalid records were written", n)
	}
}

// TestLogNormalizes checks that what is stored reads back as it was
// hashed, whatever the caller passed.
func TestLogNormalizes(t *testing.T) {
	r := newRig(t, WriterOptions{})
	rec := sample(1)
	rec.Time = time.Now().In(time.FixedZone("X", 3600)) // with a monotonic reading
	rec.UserAgent = "bad \xff utf-8"
	rec.Verdicts = []Verdict{}
	if err := r.w.Log(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	noTime := sample(2)
	noTime.Time = time.Time{}
	if err := r.w.Log(t.Context(), noTime); err != nil {
		t.Fatal(err)
	}
	if err := r.w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, _ := r.store.AuditRecords(t.Context(), Query{})
	if len(got) != 2 {
		t.Fatalf("stored %d records", len(got))
	}
	if g := got[0]; g.Time.Location() != time.UTC || !g.Time.Equal(rec.Time) || g.UserAgent != "bad \uFFFD utf-8" || g.Verdicts != nil {
		t.Errorf("stored %+v", g)
	}
	if !got[1].Time.Equal(t0) {
		t.Errorf("a record without a time got %v, want the clock's %v", got[1].Time, t0)
	}
	for _, g := range got {
		if g.ComputeHash() != g.Hash {
			t.Errorf("record %d does not match its hash as stored", g.Seq)
		}
	}
}

// fillQueue holds the store, logs one record and waits until the writer
// is stuck writing it, then fills the queue of size n.
func fillQueue(t *testing.T, r *rig, n int) {
	t.Helper()
	r.store.hold()
	if err := r.w.Log(t.Context(), sample(0)); err != nil {
		t.Fatal(err)
	}
	<-r.store.entered
	for i := range n {
		if err := r.w.Log(t.Context(), sample(i+1)); err != nil {
			t.Fatalf("Log %d into a queue with room: %v", i+1, err)
		}
	}
}

func TestQueueFullBlock(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		ctx     func(t *testing.T) context.Context
		wantCtx error
	}{
		{"block timeout", time.Nanosecond, func(t *testing.T) context.Context { return t.Context() }, nil},
		{"context canceled", time.Hour, func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, context.Canceled},
		{"context deadline", time.Hour, func(t *testing.T) context.Context {
			ctx, cancel := context.WithDeadline(t.Context(), t0) // long past
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, WriterOptions{QueueSize: 2, BatchSize: 1, Policy: PolicyBlock, BlockTimeout: tc.timeout})
			fillQueue(t, r, 2)
			err := r.w.Log(tc.ctx(t), sample(9))
			if !errors.Is(err, ErrQueueFull) {
				t.Fatalf("Log into a full queue = %v, want ErrQueueFull", err)
			}
			if tc.wantCtx != nil && !errors.Is(err, tc.wantCtx) {
				t.Errorf("error %v does not carry %v", err, tc.wantCtx)
			}
			if apperr.CodeOf(err) != apperr.Unavailable || apperr.CodeOf(err).Status() != 503 {
				t.Errorf("error code %q, want %q (503)", apperr.CodeOf(err), apperr.Unavailable)
			}
			r.store.release()
			if err := r.w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			// Every Log that returned nil was written; none was dropped.
			if n := r.store.count(t); n != 3 || r.w.Dropped() != 0 {
				t.Errorf("written %d, dropped %d; want 3 and 0", n, r.w.Dropped())
			}
		})
	}
}

// TestQueueFullBlockWaits checks that a blocked Log goes through once the
// store catches up.
func TestQueueFullBlockWaits(t *testing.T) {
	r := newRig(t, WriterOptions{QueueSize: 2, BatchSize: 1, Policy: PolicyBlock, BlockTimeout: time.Hour})
	fillQueue(t, r, 2)
	errc := make(chan error)
	go func() { errc <- r.w.Log(context.Background(), sample(9)) }()
	r.store.release()
	if err := <-errc; err != nil {
		t.Fatalf("blocked Log = %v after the store caught up", err)
	}
	if err := r.w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := r.store.count(t); n != 4 {
		t.Errorf("written %d, want 4", n)
	}
}

func TestQueueFullDrop(t *testing.T) {
	r := newRig(t, WriterOptions{QueueSize: 2, BatchSize: 1, Policy: PolicyDrop})
	fillQueue(t, r, 2)
	for i := range 7 {
		if err := r.w.Log(t.Context(), sample(10+i)); err != nil {
			t.Fatalf("Log under the drop policy = %v", err)
		}
	}
	if got := r.w.Dropped(); got != 7 {
		t.Errorf("Dropped = %d, want 7", got)
	}
	if got := r.drops.Load(); got != 7 {
		t.Errorf("OnDrop called %d times, want 7", got)
	}
	// Logged, but once per second of the clock rather than once per drop.
	if n := strings.Count(r.log.String(), "audit record dropped"); n != 1 {
		t.Errorf("%d drop log lines, want 1:\n%s", n, r.log)
	}
	if !strings.Contains(r.log.String(), "request_id=req-10") || !strings.Contains(r.log.String(), "dropped_total=1") {
		t.Errorf("drop log line lacks the request id or total:\n%s", r.log)
	}
	r.clock.Advance(time.Second)
	r.w.Log(t.Context(), sample(20))
	if n := strings.Count(r.log.String(), "audit record dropped"); n != 2 || !strings.Contains(r.log.String(), "dropped_total=8") {
		t.Errorf("a drop a second later was not logged with the running total:\n%s", r.log)
	}
	r.store.release()
	if err := r.w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := r.store.count(t); n != 3 {
		t.Errorf("written %d, want 3", n)
	}
}

// TestNoSilentLoss logs from many goroutines into a small queue in front
// of a slow store: every record is written or counted as dropped.
func TestNoSilentLoss(t *testing.T) {
	for _, policy := range []Policy{PolicyDrop, PolicyBlock} {
		t.Run(string(policy), func(t *testing.T) {
			r := newRig(t, WriterOptions{QueueSize: 4, BatchSize: 3, Policy: policy, BlockTimeout: time.Nanosecond})
			var accepted, refused atomic.Int64
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 200 {
						if err := r.w.Log(context.Background(), sample(1000*g+i)); err != nil {
							if !errors.Is(err, ErrQueueFull) {
								t.Error(err)
							}
							refused.Add(1)
							continue
						}
						accepted.Add(1)
					}
				})
			}
			wg.Wait()
			if err := r.w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			written := int64(r.store.count(t))
			if written+int64(r.w.Dropped()) != accepted.Load() || accepted.Load()+refused.Load() != 1600 {
				t.Errorf("accepted %d (refused %d): written %d + dropped %d", accepted.Load(), refused.Load(), written, r.w.Dropped())
			}
			if policy == PolicyBlock && r.w.Dropped() != 0 {
				t.Errorf("the block policy dropped %d records", r.w.Dropped())
			}
			if policy == PolicyDrop && refused.Load() != 0 {
				t.Errorf("the drop policy refused %d records", refused.Load())
			}
			if r.drops.Load() != int64(r.w.Dropped()) {
				t.Errorf("OnDrop called %d times for %d drops", r.drops.Load(), r.w.Dropped())
			}
			rep, err := Verify(t.Context(), r.store, r.w.signer.PublicKey())
			if err != nil || !rep.OK() || rep.Unsigned != 0 {
				t.Errorf("Verify = %+v, %v", rep, err)
			}
		})
	}
}

func TestCloseFlushesAndSigns(t *testing.T) {
	r := newRig(t, WriterOptions{BatchSize: 10})
	for i := range 250 {
		if err := r.w.Log(t.Context(), sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := r.store.count(t); n != 250 {
		t.Errorf("after Close %d records are stored, want 250", n)
	}
	if got := r.store.checkpoints(t); !slices.Equal(got, []int64{250}) {
		t.Errorf("checkpoints %v, want the final one at 250", got)
	}
	if err := r.w.Log(t.Context(), sample(999)); !errors.Is(err, ErrClosed) || apperr.CodeOf(err) != apperr.Unavailable {
		t.Errorf("Log after Close = %v, want ErrClosed as a 503", err)
	}
	if err := r.w.Flush(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v", err)
	}
	if err := r.w.Close(t.Context()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestCloseGivesUp(t *testing.T) {
	r := newRig(t, WriterOptions{BatchSize: 2})
	r.store.failNext(1 << 30)
	for i := range 5 {
		if err := r.w.Log(t.Context(), sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := r.w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "5 records could not be written") {
		t.Fatalf("Close with a failing store = %v", err)
	}
	if r.w.Dropped() != 5 || r.drops.Load() != 5 {
		t.Errorf("Dropped = %d, OnDrop %d times; want 5", r.w.Dropped(), r.drops.Load())
	}
	if again := r.w.Close(t.Context()); again == nil || again.Error() != err.Error() {
		t.Errorf("second Close = %v, want the same error", again)
	}
}

func TestWriteRetriesOnTick(t *testing.T) {
	r := newRig(t, WriterOptions{})
	r.store.failNext(2)
	for i := range 3 {
		if err := r.w.Log(t.Context(), sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	for r.store.count(t) < 3 {
		r.tick <- time.Time{}
	}
	if err := r.w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.log.String(), "audit records not written; retrying") || !strings.Contains(r.log.String(), errStoreDown.Error()) {
		t.Errorf("failed writes were not logged:\n%s", r.log)
	}
	recs, _ := r.store.AuditRecords(t.Context(), Query{})
	for i, rec := range recs {
		if rec.RequestID != fmt.Sprintf("req-%d", i) || rec.Seq != int64(i+1) {
			t.Errorf("record %d is %s with seq %d after retries", i, rec.RequestID, rec.Seq)
		}
	}
	if rep, err := Verify(t.Context(), r.store, r.w.signer.PublicKey()); err != nil || !rep.OK() {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

func TestCheckpointByCount(t *testing.T) {
	r := newRig(t, WriterOptions{QueueSize: 100, BatchSize: 5, CheckpointEvery: 10})
	// With the store held, 22 records queue up behind the first, so that
	// the batches are [1], [2-6], [7-11], [12-16], [17-21], [22-23].
	fillQueue(t, r, 22)
	r.store.release()
	if err := r.w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := r.store.checkpoints(t); !slices.Equal(got, []int64{11, 21, 23}) {
		t.Errorf("checkpoints %v, want 11 and 21 (ten unsigned), then 23 at Close", got)
	}
}

func TestCheckpointByTime(t *testing.T) {
	r := newRig(t, WriterOptions{CheckpointInterval: time.Minute})
	for i := range 5 {
		r.w.Log(t.Context(), sample(i))
	}
	if err := r.w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		log     int
		want    []int64
	}{
		{0, 0, nil},
		{59 * time.Second, 0, nil},
		{time.Second, 0, []int64{5}},     // a minute after the writer started
		{5 * time.Minute, 0, []int64{5}}, // nothing new: no checkpoint
		{0, 2, []int64{5, 7}},            // new records, and more than a minute since the last one
		{30 * time.Second, 1, []int64{5, 7}},
		{30 * time.Second, 0, []int64{5, 7, 8}},
	}
	for i, s := range steps {
		r.clock.Advance(s.advance)
		for j := range s.log {
			r.w.Log(t.Context(), sample(100*i+j))
		}
		if s.log > 0 {
			if err := r.w.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		r.ticked()
		if got := r.store.checkpoints(t); !slices.Equal(got, s.want) {
			t.Fatalf("step %d (clock +%s): checkpoints %v, want %v", i, r.clock.Now().Sub(t0), got, s.want)
		}
	}
	cps, _ := r.store.AuditCheckpoints(t.Context(), 0, 0)
	if !cps[0].Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("checkpoint time %v, want the clock's %v", cps[0].Time, t0.Add(time.Minute))
	}
}

// failingSigner fails while fail is set.
type failingSigner struct {
	*Ed25519Signer
	fail atomic.Bool
}

func (f *failingSigner) Sign(msg []byte) ([]byte, error) {
	if f.fail.Load() {
		return nil, errors.New("vault sealed")
	}
	return f.Ed25519Signer.Sign(msg)
}

func TestSignerFailureKeepsRecords(t *testing.T) {
	signer := &failingSigner{Ed25519Signer: testSigner(t)}
	signer.fail.Store(true)
	r := newRig(t, WriterOptions{Signer: signer, CheckpointEvery: 2, BatchSize: 2})
	fillQueue(t, r, 3)
	r.store.release()
	if err := r.w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, cps := r.store.count(t), r.store.checkpoints(t); n != 4 || len(cps) != 0 {
		t.Fatalf("with the signer failing: %d records, checkpoints %v; want 4 records and none", n, cps)
	}
	if !strings.Contains(r.log.String(), "audit checkpoint not signed") {
		t.Errorf("the signing failure was not logged:\n%s", r.log)
	}
	signer.fail.Store(false)
	r.w.Log(t.Context(), sample(50))
	if err := r.w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := r.store.checkpoints(t); !slices.Equal(got, []int64{5}) {
		t.Errorf("checkpoints %v once the signer works, want 5", got)
	}
	if rep, err := Verify(t.Context(), r.store, signer.PublicKey()); err != nil || !rep.OK() || rep.Checkpoints != 1 {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

func TestFinalCheckpointFailure(t *testing.T) {
	signer := &failingSigner{Ed25519Signer: testSigner(t)}
	r := newRig(t, WriterOptions{Signer: signer})
	r.w.Log(t.Context(), sample(1))
	if err := r.w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	signer.fail.Store(true)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.w.Close(ctx); err == nil || !strings.Contains(err.Error(), "final checkpoint") {
		t.Errorf("Close with the signer failing = %v", err)
	}
	if r.store.count(t) != 1 || r.w.Dropped() != 0 {
		t.Errorf("the record was lost with the checkpoint")
	}
}

func TestFlushIntervalBatches(t *testing.T) {
	// With a flush interval the writer waits for a batch to fill: 10
	// records logged together are written in one transaction.
	r := newRig(t, WriterOptions{BatchSize: 10, FlushInterval: time.Hour})
	for i := range 10 {
		r.w.Log(t.Context(), sample(i))
	}
	if err := r.w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.store.mu.Lock()
	calls := r.store.calls
	r.store.mu.Unlock()
	if calls != 1 || r.store.count(t) != 10 {
		t.Errorf("%d appends for %d records, want one for 10", calls, r.store.count(t))
	}
}

func TestEd25519Signer(t *testing.T) {
	if _, err := NewEd25519Signer(make([]byte, 31)); err == nil {
		t.Error("a 31-byte seed was accepted")
	}
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 7
	s, err := NewEd25519Signer(seed)
	if err != nil {
		t.Fatal(err)
	}
	clear(seed) // the signer keeps its own copy
	sig, err := s.Sign([]byte("msg"))
	if err != nil || !ed25519.Verify(s.PublicKey(), []byte("msg"), sig) {
		t.Fatalf("signature does not verify (%v)", err)
	}
	want := ed25519.NewKeyFromSeed(append([]byte{7}, make([]byte, 31)...)).Public().(ed25519.PublicKey)
	if !s.PublicKey().Equal(want) {
		t.Error("the key is not the seed's")
	}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v", s, s, s)} {
		if strings.Contains(out, fmt.Sprintf("%x", s.priv[:8])) || !strings.Contains(out, "redacted") {
			t.Errorf("printing the signer shows %q", out)
		}
	}
	s.Destroy()
	if _, err := s.Sign([]byte("msg")); err == nil || s.PublicKey() != nil {
		t.Error("a destroyed signer still signs")
	}
}
