package audit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
)

// Policy says what Log does when the queue is full.
type Policy string

// Queue-full policies.
const (
	// PolicyBlock makes Log wait for room, up to the block timeout or the
	// end of its context, and then fail: the call is refused rather than
	// go unaudited.
	PolicyBlock Policy = "block"
	// PolicyDrop makes Log drop the record at once: it is counted,
	// logged and reported through OnDrop, and the call goes on.
	PolicyDrop Policy = "drop"
)

// Writer defaults, used where WriterOptions leaves a field zero.
const (
	DefaultQueueSize          = 10000
	DefaultBatchSize          = 100
	DefaultBlockTimeout       = time.Second
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = time.Minute
	DefaultWriteTimeout       = 10 * time.Second
)

var (
	// ErrQueueFull means Log gave up waiting for room under PolicyBlock.
	ErrQueueFull = errors.New("the audit log is not keeping up")
	// ErrClosed means Log or Flush was called after Close.
	ErrClosed = errors.New("the audit log is closed")
)

// WriterOptions configures a Writer.
type WriterOptions struct {
	// Store receives the records. Required.
	Store Appender
	// Signer signs checkpoints. Required: a log without checkpoints can
	// be rewritten from any record on.
	Signer Signer
	// QueueSize bounds the records waiting to be written.
	QueueSize int
	// BatchSize is the most records one transaction writes.
	BatchSize int
	// FlushInterval is how long the writer waits for a batch to fill
	// after its first record arrives. Zero writes at once, batching only
	// the records that queued while the previous write ran.
	FlushInterval time.Duration
	// Policy is what Log does when the queue is full; default
	// PolicyBlock.
	Policy Policy
	// BlockTimeout bounds how long Log waits for room under PolicyBlock.
	BlockTimeout time.Duration
	// CheckpointEvery is how many records a checkpoint may leave unsigned.
	CheckpointEvery int
	// CheckpointInterval is how long records may stay unsigned.
	CheckpointInterval time.Duration
	// WriteTimeout bounds one write to the store.
	WriteTimeout time.Duration
	// Logger reports drops and failed writes; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for record and checkpoint times; nil means
	// time.Now.
	Now func() time.Time
	// OnDrop, if set, is called once for every record dropped, from the
	// goroutine that dropped it (Log's caller, or the writer's at
	// shutdown), so that an alert can fire. It must not block.
	OnDrop func()
}

// Writer appends records to an audit log off the request path. Log only
// enqueues; one goroutine chains and writes the records in order, in
// batches, and signs checkpoints. A record Log accepts (returns nil for)
// is either written or counted in Dropped, never lost silently. A Writer
// is safe for concurrent use.
type Writer struct {
	store         Appender
	signer        Signer
	log           *slog.Logger
	now           func() time.Time
	onDrop        func()
	policy        Policy
	batchSize     int
	flushInterval time.Duration
	blockTimeout  time.Duration
	writeTimeout  time.Duration
	cpEvery       int64
	cpInterval    time.Duration
	tick          <-chan time.Time
	stopTick      func()

	mu     sync.RWMutex // Log holds it shared while it sends; Close exclusively to close the queue
	closed bool
	queue  chan Record

	flushReq chan chan error

	dropped     atomic.Uint64
	lastDropLog atomic.Int64 // unix nanoseconds of the last drop logged

	ctx      context.Context // canceled when Close gives up waiting
	cancel   context.CancelFunc
	done     chan struct{}
	closeErr error // set before done is closed

	// Owned by the writer goroutine.
	started time.Time
	lost    int       // records dropped because the store failed at shutdown
	lastSeq int64     // the last seq this writer wrote
	cpSeq   int64     // the latest checkpoint seen
	cpTime  time.Time // and its time
	batch   []Record
	buf     []byte
}

// NewWriter starts a writer; Close stops it.
func NewWriter(opts WriterOptions) (*Writer, error) {
	interval := cmp.Or(opts.CheckpointInterval, DefaultCheckpointInterval)
	// Ticks drive the checkpoint interval and retries of failed writes.
	t := time.NewTicker(max(min(time.Second, interval/4), time.Millisecond))
	w, err := newWriter(opts, t.C, t.Stop)
	if err != nil {
		t.Stop()
		return nil, err
	}
	return w, nil
}

