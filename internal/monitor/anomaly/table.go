package anomaly

import "sync/atomic"

// evictSample is how many entries eviction compares: the oldest of a few
// entries from a random point of the map approximates least recently
// used without keeping a list ordered on every call.
const evictSample = 8

// table is a map with a cap on its size. Values live in their own
// allocation so that pointers to them stay valid while the map grows.
type table[K comparable, V any] struct {
	m       map[K]*entry[V]
	max     int
	evicted *atomic.Int64
}

type entry[V any] struct {
	v    V
	seen int64
}

func (t *table[K, V]) init(max int, evicted *atomic.Int64) {
	t.m = make(map[K]*entry[V])
	t.max = max
	t.evicted = evicted
}

// lookup returns k's value, marking it seen at now, or nil.
func (t *table[K, V]) lookup(k K, now int64) *V {
	e, ok := t.m[k]
	if !ok {
		return nil
	}
	e.seen = max(e.seen, now)
	return &e.v
}

// insert adds a zero value for k, which must be absent, evicting first if
// the table is full.
func (t *table[K, V]) insert(k K, now int64) *V {
	for len(t.m) >= t.max {
		t.evict()
	}
	e := &entry[V]{seen: now}
	t.m[k] = e
	return &e.v
}

// evict removes the least recently seen of a sample of entries. Go starts
// each range over a map at a random position.
func (t *table[K, V]) evict() {
	var (
		victim K
		oldest int64
		n      int
	)
	for k, e := range t.m {
		if n == 0 || e.seen < oldest {
			victim, oldest = k, e.seen
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(t.m, victim)
	t.evicted.Add(1)
}
