package audit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a Store in process memory, for tests of the packages
// that write audit records.
type MemoryStore struct {
	mu      sync.Mutex
	records []Record // in seq order
	cps     []Checkpoint
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// tail returns the end of the chain; m.mu must be held.
func (m *MemoryStore) tail() Tail {
	var t Tail
	if n := len(m.cps); n > 0 {
		cp := m.cps[n-1]
		t.CheckpointSeq, t.CheckpointTime = cp.Seq, cp.Time
		// After a prune of every record, the chain goes on from the anchor.
		t.Seq, t.Hash = m.cps[0].Seq, m.cps[0].Hash
	}
	if n := len(m.records); n > 0 {
		t.Seq, t.Hash = m.records[n-1].Seq, m.records[n-1].Hash
	}
	return t
}

// AppendAudit implements Appender.
func (m *MemoryStore) AppendAudit(ctx context.Context, seal func(Tail) (Batch, error)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append audit records: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tail()
	b, err := seal(t)
	if err != nil {
		return err
	}
	if err := CheckBatch(t, b); err != nil {
		return err
	}
	for _, r := range b.Records {
		r.Verdicts = slices.Clone(r.Verdicts)
		m.records = append(m.records, r)
	}
	if b.Checkpoint != nil {
		cp := *b.Checkpoint
		cp.Signature = slices.Clone(cp.Signature)
		m.cps = append(m.cps, cp)
	}
	return nil
}

// AuditRecords implements Reader.
func (m *MemoryStore) AuditRecords(ctx context.Context, q Query) ([]Record, error) {
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("read audit records: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read audit records: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Record{}
	for i := range m.records {
		if q.Matches(&m.records[i]) {
			out = append(out, m.records[i])
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		if q.Latest {
			out = out[len(out)-q.Limit:]
		} else {
			out = out[:q.Limit]
		}
	}
	for i := range out {
		out[i].Verdicts = slices.Clone(out[i].Verdicts)
	}
	return slices.Clip(out), nil
}

// AuditCheckpoints implements Reader.
func (m *MemoryStore) AuditCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]Checkpoint, error) {
	if limit < 0 {
		return nil, fmt.Errorf("read audit checkpoints: limit %d is negative", limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read audit checkpoints: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Checkpoint{}
	for _, cp := range m.cps {
		if cp.Seq > afterSeq && (limit == 0 || len(out) < limit) {
			cp.Signature = slices.Clone(cp.Signature)
			out = append(out, cp)
		}
	}
	return out, nil
}

// PruneAudit implements Pruner.
func (m *MemoryStore) PruneAudit(ctx context.Context, before time.Time) (PruneResult, error) {
	if err := ctx.Err(); err != nil {
		return PruneResult{}, fmt.Errorf("prune audit log: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Records up to the first one at or after before may go.
	limit := int64(1<<63 - 1)
	for _, r := range m.records {
		if !r.Time.Before(before) {
			limit = r.Seq
			break
		}
	}
	var anchor int64
	for _, cp := range m.cps {
		if cp.Seq < limit {
			anchor = cp.Seq
		}
	}
	if anchor == 0 {
		return PruneResult{}, nil
	}
	n := len(m.records)
	m.records = slices.DeleteFunc(m.records, func(r Record) bool { return r.Seq <= anchor })
	m.cps = slices.DeleteFunc(m.cps, func(cp Checkpoint) bool { return cp.Seq < anchor })
	return PruneResult{Deleted: int64(n - len(m.records)), Anchor: anchor}, nil
}
