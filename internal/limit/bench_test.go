package limit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// xrateMap is the baseline: what one would write by hand with
// golang.org/x/time/rate, a limiter per key in a map behind one mutex.
type xrateMap struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
	r  Rate
}

func (x *xrateMap) Allow(key string) bool {
	x.mu.Lock()
	l, ok := x.m[key]
	if !ok {
		l = rate.NewLimiter(rate.Limit(float64(x.r.Limit)/x.r.Period.Seconds()), int(x.r.burst()))
		x.m[key] = l
	}
	x.mu.Unlock()
	return l.Allow()
}

// benchRate is generous enough that most calls are allowed, as in a
// healthy gateway, so the benchmarks measure the common path.
var benchRate = Rate{Limit: 1_000_000_000, Period: time.Second}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%08d:rpm", i)
	}
	return keys
}

// BenchmarkMemoryAllow compares Memory.Allow with the x/time/rate baseline
// on one hot key and on 10k keys, from one goroutine and from all.
func BenchmarkMemoryAllow(b *testing.B) {
	ctx := context.Background()
	for _, nkeys := range []int{1, 10_000} {
		keys := benchKeys(nkeys)
		impls := []struct {
			name  string
			allow func(key string) bool
		}{
			{"gcra", func() func(string) bool {
				m := NewMemory(MemoryOptions{})
				return func(key string) bool {
					res, err := m.Allow(ctx, key, benchRate, 1)
					return err == nil && res.Allowed
				}
			}()},
			{"xrate", func() func(string) bool {
				x := &xrateMap{m: make(map[string]*rate.Limiter), r: benchRate}
				return x.Allow
			}()},
		}
		for _, impl := range impls {
			b.Run(fmt.Sprintf("keys=%d/%s/sequential", nkeys, impl.name), func(b *testing.B) {
				i := 0
				for b.Loop() {
					impl.allow(keys[i%nkeys])
					i++
				}
			})
			b.Run(fmt.Sprintf("keys=%d/%s/parallel", nkeys, impl.name), func(b *testing.B) {
				var seq atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					i := int(seq.Add(7919)) // each goroutine starts elsewhere
					for pb.Next() {
						impl.allow(keys[i%nkeys])
						i++
					}
				})
			})
		}
	}
}

// BenchmarkConcurrencyAcquire takes and releases a slot from all
// goroutines, on one key and on 10k keys.
func BenchmarkConcurrencyAcquire(b *testing.B) {
	ctx := context.Background()
	for _, nkeys := range []int{1, 10_000} {
		keys := benchKeys(nkeys)
		b.Run(fmt.Sprintf("keys=%d/parallel", nkeys), func(b *testing.B) {
			c := NewMemoryConcurrency()
			var seq atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seq.Add(7919))
				for pb.Next() {
					release, _, err := c.Acquire(ctx, keys[i%nkeys], 1<<30)
					if err != nil {
						b.Error(err)
						return
					}
					release()
					i++
				}
			})
		})
	}
}