// newWriter starts a writer that checks its checkpoint interval and
// retries failed writes on tick, so that tests can drive them.
func newWriter(opts WriterOptions, tick <-chan time.Time, stopTick func()) (*Writer, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("audit writer: no store given; pass the store that keeps the audit log")
	case opts.Signer == nil:
		return nil, errors.New("audit writer: no signer given; pass the signer of audit checkpoints (the key held in the vault)")
	case opts.QueueSize < 0 || opts.BatchSize < 0 || opts.CheckpointEvery < 0:
		return nil, errors.New("audit writer: queue size, batch size and checkpoint count must not be negative")
	case opts.FlushInterval < 0 || opts.BlockTimeout < 0 || opts.CheckpointInterval < 0 || opts.WriteTimeout < 0:
		return nil, errors.New("audit writer: intervals and timeouts must not be negative")
	}
	policy := cmp.Or(opts.Policy, PolicyBlock)
	if policy != PolicyBlock && policy != PolicyDrop {
		return nil, fmt.Errorf("audit writer: queue-full policy %q is not block or drop", opts.Policy)
	}
	w := &Writer{
		store:         opts.Store,
		signer:        opts.Signer,
		log:           cmp.Or(opts.Logger, slog.Default()),
		now:           opts.Now,
		onDrop:        opts.OnDrop,
		policy:        policy,
		batchSize:     cmp.Or(opts.BatchSize, DefaultBatchSize),
		flushInterval: opts.FlushInterval,
		blockTimeout:  cmp.Or(opts.BlockTimeout, DefaultBlockTimeout),
		writeTimeout:  cmp.Or(opts.WriteTimeout, DefaultWriteTimeout),
		cpEvery:       int64(cmp.Or(opts.CheckpointEvery, DefaultCheckpointEvery)),
		cpInterval:    cmp.Or(opts.CheckpointInterval, DefaultCheckpointInterval),
		tick:          tick,
		stopTick:      stopTick,
		queue:         make(chan Record, cmp.Or(opts.QueueSize, DefaultQueueSize)),
		flushReq:      make(chan chan error),
		done:          make(chan struct{}),
	}
	if w.now == nil {
		w.now = time.Now
	}
	w.lastDropLog.Store(math.MinInt64)
	w.started = w.now()
	w.ctx, w.cancel = context.WithCancel(context.Background())
	go w.run()
	return w, nil
}

// unavailable makes err a 503 for the gateway's error renderer.
func unavailable(err error) error {
	return apperr.Wrap(apperr.Unavailable, "the audit log cannot take more records right now; try again", err)
}

// Log queues rec to be written. It sets rec's Time to now if it is zero
// and refuses a record that fails Check. The caller must not change
// rec.Verdicts afterwards. When the queue is full, under PolicyBlock Log
// waits for room until the block timeout or ctx ends and then returns an
// error matching ErrQueueFull (an apperr.Unavailable: a 503); under
// PolicyDrop it drops the record, counts and reports it, and returns nil.
// After Close it returns an error matching ErrClosed.
func (w *Writer) Log(ctx context.Context, rec Record) error {
	if rec.Time.IsZero() {
		rec.Time = w.now()
	}
	if err := rec.Check(); err != nil {
		return err
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return unavailable(ErrClosed)
	}
	select {
	case w.queue <- rec:
		return nil
	default:
	}
	if w.policy == PolicyDrop {
		w.drop(&rec, "the queue is full: the audit store is not keeping up")
		return nil
	}
	t := time.NewTimer(w.blockTimeout)
	defer t.Stop()
	select {
	case w.queue <- rec:
		return nil
	case <-ctx.Done():
		return unavailable(fmt.Errorf("%w: %w", ErrQueueFull, ctx.Err()))
	case <-t.C:
		return unavailable(fmt.Errorf("%w: no room in the queue after %s", ErrQueueFull, w.blockTimeout))
	}
}

