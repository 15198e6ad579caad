package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is the tests' clock origin.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func testSigner(t testing.TB) *Ed25519Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed)
	s, err := NewEd25519Signer(seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clock is a clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func sample(i int) Record {
	return Record{
		Time: t0.Add(time.Duration(i) * time.Millisecond), RequestID: fmt.Sprintf("req-%d", i), Kind: KindCall,
		Action: "chat.completions", Principal: Principal{User: "alice", Team: "ml", Role: "user"}, KeyID: "key_a",
		ClientIP: "192.0.2.1", UserAgent: "curl/8", Route: "/v1/chat/completions", Model: "gpt-4o", Provider: "openai",
		Status: 200, Latency: time.Millisecond, TokensIn: 10, TokensOut: 20, Cost: 300,
	}
}

// gateStore is a MemoryStore whose appends can be held at a gate and made
// to fail.
type gateStore struct {
	*MemoryStore
	mu      sync.Mutex
	gate    chan struct{} // while not nil, appends wait for it to close
	entered chan struct{} // gets a value as each append reaches the gate
	fail    int           // appends still to fail
	calls   int
}

func newGateStore() *gateStore {
	return &gateStore{MemoryStore: NewMemoryStore(), entered: make(chan struct{}, 1000)}
}

var errStoreDown = errors.New("store is down")

func (g *gateStore) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
}

func (g *gateStore) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gate)
	g.gate = nil
}

func (g *gateStore) failNext(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail = n
}

func (g *gateStore) AppendAudit(ctx context.Context, seal func(Tail) (Batch, error)) error {
	g.mu.Lock()
	gate := g.gate
	g.calls++
	fail := g.fail > 0
	if fail {
		g.fail--
	}
	g.mu.Unlock()
	if gate != nil {
		g.entered <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail {
		return errStoreDown
	}
	return g.MemoryStore.AppendAudit(ctx, seal)
}

func (g *gateStore) count(t *testing.T) int {
	t.Helper()
	recs, err := g.AuditRecords(t.Context(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func (g *gateStore) checkpoints(t *testing.T) []int64 {
	t.Helper()
	cps, err := g.AuditCheckpoints(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, cp := range cps {
		out = append(out, cp.Seq)
	}
	return out
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is a writer on a gate store, with a clock, a tick the test drives
// and its log.
type rig struct {
	w     *Writer
	store *gateStore
	clock *clock
	tick  chan time.Time
	log   *syncBuffer
	drops *atomic.Int64
}

func newRig(t *testing.T, opts WriterOptions) *rig {
	t.Helper()
	r := &rig{store: newGateStore(), clock: &clock{now: t0}, tick: make(chan time.Time), log: &syncBuffer{}, drops: new(atomic.Int64)}
	opts.Store, opts.Now = r.store, r.clock.Now
	if opts.Signer == nil {
		opts.Signer = testSigner(t)
	}
	opts.Logger = slog.New(slog.NewTextHandler(r.log, nil))
	opts.OnDrop = func() { r.drops.Add(1) }
	w, err := newWriter(opts, r.tick, func() {})
	if err != nil {
		t.Fatal(err)
	}
	r.w = w
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a test that left the store failing must not hang here
		r.w.Close(ctx)
	})
	return r
}

// ticked delivers a tick and returns once the writer has acted on it: the
// second send completes only when the writer is back waiting.
func (r *rig) ticked() {
	r.tick <- time.Time{}
	r.tick <- time.Time{}
}
