package limit

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"sync"
	"time"
)

// Limiter charges units against per-key rates. Implementations must be
// safe for concurrent use, and one key must always be used with the same
// Rate: the stored state is a time, and its meaning depends on the rate.
type Limiter interface {
	// Allow charges n units to key if they fit within r, and otherwise
	// refuses without charging anything. n may be zero to ask for the
	// key's state; a key in debt (see Adjust) is refused even then. A
	// charge larger than the burst can never fit: it is refused with an
	// error wrapping ErrExceedsBurst.
	Allow(ctx context.Context, key string, r Rate, n int64) (Result, error)
	// Adjust corrects an earlier charge once the true amount is known,
	// typically tokens estimated before an upstream call and counted from
	// its usage afterwards. A positive delta is charged even if the key
	// goes into debt, so that later calls wait it off; a negative one
	// refunds, but never below an empty bucket.
	Adjust(ctx context.Context, key string, r Rate, delta int64) error
}

var _ Limiter = (*Memory)(nil)

// MemoryOptions configure a Memory limiter.
type MemoryOptions struct {
	// Now is the clock (default time.Now). Tests move it instead of
	// sleeping.
	Now func() time.Time
	// Shards is the number of independently locked maps, rounded up to a
	// power of two (default 64). More shards mean less contention between
	// goroutines charging different keys.
	Shards int
}

// Memory is an in-process GCRA limiter. Keys are spread over shards, each
// with its own lock, so that unrelated keys do not contend.
//
// Memory stays bounded without a background goroutine: a key whose TAT is
// in the past has a full bucket and is indistinguishable from a key never
// seen, so it is dropped. Each shard sweeps such keys whenever it has
// doubled in size since its last sweep, which keeps it within about twice
// its live keys at an amortised constant cost per new key.
type Memory struct {
	now    func() time.Time
	base   time.Time
	seed   maphash.Seed
	mask   uint64
	shards []memShard
}

// minSweep is the shard size below which no sweep is attempted.
const minSweep = 256

type memShard struct {
	mu      sync.Mutex
	tat     map[string]*tatCell
	sweepAt int
	_       [64]byte // keep neighbouring shards' locks off one cache line
}

// tatCell holds a key's TAT in nanoseconds since Memory.base. The map
// holds pointers so that charging a known key hashes it once, not twice.
type tatCell struct{ tat int64 }

// NewMemory returns an empty in-memory limiter.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := 64
	if opts.Shards > 0 {
		n = 1 << bits.Len(uint(opts.Shards-1))
	}
	m := &Memory{
		now:    opts.Now,
		seed:   maphash.MakeSeed(),
		mask:   uint64(n - 1),
		shards: make([]memShard, n),
	}
	// Times are kept relative to the start so that time.Now's monotonic
	// reading is used and a wall-clock step can not refill every bucket.
	m.base = m.now()
	for i := range m.shards {
		m.shards[i].tat = make(map[string]*tatCell)
		m.shards[i].sweepAt = minSweep
	}
	return m
}

func (m *Memory) nanos() int64 { return int64(m.now().Sub(m.base)) }

func (m *Memory) shard(key string) *memShard {
	return &m.shards[maphash.String(m.seed, key)&m.mask]
}

// Allow implements Limiter. ctx is not used: nothing here waits.
func (m *Memory) Allow(_ context.Context, key string, r Rate, n int64) (Result, error) {
	if err := r.Validate(); err != nil {
		return Result{Limit: r.Limit}, fmt.Errorf("limit: allow: %w", err)
	}
	if n < 0 {
		return Result{Limit: r.Limit}, fmt.Errorf("limit: allow: charge of %d units is negative; refund with Adjust", n)
	}
	t, burst := int64(r.interval()), r.burst()
	window := burst * t // fits: Validate bounds it by maxAhead
	now := m.nanos()

	s := m.shard(key)
	s.mu.Lock()
	cell := s.tat[key]
	tat := now
	if cell != nil {
		tat = max(cell.tat, now)
	}
	res := Result{Limit: r.Limit}
	if n <= burst && tat-now+n*t <= window {
		newTAT := tat + n*t
		switch {
		case n == 0:
		case cell != nil:
			cell.tat = newTAT
		default:
			s.tat[key] = &tatCell{newTAT}
			s.grew(now)
		}
		s.mu.Unlock()
		res.Allowed = true
		res.Remaining = (window - (newTAT - now)) / t
		res.ResetAfter = time.Duration(newTAT - now)
		return res, nil
	}
	s.mu.Unlock()

	res.Remaining = max(0, window-(tat-now)) / t
	res.ResetAfter = time.Duration(tat - now)
	if n > burst {
		return res, errExceedsBurst("", n, burst)
	}
	res.RetryAfter = time.Duration(tat - now + n*t - window)
	return res, nil
}

// Adjust implements Limiter. ctx is not used: nothing here waits.
func (m *Memory) Adjust(_ context.Context, key string, r Rate, delta int64) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("limit: adjust: %w", err)
	}
	if delta == 0 {
		return nil
	}
	now := m.nanos()

	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	cell := s.tat[key]
	tat := now
	if cell != nil {
		tat = max(cell.tat, now)
	}
	if delta > 0 {
		// The debt is capped (at decades) only so that arithmetic on it
		// can not overflow.
		tat = now + min(tat-now+min(r.cost(delta), maxAhead), maxAhead)
		if cell != nil {
			cell.tat = tat
		} else {
			s.tat[key] = &tatCell{tat}
			s.grew(now)
		}
		return nil
	}
	refund := int64(math.MaxInt64)
	if delta != math.MinInt64 {
		refund = r.cost(-delta)
	}
	if refund >= tat-now {
		delete(s.tat, key) // a full bucket: the same as an unknown key
		return nil
	}
	cell.tat = tat - refund // tat > now, so the key was known
	return nil
}

// grew is called with the lock held after a key was added: it sweeps the
// shard once it has doubled since the last sweep.
func (s *memShard) grew(now int64) {
	if len(s.tat) < s.sweepAt {
		return
	}
	s.sweep(now)
	s.sweepAt = max(2*len(s.tat), minSweep)
}

// sweep drops keys whose bucket is full again, with the lock held.
func (s *memShard) sweep(now int64) int {
	dropped := 0
	for k, c := range s.tat {
		if c.tat <= now {
			delete(s.tat, k)
			dropped++
		}
	}
	return dropped
}

// Sweep drops every key whose bucket is full again and returns how many it
// dropped. Allow and Adjust already sweep as they add keys; Sweep is for
// releasing memory after a burst of keys has gone quiet.
func (m *Memory) Sweep() int {
	now := m.nanos()
	dropped := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		dropped += s.sweep(now)
		s.sweepAt = max(2*len(s.tat), minSweep)
		s.mu.Unlock()
	}
	return dropped
}

// Len is the number of keys held, for metrics.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}
