package keystest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/store"
)

// Memory is an in-memory keys.Store for tests of the packages that use
// keys. It passes TestStore, and can be told to fail, to test what callers
// do when the store is down.
type Memory struct {
	mu      sync.Mutex
	keys    map[string]*memKey
	version int64
	fail    error
	lookups int
}

type memKey struct {
	k          keys.Key
	hash, prev []byte
}

var _ keys.Store = (*Memory)(nil)

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{keys: make(map[string]*memKey)} }

// Fail makes every method return err until Fail(nil).
func (m *Memory) Fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// Lookups returns how many times KeyByHash has been called, so that tests
// can tell a cached answer from a store lookup.
func (m *Memory) Lookups() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookups
}

// check returns the error every method must give first. m.mu is held.
func (m *Memory) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return m.fail
}

func checkTime(what string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("%s is not set", what)
	}
	return nil
}

// CreateKey implements keys.Store.
func (m *Memory) CreateKey(ctx context.Context, k keys.Key, hash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	switch {
	case k.ID == "" || k.Name == "":
		return fmt.Errorf("create key: id and name are required")
	case len(hash) == 0:
		return fmt.Errorf("create key %s: no hash given", k.ID)
	case !k.State.Valid():
		return fmt.Errorf("create key %s: unknown state %q", k.ID, k.State)
	}
	if err := checkTime("created_at", k.CreatedAt); err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	if err := checkTime("updated_at", k.UpdatedAt); err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	if _, ok := m.keys[k.ID]; ok {
		return fmt.Errorf("create key %s: the id is taken: %w", k.ID, store.ErrConflict)
	}
	if m.hashTaken(hash) {
		return fmt.Errorf("create key %s: the hash is taken: %w", k.ID, store.ErrConflict)
	}
	k.Models = normModels(k.Models)
	k.LastUsedAt, k.PreviousValidUntil = time.Time{}, time.Time{}
	k.CreatedAt, k.UpdatedAt, k.ExpiresAt = utc(k.CreatedAt), utc(k.UpdatedAt), utc(k.ExpiresAt)
	m.keys[k.ID] = &memKey{k: k, hash: bytes.Clone(hash)}
	m.version++
	return nil
}

func (m *Memory) hashTaken(h []byte) bool {
	for _, mk := range m.keys {
		if bytes.Equal(mk.hash, h) || bytes.Equal(mk.prev, h) {
			return true
		}
	}
	return false
}

func normModels(ms []string) []string {
	if len(ms) == 0 {
		return nil
	}
	return slices.Clone(ms)
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func (mk *memKey) out() keys.Key {
	k := mk.k
	k.Models = normModels(k.Models)
	return k
}

// KeyByHash implements keys.Store.
func (m *Memory) KeyByHash(ctx context.Context, hash []byte) (keys.Key, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return keys.Key{}, false, err
	}
	m.lookups++
	if len(hash) > 0 {
		for _, mk := range m.keys {
			if bytes.Equal(mk.hash, hash) {
				return mk.out(), false, nil
			}
		}
		for _, mk := range m.keys {
			if bytes.Equal(mk.prev, hash) {
				return mk.out(), true, nil
			}
		}
	}
	return keys.Key{}, false, fmt.Errorf("look up key by hash: %w", store.ErrNotFound)
}

// KeyByID implements keys.Store.
func (m *Memory) KeyByID(ctx context.Context, id string) (keys.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return keys.Key{}, err
	}
	mk, ok := m.keys[id]
	if !ok {
		return keys.Key{}, fmt.Errorf("key %s: %w", id, store.ErrNotFound)
	}
	return mk.out(), nil
}

// ListKeys implements keys.Store.
func (m *Memory) ListKeys(ctx context.Context) ([]keys.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	out := make([]keys.Key, 0, len(m.keys))
	for _, mk := range m.keys {
		out = append(out, mk.out())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// SetKeyState implements keys.Store.
func (m *Memory) SetKeyState(ctx context.Context, id string, s keys.State, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	if !s.Valid() {
		return fmt.Errorf("set state of key %s: unknown state %q", id, s)
	}
	if err := checkTime("time", now); err != nil {
		return fmt.Errorf("set state of key %s: %w", id, err)
	}
	mk, ok := m.keys[id]
	switch {
	case !ok:
		return fmt.Errorf("set state of key %s: %w", id, store.ErrNotFound)
	case mk.k.State == s:
		return nil
	case mk.k.State == keys.Revoked:
		return fmt.Errorf("set state of key %s: the key is revoked: %w", id, store.ErrConflict)
	}
	mk.k.State, mk.k.UpdatedAt = s, now.UTC()
	m.version++
	return nil
}

// RotateKey implements keys.Store.
func (m *Memory) RotateKey(ctx context.Context, id string, newHash []byte, newHint string, oldValidUntil, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	if len(newHash) == 0 {
		return fmt.Errorf("rotate key %s: no hash given", id)
	}
	if err := checkTime("time", now); err != nil {
		return fmt.Errorf("rotate key %s: %w", id, err)
	}
	if err := checkTime("end of the grace period", oldValidUntil); err != nil {
		return fmt.Errorf("rotate key %s: %w", id, err)
	}
	mk, ok := m.keys[id]
	switch {
	case !ok:
		return fmt.Errorf("rotate key %s: %w", id, store.ErrNotFound)
	case mk.k.State == keys.Revoked:
		return fmt.Errorf("rotate key %s: the key is revoked: %w", id, store.ErrConflict)
	case m.hashTaken(newHash):
		return fmt.Errorf("rotate key %s: the new hash is taken: %w", id, store.ErrConflict)
	}
	mk.prev, mk.hash = mk.hash, bytes.Clone(newHash)
	mk.k.Hint, mk.k.PreviousValidUntil, mk.k.UpdatedAt = newHint, oldValidUntil.UTC(), now.UTC()
	m.version++
	return nil
}

// TouchKey implements keys.Store.
func (m *Memory) TouchKey(ctx context.Context, id string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	if err := checkTime("time", now); err != nil {
		return fmt.Errorf("record use of key %s: %w", id, err)
	}
	mk, ok := m.keys[id]
	if !ok {
		return fmt.Errorf("record use of key %s: %w", id, store.ErrNotFound)
	}
	if now.After(mk.k.LastUsedAt) {
		mk.k.LastUsedAt = now.UTC()
	}
	return nil
}

// KeysVersion implements keys.Store.
func (m *Memory) KeysVersion(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return 0, err
	}
	return m.version, nil
}
