package meter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder defaults, used where RecorderOptions leaves a field zero.
const (
	DefaultQueueSize     = 8192
	DefaultBatchSize     = 256
	DefaultFlushInterval = time.Second
	DefaultBlockTimeout  = 50 * time.Millisecond
	DefaultWriteTimeout  = 10 * time.Second
)

// RecorderOptions configures a Recorder.
type RecorderOptions struct {
	// Store receives the records. Required.
	Store UsageStore
	// Logger reports dropped records and failed writes; nil means
	// slog.Default().
	Logger *slog.Logger
	// QueueSize bounds the records waiting to be written, and also those
	// kept for a retry while the store fails.
	QueueSize int
	// BatchSize is how many records make a write.
	BatchSize int
	// FlushInterval is how often a partial batch is written, and a failed
	// one retried.
	FlushInterval time.Duration
	// BlockTimeout is how long Record waits for room in a full queue
	// before it drops the record.
	BlockTimeout time.Duration
	// WriteTimeout bounds one write to the store.
	WriteTimeout time.Duration
}

// Recorder writes usage records to a UsageStore in batches, off the
// request path. When the store falls behind, Record waits briefly for room
// and then drops the record; every drop is counted and logged, never
// silent. Failed writes are retried at the next interval. Recorder is safe
// for concurrent use.
type Recorder struct {
	store        UsageStore
	log          *slog.Logger
	queue        chan Record
	maxPending   int
	batchSize    int
	blockTimeout time.Duration
	writeTimeout time.Duration
	tick         <-chan time.Time
	stopTick     func()

	mu     sync.RWMutex // Record holds it shared while it sends; Close exclusively to close the queue
	closed bool

	dropped  atomic.Uint64
	ctx      context.Context // canceled when Close gives up waiting
	cancel   context.CancelFunc
	done     chan struct{}
	closeErr error // set before done is closed
}

// NewRecorder starts a recorder; Close stops it.
func NewRecorder(opts RecorderOptions) (*Recorder, error) {
	if opts.FlushInterval < 0 {
		return nil, fmt.Errorf("usage recorder: flush interval %s is negative", opts.FlushInterval)
	}
	interval := cmp.Or(opts.FlushInterval, DefaultFlushInterval)
	t := time.NewTicker(interval)
	r, err := newRecorder(opts, t.C, t.Stop)
	if err != nil {
		t.Stop()
		return nil, err
	}
	return r, nil
}

// newRecorder starts a recorder that flushes on tick, so that tests can
// drive the interval without sleeping.
func newRecorder(opts RecorderOptions, tick <-chan time.Time, stopTick func()) (*Recorder, error) {
	if opts.Store == nil {
		return nil, errors.New("usage recorder: no store given; pass the store that keeps usage records")
	}
	if opts.QueueSize < 0 || opts.BatchSize < 0 || opts.BlockTimeout < 0 || opts.WriteTimeout < 0 {
		return nil, errors.New("usage recorder: queue size, batch size and timeouts must not be negative")
	}
	r := &Recorder{
		store:        opts.Store,
		log:          opts.Logger,
		queue:        make(chan Record, cmp.Or(opts.QueueSize, DefaultQueueSize)),
		maxPending:   cmp.Or(opts.QueueSize, DefaultQueueSize),
		batchSize:    cmp.Or(opts.BatchSize, DefaultBatchSize),
		blockTimeout: cmp.Or(opts.BlockTimeout, DefaultBlockTimeout),
		writeTimeout: cmp.Or(opts.WriteTimeout, DefaultWriteTimeout),
		tick:         tick,
		stopTick:     stopTick,
		done:         make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.run()
	return r, nil
}

// Record queues rec to be written. It does not wait for the write; if the
// queue is full it waits up to the block timeout for room, then drops rec.
// Records that fail Check, and records given after Close, are dropped too.
func (r *Recorder) Record(rec Record) {
	if err := rec.Check(); err != nil {
		r.drop(rec, "invalid record: "+err.Error())
		return
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.drop(rec, "the recorder is closed")
		return
	}
	select {
	case r.queue <- rec:
		return
	default:
	}
	t := time.NewTimer(r.blockTimeout)
	defer t.Stop()
	select {
	case r.queue <- rec:
	case <-t.C:
		r.drop(rec, "the queue is full: the usage store is not keeping up")
	}
}

// Dropped returns how many records were dropped, for metrics.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

func (r *Recorder) drop(rec Record, reason string) {
	r.dropped.Add(1)
	r.log.LogAttrs(context.Background(), slog.LevelError, "usage record dropped",
		slog.String("request_id", rec.RequestID),
		slog.String("key_id", rec.KeyID),
		slog.String("model", rec.Model),
		slog.Int64("cost_nano_usd", int64(rec.Cost)),
		slog.String("reason", reason))
}

// Close writes every queued record and stops the recorder. If ctx ends
// first, the write in progress is abandoned and what is still queued is
// dropped, counted and logged. Close returns an error if any record could
// not be written; calling it again returns the same error.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		r.cancel()
		<-r.done
	}
	return r.closeErr
}

// run batches records until the queue is closed and drained.
func (r *Recorder) run() {
	defer close(r.done)
	defer r.stopTick()
	defer r.cancel()
	var (
		batch   []Record
		failing bool // the last write failed: retry on the tick, not on every record
	)
	for {
		select {
		case rec, ok := <-r.queue:
			if !ok {
				batch = r.flush(batch)
				if n := len(batch); n > 0 {
					r.dropAll(batch, "the usage store failed at shutdown")
					r.closeErr = fmt.Errorf("usage recorder: %d usage records could not be written before shutdown; see the log for their request ids", n)
				}
				return
			}
			batch = append(batch, rec)
			if failing && len(batch) > r.maxPending {
				r.drop(batch[0], "the usage store kept failing and too many records were waiting")
				batch = batch[1:]
			}
			if len(batch) >= r.batchSize && !failing {
				batch = r.flush(batch)
				failing = len(batch) > 0
			}
		case <-r.tick:
			batch = r.flush(batch)
			failing = len(batch) > 0
		}
	}
}

// flush writes batch in chunks of batchSize and returns what it could not
// write, less whatever exceeds maxPending, which it drops.
func (r *Recorder) flush(batch []Record) []Record {
	for len(batch) > 0 {
		n := min(len(batch), r.batchSize)
		ctx, cancel := context.WithTimeout(r.ctx, r.writeTimeout)
		err := r.store.RecordUsage(ctx, batch[:n])
		cancel()
		if err != nil {
			r.log.LogAttrs(context.Background(), slog.LevelError, "usage records not written; retrying at the next flush",
				slog.Int("records", len(batch)),
				slog.String("request_id", batch[0].RequestID),
				slog.String("error", err.Error()))
			break
		}
		// Let the written records be collected.
		clear(batch[:n])
		batch = batch[n:]
	}
	if over := len(batch) - r.maxPending; over > 0 {
		r.dropAll(batch[:over], "the usage store kept failing and too many records were waiting")
		batch = batch[over:]
	}
	if len(batch) == 0 {
		return nil
	}
	return batch
}

func (r *Recorder) dropAll(recs []Record, reason string) {
	for _, rec := range recs {
		r.drop(rec, reason)
	}
}
