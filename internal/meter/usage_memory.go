package meter

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemoryUsageStore is a UsageStore in process memory, for tests of the
// packages that record usage.
type MemoryUsageStore struct {
	mu      sync.Mutex
	records []Record
	seen    map[string]bool // request ids
}

var _ UsageStore = (*MemoryUsageStore)(nil)

// NewMemoryUsageStore returns an empty store.
func NewMemoryUsageStore() *MemoryUsageStore {
	return &MemoryUsageStore{seen: make(map[string]bool)}
}

// RecordUsage implements UsageStore.
func (m *MemoryUsageStore) RecordUsage(ctx context.Context, records []Record) error {
	for _, r := range records {
		if err := r.Check(); err != nil {
			return fmt.Errorf("record usage: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range records {
		if m.seen[r.RequestID] {
			continue
		}
		m.seen[r.RequestID] = true
		m.records = append(m.records, r)
	}
	return nil
}

// Records returns a copy of the stored records in the order they came.
func (m *MemoryUsageStore) Records() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.records)
}

// UsageSummary implements UsageStore.
func (m *MemoryUsageStore) UsageSummary(ctx context.Context, q UsageQuery) ([]UsageRow, error) {
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("summarize usage: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("summarize usage: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	byGroup := make(map[string]*UsageRow)
	for _, r := range m.records {
		if !q.matches(r) {
			continue
		}
		g := q.By.group(r)
		row := byGroup[g]
		if row == nil {
			row = &UsageRow{Group: g}
			byGroup[g] = row
		}
		row.Requests++
		row.InputTokens += r.InputTokens
		row.OutputTokens += r.OutputTokens
		row.Cost += r.Cost
	}
	rows := make([]UsageRow, 0, len(byGroup))
	for _, row := range byGroup {
		rows = append(rows, *row)
	}
	slices.SortFunc(rows, func(a, b UsageRow) int { return cmp.Compare(a.Group, b.Group) })
	return rows, nil
}