// Dropped returns how many accepted records were dropped, for metrics.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// drop counts rec as dropped and reports it: OnDrop every time, the log
// at most once a second (with the running total), so that a flood of
// drops does not become a flood of log lines.
func (w *Writer) drop(rec *Record, reason string) {
	total := w.dropped.Add(1)
	if w.onDrop != nil {
		w.onDrop()
	}
	now := w.now().UnixNano()
	last := w.lastDropLog.Load()
	if last != math.MinInt64 && now-last < int64(time.Second) {
		return
	}
	if !w.lastDropLog.CompareAndSwap(last, now) {
		return // another goroutine is logging this second's drops
	}
	w.log.LogAttrs(context.Background(), slog.LevelError, "audit record dropped",
		slog.String("request_id", rec.RequestID),
		slog.String("key_id", rec.KeyID),
		slog.String("action", rec.Action),
		slog.Uint64("dropped_total", total),
		slog.String("reason", reason))
}

// Flush writes every record queued before it was called, signs a
// checkpoint if one is due, and returns when they are stored.
func (w *Writer) Flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case w.flushReq <- reply:
	case <-w.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("flush the audit log: %w", ctx.Err())
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("flush the audit log: %w", ctx.Err())
	}
}

// Close writes every queued record, signs a final checkpoint and stops
// the writer. If ctx ends first, the write in progress is abandoned and
// what is still queued is dropped, counted and logged. Close returns an
// error if any record could not be written or the final checkpoint could
// not be signed; calling it again returns the same error.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		w.cancel()
		<-w.done
	}
	return w.closeErr
}

// run is the writer goroutine.
func (w *Writer) run() {
	defer close(w.done)
	defer w.stopTick()
	defer w.cancel()
	for {
		select {
		case rec, ok := <-w.queue:
			if !ok {
				w.closeErr = w.finish()
				return
			}
			w.write(w.collect(rec))
		case <-w.tick:
			if err := w.checkpointIfDue(false); err != nil {
				w.log.LogAttrs(context.Background(), slog.LevelError, "audit checkpoint not written; retrying", slog.String("error", err.Error()))
			}
		case reply := <-w.flushReq:
			var lost int
			for n := len(w.queue); n > 0; {
				batch := w.take(min(n, w.batchSize))
				if len(batch) == 0 {
					break
				}
				n -= len(batch)
				lost += w.write(batch)
			}
			err := w.checkpointIfDue(false)
			if lost > 0 {
				err = errors.Join(fmt.Errorf("flush the audit log: %d records could not be written; see the log", lost), err)
			}
			reply <- err
		}
	}
}

// collect makes a batch of first and what else is queued, waiting up to
// the flush interval for the batch to fill.
func (w *Writer) collect(first Record) []Record {
	first.normalize()
	batch := append(w.batch[:0], first)
	var timeout <-chan time.Time
	if w.flushInterval > 0 {
		t := time.NewTimer(w.flushInterval)
		defer t.Stop()
		timeout = t.C
	}
	for len(batch) < w.batchSize {
		var (
			rec Record
			ok  bool
		)
		select {
		case rec, ok = <-w.queue:
		default:
			if timeout == nil {
				return w.keep(batch)
			}
			select {
			case rec, ok = <-w.queue:
			case <-timeout:
				return w.keep(batch)
			}
		}
		if !ok { // closed: the run loop will see it too
			break
		}
		rec.normalize()
		batch = append(batch, rec)
	}
	return w.keep(batch)
}

// take receives up to n records that are known to be queued.
func (w *Writer) take(n int) []Record {
	batch := w.batch[:0]
	for range n {
		rec, ok := <-w.queue
		if !ok {
			break
		}
		rec.normalize()
		batch = append(batch, rec)
	}
	return w.keep(batch)
}

// keep remembers batch's array for the next batch.
func (w *Writer) keep(batch []Record) []Record {
	w.batch = batch
	return batch
}

