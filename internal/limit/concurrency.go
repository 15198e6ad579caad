package limit

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Concurrency bounds how many requests per key are in flight at once.
// Implementations must be safe for concurrent use.
type Concurrency interface {
	// Acquire takes one of max slots for key without waiting: ok is false
	// when all are taken. release gives the slot back; it is never nil
	// (a no-op when nothing was taken), so it can be deferred at once,
	// and calling it more than once frees the slot only once.
	Acquire(ctx context.Context, key string, max int64) (release func(), ok bool, err error)
}

var _ Concurrency = (*MemoryConcurrency)(nil)

// MemoryConcurrency counts slots in process memory, in sharded maps. A key
// with no slot taken holds no memory.
type MemoryConcurrency struct {
	seed   maphash.Seed
	shards [64]concShard
}

type concShard struct {
	mu    sync.Mutex
	inUse map[string]int64
	_     [64]byte // keep neighbouring shards' locks off one cache line
}

// NewMemoryConcurrency returns a MemoryConcurrency with no slot taken.
func NewMemoryConcurrency() *MemoryConcurrency {
	c := &MemoryConcurrency{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].inUse = make(map[string]int64)
	}
	return c
}

func (c *MemoryConcurrency) shard(key string) *concShard {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

func noRelease() {}

// Acquire implements Concurrency. ctx is not used: nothing here waits.
func (c *MemoryConcurrency) Acquire(_ context.Context, key string, max int64) (release func(), ok bool, err error) {
	if max <= 0 {
		return noRelease, false, fmt.Errorf("limit: acquire: concurrency limit %d must be positive", max)
	}
	s := c.shard(key)
	s.mu.Lock()
	n := s.inUse[key]
	if n >= max {
		s.mu.Unlock()
		return noRelease, false, nil
	}
	s.inUse[key] = n + 1
	s.mu.Unlock()
	sl := &slot{s: s, key: key}
	return sl.release, true, nil
}

// InUse is the number of slots taken for key, for metrics.
func (c *MemoryConcurrency) InUse(key string) int64 {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inUse[key]
}

// Keys is the number of keys with a slot taken, for metrics.
func (c *MemoryConcurrency) Keys() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.inUse)
		s.mu.Unlock()
	}
	return n
}

// slot is one acquired slot; released guards against a double release
// freeing someone else's slot.
type slot struct {
	s        *concShard
	key      string
	released atomic.Bool
}

func (sl *slot) release() {
	if !sl.released.CompareAndSwap(false, true) {
		return
	}
	s := sl.s
	s.mu.Lock()
	if n := s.inUse[sl.key]; n > 1 {
		s.inUse[sl.key] = n - 1
	} else {
		delete(s.inUse, sl.key)
	}
	s.mu.Unlock()
}
