package meter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// guard bounds how long a test waits for the recorder's goroutine before
// it reports a hang. It is a failure guard, not a timing assertion.
const guard = 10 * time.Second

// gateStore records batches, reports each call on called, and can be made
// to wait for its gate or to fail.
type gateStore struct {
	mu      sync.Mutex
	batches [][]Record
	gate    chan struct{} // if non-nil, each call waits for it to close, or for ctx
	fail    error
	called  chan int // gets the size of every batch offered
}

func newGateStore() *gateStore { return &gateStore{called: make(chan int, 100)} }

func (s *gateStore) RecordUsage(ctx context.Context, recs []Record) error {
	s.mu.Lock()
	gate, fail := s.gate, s.fail
	s.mu.Unlock()
	// Reported after the decision to fail, so that a test that saw the
	// call can change the store for the next one.
	s.called <- len(recs)
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, slices.Clone(recs))
	return nil
}

func (s *gateStore) UsageSummary(context.Context, UsageQuery) ([]UsageRow, error) {
	return nil, errors.New("not used")
}

func (s *gateStore) set(gate chan struct{}, fail error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate, s.fail = gate, fail
}

// ids returns the request ids of the stored records, batch by batch.
func (s *gateStore) ids() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]string
	for _, b := range s.batches {
		var ids []string
		for _, r := range b {
			ids = append(ids, r.RequestID)
		}
		out = append(out, ids)
	}
	return out
}