// write appends batch, retrying on every tick while the store fails. It
// gives up, dropping the batch, only when Close has stopped waiting, and
// returns how many records it dropped.
func (w *Writer) write(batch []Record) int {
	for {
		err := w.appendBatch(batch, false)
		if err == nil {
			clear(batch) // let payloads be collected
			return 0
		}
		w.log.LogAttrs(context.Background(), slog.LevelError, "audit records not written; retrying",
			slog.Int("records", len(batch)),
			slog.String("request_id", batch[0].RequestID),
			slog.String("error", err.Error()))
		select {
		case <-w.tick:
		case <-w.ctx.Done():
			for i := range batch {
				w.drop(&batch[i], "the audit store failed and shutdown could not wait any longer")
			}
			clear(batch)
			w.lost += len(batch)
			return len(batch)
		}
	}
}

// finish writes what is left in the closed queue and the final
// checkpoint.
func (w *Writer) finish() error {
	for {
		batch := w.take(w.batchSize)
		if len(batch) == 0 {
			break
		}
		w.write(batch)
	}
	var errs []error
	if w.lost > 0 {
		errs = append(errs, fmt.Errorf("audit writer: %d records could not be written before shutdown; see the log for their request ids", w.lost))
	}
	for {
		err := w.checkpointIfDue(true)
		if err == nil {
			break
		}
		w.log.LogAttrs(context.Background(), slog.LevelError, "final audit checkpoint not written; retrying", slog.String("error", err.Error()))
		select {
		case <-w.tick:
			continue
		case <-w.ctx.Done():
		}
		errs = append(errs, fmt.Errorf("audit writer: final checkpoint: %w", err))
		break
	}
	return errors.Join(errs...)
}

// checkpointIfDue signs a checkpoint of the chain if this writer appended
// records since the latest one it knows of and the checkpoint interval
// has passed, or if final, at once.
func (w *Writer) checkpointIfDue(final bool) error {
	if w.lastSeq <= w.cpSeq {
		return nil
	}
	if !final && w.now().Sub(later(w.cpTime, w.started)) < w.cpInterval {
		return nil
	}
	return w.appendBatch(nil, true)
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// appendBatch writes recs, chained to the store's tail, and a checkpoint if
// one is due or force is set and the new tail is unsigned.
func (w *Writer) appendBatch(recs []Record, force bool) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.writeTimeout)
	defer cancel()
	var (
		lastSeq int64
		cp      *Checkpoint
		tail    Tail
		signErr error
	)
	err := w.store.AppendAudit(ctx, func(t Tail) (Batch, error) {
		tail, cp, signErr = t, nil, nil
		seq, prev := t.Seq, t.Hash
		for i := range recs {
			r := &recs[i]
			seq++
			r.Seq, r.PrevHash = seq, prev
			w.buf = AppendCanonical(w.buf[:0], r)
			r.Hash = sha256.Sum256(w.buf)
			prev = r.Hash
		}
		lastSeq = seq
		if seq <= t.CheckpointSeq {
			return Batch{Records: recs}, nil
		}
		now := w.now()
		due := force || seq-t.CheckpointSeq >= w.cpEvery || now.Sub(later(t.CheckpointTime, w.started)) >= w.cpInterval
		if !due {
			return Batch{Records: recs}, nil
		}
		c := &Checkpoint{Seq: seq, Hash: prev, Time: now.Round(0).UTC()}
		sig, err := w.signer.Sign(CheckpointMessage(c))
		if err != nil {
			// The records matter more than their checkpoint: write
			// them, and sign the next time.
			signErr = err
			return Batch{Records: recs}, nil
		}
		c.Signature = sig
		cp = c
		return Batch{Records: recs, Checkpoint: cp}, nil
	})
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		w.lastSeq = lastSeq
	}
	w.cpSeq, w.cpTime = tail.CheckpointSeq, tail.CheckpointTime
	if cp != nil {
		w.cpSeq, w.cpTime = cp.Seq, cp.Time
	}
	if signErr != nil {
		err := fmt.Errorf("sign audit checkpoint at seq %d: %w", lastSeq, signErr)
		if len(recs) > 0 {
			// The records are stored; only the checkpoint waits.
			w.log.LogAttrs(context.Background(), slog.LevelError, "audit checkpoint not signed; retrying at the next one", slog.String("error", err.Error()))
			return nil
		}
		return err
	}
	return nil
}
