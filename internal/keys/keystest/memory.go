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
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/store"
)

// Memory is an in-memory keys.Store for tests of the packages that use
// keys. It passes TestStore, and can be told to fail, to test what callers
// do when the store is down.
type Memory struct {
	mu      sync.Mutex
	keys    map[string]*memKey
	teams   map[string]keys.Team
	users   map[string]keys.User
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
func NewMemory() *Memory {
	return &Memory{keys: make(map[string]*memKey), teams: make(map[string]keys.Team), users: make(map[string]keys.User)}
}

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
	k, err := m.normKey(k)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	k.LastUsedAt, k.PreviousValidUntil = time.Time{}, time.Time{}
	k.CreatedAt = utc(k.CreatedAt)
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

// normKey checks what a real backend's schema would refuse in k's policy
// and references, and returns a copy as it would be stored. m.mu is held.
func (m *Memory) normKey(k keys.Key) (keys.Key, error) {
	if k.Role == "" {
		k.Role = keys.RoleUser
	}
	if !keys.ValidRole(k.Role) {
		return k, fmt.Errorf("unknown role %q", k.Role)
	}
	if err := checkPolicyRow(k.Limits, k.Budget); err != nil {
		return k, err
	}
	for _, p := range k.IPs {
		if !p.IsValid() {
			return k, fmt.Errorf("an invalid IP prefix")
		}
	}
	if _, ok := m.teams[k.Team]; k.Team != "" && !ok {
		return k, fmt.Errorf("no team named %s: %w", k.Team, store.ErrNotFound)
	}
	if _, ok := m.users[k.User]; k.User != "" && !ok {
		return k, fmt.Errorf("no user named %s: %w", k.User, store.ErrNotFound)
	}
	if err := checkTime("updated_at", k.UpdatedAt); err != nil {
		return k, err
	}
	k.Models, k.Routes, k.IPs, k.Tags = normList(k.Models), normList(k.Routes), normList(k.IPs), normList(k.Tags)
	k.UpdatedAt, k.ExpiresAt = utc(k.UpdatedAt), utc(k.ExpiresAt)
	return k, nil
}

// checkPolicyRow refuses what the SQL schema's CHECKs refuse.
func checkPolicyRow(l keys.Limits, b meter.Budget) error {
	if l.RPS < 0 || l.RPM < 0 || l.TPM < 0 || l.MaxParallel < 0 {
		return fmt.Errorf("negative limits %+v", l)
	}
	if !b.IsZero() && (b.Limit <= 0 || !b.Period.Valid()) {
		return fmt.Errorf("invalid budget %+v", b)
	}
	return nil
}

func normList[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func (mk *memKey) out() keys.Key {
	k := mk.k
	k.Models, k.Routes, k.IPs, k.Tags = normList(k.Models), normList(k.Routes), normList(k.IPs), normList(k.Tags)
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

// UpdateKey implements keys.Store.
func (m *Memory) UpdateKey(ctx context.Context, k keys.Key, ifUpdatedAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	if k.Name == "" {
		return fmt.Errorf("update key %s: the key has no name", k.ID)
	}
	mk, ok := m.keys[k.ID]
	switch {
	case !ok:
		return fmt.Errorf("update key %s: %w", k.ID, store.ErrNotFound)
	case mk.k.State == keys.Revoked:
		return fmt.Errorf("update key %s: the key is revoked: %w", k.ID, store.ErrConflict)
	case !mk.k.UpdatedAt.Equal(ifUpdatedAt):
		return fmt.Errorf("update key %s: the key changed meanwhile: %w", k.ID, store.ErrConflict)
	}
	n, err := m.normKey(k)
	if err != nil {
		return fmt.Errorf("update key %s: %w", k.ID, err)
	}
	cur := &mk.k
	cur.Name, cur.Models, cur.Routes, cur.IPs, cur.Limits, cur.Budget = n.Name, n.Models, n.Routes, n.IPs, n.Limits, n.Budget
	cur.Team, cur.User, cur.Role, cur.Tags, cur.ExpiresAt, cur.UpdatedAt = n.Team, n.User, n.Role, n.Tags, n.ExpiresAt, n.UpdatedAt
	m.version++
	return nil
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

// CreateTeam implements keys.Store.
func (m *Memory) CreateTeam(ctx context.Context, t keys.Team) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	t, err := normTeam(t)
	if err != nil {
		return fmt.Errorf("create team %s: %w", t.Name, err)
	}
	if _, ok := m.teams[t.Name]; ok {
		return fmt.Errorf("create team %s: the name is taken: %w", t.Name, store.ErrConflict)
	}
	m.teams[t.Name] = t
	m.version++
	return nil
}

func normTeam(t keys.Team) (keys.Team, error) {
	if t.Name == "" {
		return t, fmt.Errorf("the team has no name")
	}
	if err := checkPolicyRow(t.Limits, t.Budget); err != nil {
		return t, err
	}
	if err := checkTime("created_at", t.CreatedAt); err != nil {
		return t, err
	}
	if err := checkTime("updated_at", t.UpdatedAt); err != nil {
		return t, err
	}
	t.Models = normList(t.Models)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}

// TeamByName implements keys.Store.
func (m *Memory) TeamByName(ctx context.Context, name string) (keys.Team, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return keys.Team{}, err
	}
	t, ok := m.teams[name]
	if !ok {
		return keys.Team{}, fmt.Errorf("team %s: %w", name, store.ErrNotFound)
	}
	t.Models = normList(t.Models)
	return t, nil
}

// ListTeams implements keys.Store.
func (m *Memory) ListTeams(ctx context.Context) ([]keys.Team, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	out := make([]keys.Team, 0, len(m.teams))
	for _, t := range m.teams {
		t.Models = normList(t.Models)
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// UpdateTeam implements keys.Store.
func (m *Memory) UpdateTeam(ctx context.Context, t keys.Team, ifUpdatedAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	cur, ok := m.teams[t.Name]
	switch {
	case !ok:
		return fmt.Errorf("update team %s: %w", t.Name, store.ErrNotFound)
	case !cur.UpdatedAt.Equal(ifUpdatedAt):
		return fmt.Errorf("update team %s: the team changed meanwhile: %w", t.Name, store.ErrConflict)
	}
	t.CreatedAt = cur.CreatedAt
	t, err := normTeam(t)
	if err != nil {
		return fmt.Errorf("update team %s: %w", t.Name, err)
	}
	m.teams[t.Name] = t
	m.version++
	return nil
}

// DeleteTeam implements keys.Store.
func (m *Memory) DeleteTeam(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	if _, ok := m.teams[name]; !ok {
		return fmt.Errorf("delete team %s: %w", name, store.ErrNotFound)
	}
	var nkeys, nusers int
	for _, mk := range m.keys {
		if mk.k.Team == name && mk.k.State != keys.Revoked {
			nkeys++
		}
	}
	for _, u := range m.users {
		if u.Team == name {
			nusers++
		}
	}
	if nkeys > 0 || nusers > 0 {
		return fmt.Errorf("delete team %s: %d key(s) and %d user(s) are in it: %w", name, nkeys, nusers, store.ErrConflict)
	}
	delete(m.teams, name)
	m.version++
	return nil
}

// CreateUser implements keys.Store.
func (m *Memory) CreateUser(ctx context.Context, u keys.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	u, err := m.normUser(u)
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	if _, ok := m.users[u.Name]; ok {
		return fmt.Errorf("create user %s: the name is taken: %w", u.Name, store.ErrConflict)
	}
	m.users[u.Name] = u
	m.version++
	return nil
}

// normUser checks u as the SQL schema would. m.mu is held.
func (m *Memory) normUser(u keys.User) (keys.User, error) {
	if u.Name == "" {
		return u, fmt.Errorf("the user has no name")
	}
	if u.Role == "" {
		u.Role = keys.RoleUser
	}
	if !keys.ValidRole(u.Role) {
		return u, fmt.Errorf("unknown role %q", u.Role)
	}
	if err := checkPolicyRow(u.Limits, u.Budget); err != nil {
		return u, err
	}
	if err := checkTime("created_at", u.CreatedAt); err != nil {
		return u, err
	}
	if err := checkTime("updated_at", u.UpdatedAt); err != nil {
		return u, err
	}
	if _, ok := m.teams[u.Team]; u.Team != "" && !ok {
		return u, fmt.Errorf("no team named %s: %w", u.Team, store.ErrNotFound)
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, nil
}

// UserByName implements keys.Store.
func (m *Memory) UserByName(ctx context.Context, name string) (keys.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return keys.User{}, err
	}
	u, ok := m.users[name]
	if !ok {
		return keys.User{}, fmt.Errorf("user %s: %w", name, store.ErrNotFound)
	}
	return u, nil
}

// ListUsers implements keys.Store.
func (m *Memory) ListUsers(ctx context.Context) ([]keys.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	out := make([]keys.User, 0, len(m.users))
	for _, u := range m.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// UpdateUser implements keys.Store.
func (m *Memory) UpdateUser(ctx context.Context, u keys.User, ifUpdatedAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	cur, ok := m.users[u.Name]
	switch {
	case !ok:
		return fmt.Errorf("update user %s: %w", u.Name, store.ErrNotFound)
	case !cur.UpdatedAt.Equal(ifUpdatedAt):
		return fmt.Errorf("update user %s: the user changed meanwhile: %w", u.Name, store.ErrConflict)
	}
	u.CreatedAt = cur.CreatedAt
	u, err := m.normUser(u)
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.Name, err)
	}
	m.users[u.Name] = u
	m.version++
	return nil
}

// DeleteUser implements keys.Store.
func (m *Memory) DeleteUser(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	if _, ok := m.users[name]; !ok {
		return fmt.Errorf("delete user %s: %w", name, store.ErrNotFound)
	}
	var n int
	for _, mk := range m.keys {
		if mk.k.User == name && mk.k.State != keys.Revoked {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("delete user %s: %d key(s) act for the user: %w", name, n, store.ErrConflict)
	}
	delete(m.users, name)
	m.version++
	return nil
}
