package audit

import (
	"context"
	"time"
)

// Appender appends to the chain. It is what a Writer needs.
type Appender interface {
	// AppendAudit runs seal with the tail of the chain and stores the
	// batch it returns, all in one write transaction, so that no other
	// writer, in this process or another, can append in between. It
	// refuses a batch that fails CheckBatch. If seal fails, nothing is
	// stored and its error is returned. An empty batch stores nothing.
	AppendAudit(ctx context.Context, seal func(Tail) (Batch, error)) error
}

// Reader reads the log. It is what Verify, tail and export need.
type Reader interface {
	// AuditRecords returns the records q selects, in seq order, and an
	// empty slice, not nil, if there are none.
	AuditRecords(ctx context.Context, q Query) ([]Record, error)
	// AuditCheckpoints returns up to limit checkpoints (0: all) with a
	// seq greater than afterSeq, in seq order.
	AuditCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]Checkpoint, error)
}

// Pruner drops old records.
type Pruner interface {
	// PruneAudit deletes, in one transaction, the records up to the
	// latest checkpoint C such that every record up to C is older than
	// before, and every checkpoint before C. C stays as the anchor.
	PruneAudit(ctx context.Context, before time.Time) (PruneResult, error)
}

// Store is everything an audit log backend provides; the audittest suite
// checks it.
type Store interface {
	Appender
	Reader
	Pruner
}
