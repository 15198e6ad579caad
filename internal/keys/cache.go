package keys

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
)

// digest is the stored form of a key (see hashWith).
type digest = [sha256.Size]byte

// cacheShards spreads lookups over several locks, so that parallel requests
// do not all contend for one reader count.
const cacheShards = 16

// maxPerShard bounds memory. Only real, unrevoked keys are ever cached, so
// this is reached only by a deployment with tens of thousands of keys in
// use at once, and then the extra lookups simply go to the store.
const maxPerShard = 4096

// entry is a cached store lookup.
type entry struct {
	key      Key
	previous bool  // the hash matched the key's rotated-out secret
	expires  int64 // clock reading (unix nanos) after which the entry is not used
	// noted is the clock reading (unix nanos) of the last use recorded for
	// this entry, so that a busy key records at most one use per
	// touchGranularity instead of taking a lock on every request.
	noted atomic.Int64
}

type shard struct {
	mu sync.RWMutex
	m  map[digest]*entry
	_  [64 - 32]byte // keep neighbouring shards off one cache line
}

// cache maps hashes to looked-up keys. Dropping it bumps gen before
// clearing, and put only inserts while gen is what the caller read before
// its store lookup; so a lookup that raced with a drop (and may have read
// the store before the change that caused it) never survives the drop.
type cache struct {
	gen    atomic.Uint64
	shards [cacheShards]shard
}

func (c *cache) shard(h *digest) *shard { return &c.shards[h[0]%cacheShards] }

func (c *cache) get(h *digest) *entry {
	s := c.shard(h)
	s.mu.RLock()
	e := s.m[*h]
	s.mu.RUnlock()
	return e
}

// put inserts e unless the cache was dropped since gen was read.
func (c *cache) put(h *digest, e *entry, gen uint64) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if s.m == nil {
		s.m = make(map[digest]*entry)
	}
	if len(s.m) >= maxPerShard {
		return
	}
	s.m[*h] = e
}

// drop empties the cache.
func (c *cache) drop() {
	c.gen.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.m = nil
		s.mu.Unlock()
	}
}
