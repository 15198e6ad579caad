package audit

import (
	"context"
	"log/slog"
	"testing"
)

// discardStore chains like a real store but keeps nothing, so that the
// benchmark of Log measures the enqueue and not the store.
type discardStore struct{ tail Tail }

func (d *discardStore) AppendAudit(_ context.Context, seal func(Tail) (Batch, error)) error {
	b, err := seal(d.tail)
	if err != nil {
		return err
	}
	if n := len(b.Records); n > 0 {
		d.tail.Seq, d.tail.Hash = b.Records[n-1].Seq, b.Records[n-1].Hash
	}
	if cp := b.Checkpoint; cp != nil {
		d.tail.CheckpointSeq, d.tail.CheckpointTime = cp.Seq, cp.Time
	}
	return nil
}

// BenchmarkLog measures what Log costs the request path, next to the
// baseline of a plain send on a buffered channel of the same size. Both
// send a queue's worth of records at a time, with the timer running,
// then wait (timer stopped) for the queue to be drained.
//
//	go test -run XXX -bench Log -benchmem ./internal/audit/
func BenchmarkLog(b *testing.B) {
	const queue = DefaultQueueSize
	rec := sample(1)
	b.Run("baseline=chan-send", func(b *testing.B) {
		ch := make(chan Record, queue)
		for i := range b.N {
			if i%queue == 0 && i > 0 {
				b.StopTimer()
				for len(ch) > 0 {
					<-ch
				}
				b.StartTimer()
			}
			ch <- rec
		}
	})
	b.Run("Log", func(b *testing.B) {
		w, err := NewWriter(WriterOptions{Store: &discardStore{}, Signer: testSigner(b), QueueSize: queue, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close(context.Background())
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%queue == 0 && i > 0 {
				b.StopTimer()
				if err := w.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			if err := w.Log(ctx, rec); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if w.Dropped() != 0 {
			b.Fatalf("%d records dropped", w.Dropped())
		}
	})
}

// BenchmarkChainRecord measures what the writer goroutine spends per
// record: the canonical encoding and its SHA-256.
func BenchmarkChainRecord(b *testing.B) {
	rec := sample(1)
	rec.normalize()
	b.ReportAllocs()
	for b.Loop() {
		rec.Hash = rec.ComputeHash()
	}
}