// waitCall waits for the store to be offered a batch and returns its size.
func (s *gateStore) waitCall(t *testing.T) int {
	t.Helper()
	select {
	case n := <-s.called:
		return n
	case <-time.After(guard):
		t.Fatal("the recorder never wrote to the store")
		return 0
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type recorderTest struct {
	r    *Recorder
	st   *gateStore
	tick chan time.Time
	log  *syncBuffer
}

func startRecorder(t *testing.T, opts RecorderOptions) *recorderTest {
	t.Helper()
	rt := &recorderTest{st: newGateStore(), tick: make(chan time.Time), log: &syncBuffer{}}
	opts.Store = rt.st
	opts.Logger = slog.New(slog.NewTextHandler(rt.log, nil))
	r, err := newRecorder(opts, rt.tick, func() {})
	if err != nil {
		t.Fatal(err)
	}
	rt.r = r
	t.Cleanup(func() {
		rt.st.set(nil, nil)
		_ = r.Close(context.Background())
	})
	return rt
}

func rec(i int) Record {
	return Record{Time: time.Date(2026, 1, 15, 10, 0, i, 0, time.UTC), RequestID: fmt.Sprintf("req-%d", i), KeyID: "key_k1", Status: 200, Cost: USD}
}

func TestNewRecorderNeedsAStore(t *testing.T) {
	if _, err := NewRecorder(RecorderOptions{}); err == nil {
		t.Error("NewRecorder without a store: no error")
	}
	if _, err := NewRecorder(RecorderOptions{Store: NewMemoryUsageStore(), QueueSize: -1}); err == nil {
		t.Error("NewRecorder with a negative queue: no error")
	}
	r, err := NewRecorder(RecorderOptions{Store: NewMemoryUsageStore()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestRecorderBatches(t *testing.T) {
	rt := startRecorder(t, RecorderOptions{BatchSize: 3})
	for i := range 7 {
		rt.r.Record(rec(i))
	}
	for range 2 {
		if n := rt.st.waitCall(t); n != 3 {
			t.Errorf("batch of %d, want 3", n)
		}
	}
	// The seventh waits for the interval.
	rt.tick <- time.Time{}
	if n := rt.st.waitCall(t); n != 1 {
		t.Errorf("batch of %d at the interval, want 1", n)
	}
	// An interval with nothing queued writes nothing; Close then has
	// nothing left to write either.
	rt.tick <- time.Time{}
	if err := rt.r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"req-0", "req-1", "req-2"}, {"req-3", "req-4", "req-5"}, {"req-6"}}
	if got := rt.st.ids(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("stored %v, want %v", got, want)
	}
	if n := len(rt.st.called); n != 0 {
		t.Errorf("%d more writes after the last record", n)
	}
	if rt.r.Dropped() != 0 {
		t.Errorf("Dropped() = %d", rt.r.Dropped())
	}
}

func TestRecorderCloseFlushes(t *testing.T) {
	rt := startRecorder(t, RecorderOptions{BatchSize: 100})
	for i := range 5 {
		rt.r.Record(rec(i))
	}
	if err := rt.r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := rt.st.ids(); len(got) != 1 || len(got[0]) != 5 {
		t.Errorf("after Close the store has %v, want the five records", got)
	}
	// After Close a record is dropped, loudly.
	rt.r.Record(rec(9))
	if rt.r.Dropped() != 1 || !strings.Contains(rt.log.String(), "request_id=req-9") {
		t.Errorf("Record after Close: Dropped() = %d, log %q", rt.r.Dropped(), rt.log.String())
	}
	if err := rt.r.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestRecorderFullQueueDrops(t *testing.T) {
	rt := startRecorder(t, RecorderOptions{QueueSize: 2, BatchSize: 1, BlockTimeout: time.Millisecond})
	gate := make(chan struct{})
	rt.st.set(gate, nil)
	rt.r.Record(rec(0))
	rt.st.waitCall(t) // the writer holds record 0 and waits
	rt.r.Record(rec(1))
	rt.r.Record(rec(2)) // the queue is full now
	rt.r.Record(rec(3))
	if got := rt.r.Dropped(); got != 1 {
		t.Fatalf("Dropped() = %d, want 1", got)
	}
	log := rt.log.String()
	if !strings.Contains(log, "usage record dropped") || !strings.Contains(log, "request_id=req-3") ||
		!strings.Contains(log, "key_id=key_k1") || !strings.Contains(log, "level=ERROR") {
		t.Errorf("the drop was not logged as an error with its ids: %q", log)
	}
	close(gate)
	if err := rt.r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"req-0"}, {"req-1"}, {"req-2"}}
	if got := rt.st.ids(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("stored %v, want %v", got, want)
	}
}

func TestRecorderRetriesFailedWrites(t *testing.T) {
	rt := startRecorder(t, RecorderOptions{BatchSize: 2})
	rt.st.set(nil, errors.New("database is locked"))
	rt.r.Record(rec(0))
	rt.r.Record(rec(1))
	rt.st.waitCall(t) // fails
	rt.st.set(nil, nil)
	rt.r.Record(rec(2))
	rt.r.Record(rec(3))
	rt.tick <- time.Time{}
	if err := rt.r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, b := range rt.st.ids() {
		stored = append(stored, b...)
	}
	if want := []string{"req-0", "req-1", "req-2", "req-3"}; !slices.Equal(stored, want) {
		t.Errorf("stored %v, want %v", stored, want)
	}
	if rt.r.Dropped() != 0 {
		t.Errorf("Dropped() = %d, want 0: the records were retried", rt.r.Dropped())
	}
	if !strings.Contains(rt.log.String(), "database is locked") {
		t.Errorf("the failed write was not logged: %q", rt.log.String())
	}
}

// TestRecorderWaitsOutAFailingStore checks that while the store fails,
// full batches wait for the interval instead of hammering it, and that
// what is still unwritten at Close is dropped, counted and reported.
func TestRecorderWaitsOutAFailingStore(t *testing.T) {
	rt := startRecorder(t, RecorderOptions{BatchSize: 2, BlockTimeout: guard})
	rt.st.set(nil, errors.New("database is locked"))
	for i := range 10 {
		rt.r.Record(rec(i))
	}
	err := rt.r.Close(t.Context())
	if err == nil || !strings.Contains(err.Error(), "10 usage records") {
		t.Errorf("Close = %v, want an error counting 10 records", err)
	}
	// One failed write for the first batch, one at Close.
	if n := len(rt.st.called); n != 2 {
		t.Errorf("%d writes to a failing store, want 2", n)
	}
	if got := rt.r.Dropped(); got != 10 {
		t.Errorf("Dropped() = %d, want 10", got)
	}
	if !strings.Contains(rt.log.String(), "request_id=req-9") {
		t.Errorf("the last drop was not logged: %q", rt.log.String())
	}
}

func TestRecorderBoundsRecordsKeptForRetry(t *testing.T) {
	rt := startRecorder(t, RecorderOptions{QueueSize: 3, BatchSize: 1, BlockTimeout: guard})
	rt.st.set(nil, errors.New("disk I/O error"))
	rt.r.Record(rec(0))
	rt.st.waitCall(t) // fails: failing from now on
	for i := 1; i < 6; i++ {
		rt.r.Record(rec(i))
	}
	rt.st.set(nil, nil)
	if err := rt.r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Three are kept (the newest), the rest dropped and counted.
	var stored []string
	for _, b := range rt.st.ids() {
		stored = append(stored, b...)
	}
	if want := []string{"req-3", "req-4", "req-5"}; !slices.Equal(stored, want) {
		t.Errorf("stored %v, want %v", stored, want)
	}
	if got := rt.r.Dropped(); got != 3 {
		t.Errorf("Dropped() = %d, want 3", got)
	}
	for _, id := range []string{"req-0", "req-1", "req-2"} {
		if !strings.Contains(rt.log.String(), "request_id="+id) {
			t.Errorf("the drop of %s was not logged", id)
		}
	}
}

func TestRecorderCloseGivesUp(t *testing.T) {
	rt := startRecorder(t, RecorderOptions{BatchSize: 1})
	rt.st.set(make(chan struct{}), nil) // never opens
	rt.r.Record(rec(0))
	rt.st.waitCall(t)
	rt.r.Record(rec(1))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := rt.r.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "2 usage records") {
		t.Errorf("Close that gave up = %v, want an error counting 2 records", err)
	}
	if got := rt.r.Dropped(); got != 2 {
		t.Errorf("Dropped() = %d, want 2", got)
	}
	if again := rt.r.Close(t.Context()); again == nil || again.Error() != err.Error() {
		t.Errorf("second Close = %v, want %v", again, err)
	}
}

func TestRecorderDropsInvalidRecords(t *testing.T) {
	rt := startRecorder(t, RecorderOptions{})
	bad := rec(0)
	bad.InputTokens = -5
	rt.r.Record(bad)
	if rt.r.Dropped() != 1 || !strings.Contains(rt.log.String(), "negative token count") {
		t.Errorf("invalid record: Dropped() = %d, log %q", rt.r.Dropped(), rt.log.String())
	}
	if err := rt.r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := rt.st.ids(); len(got) != 0 {
		t.Errorf("an invalid record reached the store: %v", got)
	}
}

// TestRecorderConcurrent records from many goroutines into the memory
// store: every record arrives once.
func TestRecorderConcurrent(t *testing.T) {
	st := NewMemoryUsageStore()
	r, err := NewRecorder(RecorderOptions{Store: st, QueueSize: 16, BatchSize: 8, BlockTimeout: guard})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				r.Record(rec(g*1000 + i))
			}
		})
	}
	wg.Wait()
	if err := r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(st.Records()); n != 400 || r.Dropped() != 0 {
		t.Errorf("stored %d records and dropped %d, want 400 and 0", n, r.Dropped())
	}
}
