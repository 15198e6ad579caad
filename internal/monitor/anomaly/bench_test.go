package anomaly

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchKeys are the key ids the benchmarks spread calls over.
var benchKeys = func() []string {
	ks := make([]string, 1000)
	for i := range ks {
		ks[i] = fmt.Sprintf("key_%04d", i)
	}
	return ks
}()

// BenchmarkObserve measures a call's cost in the detector on the steady
// path (known key, team, address and agent; no alert), from many
// goroutines at once. BenchmarkMutexMapCounter, the cheapest shared
// per-key state there is, is the baseline to read it against.
func BenchmarkObserve(b *testing.B) {
	d, err := New(Config{Sink: &sink{}, MinSpike: Rates{Requests: 1e12, Tokens: 1e12, Cost: 1e12, Errors: 1e12}})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var clock atomic.Int64
	teams := []string{"ml", "web", "data", "ops"}
	addr := netip.MustParseAddr("198.51.100.7")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			at := t0.Add(time.Duration(clock.Add(1)) * time.Millisecond)
			d.Observe(Event{Time: at, KeyID: benchKeys[i%len(benchKeys)], Team: teams[i%len(teams)], ClientIP: addr,
				UserAgent: "openai-python/1.54.3", Status: 200, Tokens: 300, Cost: 4500})
		}
	})
}

func BenchmarkMutexMapCounter(b *testing.B) {
	var mu sync.Mutex
	m := make(map[string]int64)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			mu.Lock()
			m[benchKeys[i%len(benchKeys)]]++
			mu.Unlock()
		}
	})
}
