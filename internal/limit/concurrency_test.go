package limit

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrencyNeverExceedsMax has many goroutines take and give back
// slots on a few keys while counting who holds one: the count must never
// pass the limit, and every slot must come back.
func TestConcurrencyNeverExceedsMax(t *testing.T) {
	for _, max := range []int64{1, 3, 16} {
		t.Run(fmt.Sprint("max ", max), func(t *testing.T) {
			c := NewMemoryConcurrency()
			keys := []string{"a", "b", "c"}
			var holding [3]atomic.Int64
			var granted, refusedN atomic.Int64
			var wg sync.WaitGroup
			for g := range 48 {
				wg.Go(func() {
					for i := range 400 {
						k := (g + i) % len(keys)
						release, ok, err := c.Acquire(context.Background(), keys[k], max)
						if err != nil {
							t.Error(err)
							return
						}
						if !ok {
							refusedN.Add(1)
							release() // a no-op that must not free anyone's slot
							continue
						}
						granted.Add(1)
						if n := holding[k].Add(1); n > max {
							t.Errorf("%d holders of %s, max %d", n, keys[k], max)
						}
						runtime.Gosched()
						holding[k].Add(-1)
						release()
						if i%3 == 0 {
							release() // twice must not free two slots
						}
					}
				})
			}
			wg.Wait()
			// Holders yield while holding, so with few slots for 48
			// goroutines some must have been turned away.
			if granted.Load() == 0 || (max <= 3 && refusedN.Load() == 0) {
				t.Fatalf("granted %d, refused %d: the test did not contend", granted.Load(), refusedN.Load())
			}
			for _, k := range keys {
				if n := c.InUse(k); n != 0 {
					t.Errorf("%s still has %d slots taken", k, n)
				}
			}
			if n := c.Keys(); n != 0 {
				t.Errorf("%d keys still held after every release", n)
			}
		})
	}
}

func TestConcurrencyReleaseIsIdempotent(t *testing.T) {
	c := NewMemoryConcurrency()
	ctx := context.Background()
	acquire := func() (func(), bool) {
		t.Helper()
		release, ok, err := c.Acquire(ctx, "k", 2)
		if err != nil || release == nil {
			t.Fatalf("Acquire: release %v, err %v", release != nil, err)
		}
		return release, ok
	}
	a, ok1 := acquire()
	_, ok2 := acquire()
	refusedRelease, ok3 := acquire()
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("ok = %v %v %v, want true true false", ok1, ok2, ok3)
	}
	refusedRelease()
	if n := c.InUse("k"); n != 2 {
		t.Fatalf("releasing a refused acquire freed a slot: %d in use", n)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(a)
	}
	wg.Wait()
	if n := c.InUse("k"); n != 1 {
		t.Fatalf("releasing one slot 20 times left %d in use, want 1", n)
	}
	if _, ok := acquire(); !ok {
		t.Fatal("the freed slot could not be taken")
	}
	if _, ok := acquire(); ok {
		t.Fatal("a third slot was granted with max 2")
	}
}

func TestConcurrencyKeysAreIndependent(t *testing.T) {
	c := NewMemoryConcurrency()
	ctx := context.Background()
	for i := range 100 {
		if _, ok, err := c.Acquire(ctx, fmt.Sprint("key-", i), 1); !ok || err != nil {
			t.Fatalf("key-%d: ok %v, err %v", i, ok, err)
		}
	}
	if _, ok, _ := c.Acquire(ctx, "key-7", 1); ok {
		t.Fatal("key-7 got a second slot with max 1")
	}
	if n := c.Keys(); n != 100 {
		t.Fatalf("Keys = %d, want 100", n)
	}
}

func TestConcurrencyRefusesBadMax(t *testing.T) {
	c := NewMemoryConcurrency()
	for _, max := range []int64{0, -1} {
		release, ok, err := c.Acquire(context.Background(), "k", max)
		if err == nil || ok || release == nil {
			t.Fatalf("Acquire(max %d) = release %v, ok %v, err %v; want a refusal with an error and a no-op release", max, release != nil, ok, err)
		}
		release()
	}
	if n := c.Keys(); n != 0 {
		t.Fatalf("a refused Acquire left %d keys", n)
	}
}
