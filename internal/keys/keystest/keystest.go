// Package keystest is the conformance suite that every keys.Store backend
// must pass (SQLite in-process, later PostgreSQL over a real connection),
// so that key authentication behaves the same whichever holds the keys. It
// also provides Memory, an in-memory store for other packages' tests.
//
// A backend's test calls TestStore with a function that opens a new, empty
// store:
//
//	func TestKeysStore(t *testing.T) {
//		keystest.TestStore(t, func(t *testing.T) keys.Store {
//			db, err := Open(t.Context(), t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// Besides the interface's doc comments, the suite pins down behaviour the
// keys package relies on and every backend must share:
//
//   - Unknown ids give store.ErrNotFound from KeyByID, SetKeyState,
//     RotateKey and TouchKey; an unknown or empty hash gives it from
//     KeyByHash.
//   - A duplicate id, or a hash already used by any key as its current or
//     previous secret, gives store.ErrConflict, from CreateKey and from
//     RotateKey.
//   - Revoked is final: leaving it, or rotating a revoked key, gives
//     store.ErrConflict. Setting the current state again changes nothing,
//     KeysVersion and UpdatedAt included.
//   - KeysVersion changes with every successful CreateKey, SetKeyState and
//     RotateKey and with nothing else: not with TouchKey, reads or failed
//     writes.
//   - Empty lists (models, routes, IPs, tags) come back nil; lists keep
//     their order. An empty Role comes back as keys.RoleUser.
//   - Every policy field round-trips through CreateKey and UpdateKey, and
//     UpdateKey changes nothing else (state, hint, secrets, use times).
//   - UpdateKey, UpdateTeam and UpdateUser are compare-and-swap on
//     UpdatedAt: a stale one is a conflict and changes nothing.
//   - A key's Team and User, and a user's Team, must exist (else
//     store.ErrNotFound, and nothing is written); a team or user that an
//     unrevoked key (or, for a team, a user) names cannot be deleted
//     (store.ErrConflict). Revoked keys keep the names they had.
//   - KeysVersion also changes with every successful write of a team or
//     user.
//   - Times round-trip to the microsecond (PostgreSQL's resolution), in
//     UTC; the suite's clock only produces whole microseconds.
//   - A context that is already canceled fails every method with an error
//     matching context.Canceled.
//   - No error carries a hash, in raw or hex form.
package keystest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/store"
)

// t0 is the suite's clock origin. It has whole microseconds, the finest
// resolution a PostgreSQL timestamp keeps, and a zone other than UTC, so
// that a store that keeps the zone is caught.
var t0 = time.Date(2025, 6, 7, 8, 9, 10, 123456000, time.FixedZone("CEST", 2*3600))

// at returns t0 plus i minutes.
func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// TestStore runs the conformance suite. open must return a new, empty store
// on every call and arrange, with t.Cleanup, for it to be closed.
func TestStore(t *testing.T, open func(t *testing.T) keys.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s keys.Store)
	}{
		{"CreateAndRead", testCreateAndRead},
		{"Models", testModels},
		{"Conflicts", testConflicts},
		{"NotFound", testNotFound},
		{"List", testList},
		{"States", testStates},
		{"Rotate", testRotate},
		{"RotateConflicts", testRotateConflicts},
		{"Touch", testTouch},
		{"Version", testVersion},
		{"Concurrent", testConcurrent},
		{"CanceledContext", testCanceledContext},
		{"InvalidInput", testInvalidInput},
		{"Policy", testPolicy},
		{"UpdateKey", testUpdateKey},
		{"UpdateKeyConflicts", testUpdateKeyConflicts},
		{"Teams", testTeams},
		{"Users", testUsers},
		{"References", testReferences},
		{"PolicyVersion", testPolicyVersion},
		{"PolicyCanceledContext", testPolicyCanceledContext},
		{"PolicyInvalidInput", testPolicyInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, open(t))
		})
	}
}

// hashOf makes a distinct 32-byte hash for a label.
func hashOf(label string) []byte {
	h := sha256.Sum256([]byte("keystest:" + label))
	return h[:]
}

// newKey returns a key record as keys.Manager would create it.
func newKey(id string, i int) keys.Key {
	return keys.Key{
		ID: id, Name: "name of " + id, Hint: keys.Prefix + "…" + id[len(id)-4:],
		State: keys.Active, Role: keys.RoleUser, CreatedAt: at(i), UpdatedAt: at(i),
	}
}

// id returns a well-formed key id ending in the digits of n.
func id(n int) string { return fmt.Sprintf("key_test%012d", n) }

func create(t *testing.T, s keys.Store, k keys.Key, hash []byte) {
	t.Helper()
	if err := s.CreateKey(t.Context(), k, hash); err != nil {
		t.Fatalf("CreateKey(%s): %v", k.ID, err)
	}
}

func version(t *testing.T, s keys.Store) int64 {
	t.Helper()
	v, err := s.KeysVersion(t.Context())
	if err != nil {
		t.Fatalf("KeysVersion: %v", err)
	}
	return v
}

// checkErr fails unless err matches target (any non-nil error if target is
// nil). Either way the error must not carry a hash.
func checkErr(t *testing.T, what string, err, target error, hashes ...[]byte) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: got no error, want %v", what, describe(target))
		return
	case target != nil && !errors.Is(err, target):
		t.Errorf("%s: got %v, want an error matching %v", what, err, target)
	}
	for _, h := range hashes {
		if len(h) == 0 {
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, string(h)) || strings.Contains(strings.ToLower(msg), hex.EncodeToString(h)) {
			t.Errorf("%s: the error contains a hash: %v", what, err)
		}
	}
}

func describe(target error) any {
	if target == nil {
		return "an error"
	}
	return target
}

// sameKey compares every field, times with Equal and in UTC.
func sameKey(t *testing.T, what string, got, want keys.Key) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Hint != want.Hint || got.State != want.State ||
		!slices.Equal(got.Models, want.Models) || !slices.Equal(got.Routes, want.Routes) ||
		!slices.Equal(got.IPs, want.IPs) || !slices.Equal(got.Tags, want.Tags) || got.Limits != want.Limits ||
		got.Budget != want.Budget || got.Team != want.Team || got.User != want.User || got.Role != want.Role {
		t.Errorf("%s = %+v,\nwant %+v", what, got, want)
	}
	for _, l := range []struct {
		field        string
		empty, isNil bool
	}{
		{"Models", len(got.Models) == 0, got.Models == nil},
		{"Routes", len(got.Routes) == 0, got.Routes == nil},
		{"IPs", len(got.IPs) == 0, got.IPs == nil},
		{"Tags", len(got.Tags) == 0, got.Tags == nil},
	} {
		if l.empty && !l.isNil {
			t.Errorf("%s: an empty %s came back as an empty slice, want nil", what, l.field)
		}
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"UpdatedAt", got.UpdatedAt, want.UpdatedAt},
		{"LastUsedAt", got.LastUsedAt, want.LastUsedAt},
		{"PreviousValidUntil", got.PreviousValidUntil, want.PreviousValidUntil},
	} {
		if !f.got.Equal(f.want) {
			t.Errorf("%s: %s = %v, want %v", what, f.name, f.got, f.want)
		}
		if !f.got.IsZero() && f.got.Location() != time.UTC {
			t.Errorf("%s: %s = %v, want it in UTC", what, f.name, f.got)
		}
	}
}

func testCreateAndRead(t *testing.T, s keys.Store) {
	ctx := t.Context()
	k := newKey(id(1), 0)
	k.Name = "ci-bot: nightly evals ✓"
	k.Models = []string{"gpt-4o-mini", "claude-*"}
	k.ExpiresAt = at(60 * 24)
	h := hashOf("one")
	create(t, s, k, h)

	got, err := s.KeyByID(ctx, k.ID)
	if err != nil {
		t.Fatalf("KeyByID: %v", err)
	}
	sameKey(t, "KeyByID", got, k)

	got, previous, err := s.KeyByHash(ctx, h)
	if err != nil {
		t.Fatalf("KeyByHash: %v", err)
	}
	if previous {
		t.Error("KeyByHash of the current secret says previous")
	}
	sameKey(t, "KeyByHash", got, k)

	// A key that never expires and was created with LastUsedAt and
	// PreviousValidUntil set (CreateKey ignores both).
	k2 := newKey(id(2), 1)
	k2.LastUsedAt, k2.PreviousValidUntil = at(5), at(6)
	create(t, s, k2, hashOf("two"))
	got, err = s.KeyByID(ctx, k2.ID)
	if err != nil {
		t.Fatalf("KeyByID: %v", err)
	}
	k2.LastUsedAt, k2.PreviousValidUntil = time.Time{}, time.Time{}
	sameKey(t, "KeyByID of a key that never expires", got, k2)
}

func testModels(t *testing.T, s keys.Store) {
	for i, models := range [][]string{
		nil,
		{},
		{"gpt-4o"},
		{"z-last", "a-first", "meta-llama/*", "模型-[0-9]?"},
	} {
		k := newKey(id(i), i)
		k.Models = models
		create(t, s, k, hashOf(k.ID))
		got, err := s.KeyByID(t.Context(), k.ID)
		if err != nil {
			t.Fatalf("KeyByID: %v", err)
		}
		if !slices.Equal(got.Models, models) {
			t.Errorf("models %q came back as %q", models, got.Models)
		}
	}
}

func testConflicts(t *testing.T, s keys.Store) {
	ctx := t.Context()
	k := newKey(id(1), 0)
	h := hashOf("one")
	create(t, s, k, h)

	dupID := newKey(id(1), 1)
	dupID.Name = "other"
	checkErr(t, "CreateKey with a taken id", s.CreateKey(ctx, dupID, hashOf("other")), store.ErrConflict, h, hashOf("other"))
	checkErr(t, "CreateKey with a taken hash", s.CreateKey(ctx, newKey(id(2), 1), h), store.ErrConflict, h)

	// A hash kept as a rotated key's previous secret is taken as well.
	if err := s.RotateKey(ctx, k.ID, hashOf("one-b"), "h", at(10), at(2)); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	v := version(t, s)
	checkErr(t, "CreateKey with another key's previous hash", s.CreateKey(ctx, newKey(id(3), 3), h), store.ErrConflict, h)

	if got := version(t, s); got != v {
		t.Errorf("KeysVersion changed from %d to %d after failed writes", v, got)
	}
	got, err := s.KeyByID(ctx, k.ID)
	if err != nil || got.Name != k.Name {
		t.Errorf("after the conflicts KeyByID = %+v, %v; want the first key unchanged", got, err)
	}
	for _, missing := range []string{id(2), id(3)} {
		if _, err := s.KeyByID(ctx, missing); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("KeyByID(%s) after its refused create = %v, want store.ErrNotFound", missing, err)
		}
	}
}

func testNotFound(t *testing.T, s keys.Store) {
	ctx := t.Context()
	create(t, s, newKey(id(1), 0), hashOf("one"))
	unknown := id(99)
	h := hashOf("unknown")

	_, err := s.KeyByID(ctx, unknown)
	checkErr(t, "KeyByID", err, store.ErrNotFound)
	_, _, err = s.KeyByHash(ctx, h)
	checkErr(t, "KeyByHash", err, store.ErrNotFound, h)
	_, _, err = s.KeyByHash(ctx, nil)
	checkErr(t, "KeyByHash(nil)", err, store.ErrNotFound)
	checkErr(t, "SetKeyState", s.SetKeyState(ctx, unknown, keys.Revoked, at(1)), store.ErrNotFound)
	checkErr(t, "RotateKey", s.RotateKey(ctx, unknown, h, "h", at(2), at(1)), store.ErrNotFound, h)
	checkErr(t, "TouchKey", s.TouchKey(ctx, unknown, at(1)), store.ErrNotFound)
}

func testList(t *testing.T, s keys.Store) {
	ctx := t.Context()
	ks, err := s.ListKeys(ctx)
	if err != nil || len(ks) != 0 {
		t.Fatalf("ListKeys of an empty store = %v, %v", ks, err)
	}
	// Created out of order, two at the same instant: the list is by
	// creation time, then id.
	want := []string{id(5), id(3), id(4), id(1)}
	create(t, s, newKey(id(1), 3), hashOf("1"))
	create(t, s, newKey(id(4), 2), hashOf("4"))
	create(t, s, newKey(id(5), 1), hashOf("5"))
	create(t, s, newKey(id(3), 2), hashOf("3"))
	if err := s.SetKeyState(ctx, id(3), keys.Revoked, at(9)); err != nil {
		t.Fatalf("SetKeyState: %v", err)
	}
	ks, err = s.ListKeys(ctx)
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	var got []string
	for _, k := range ks {
		got = append(got, k.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListKeys ids = %v, want %v (revoked keys included)", got, want)
	}
	if len(ks) == 4 && ks[1].State != keys.Revoked {
		t.Errorf("ListKeys: %s has state %q, want revoked", ks[1].ID, ks[1].State)
	}
}

func testStates(t *testing.T, s keys.Store) {
	ctx := t.Context()
	k := newKey(id(1), 0)
	create(t, s, k, hashOf("one"))
	v := version(t, s)

	steps := []struct {
		state keys.State
		at    int
		err   error // nil: success
		moves bool  // the state changes, and with it UpdatedAt and the version
	}{
		{keys.Suspended, 1, nil, true},
		{keys.Suspended, 2, nil, false},
		{keys.Active, 3, nil, true},
		{keys.Active, 4, nil, false},
		{keys.Revoked, 5, nil, true},
		{keys.Revoked, 6, nil, false},
		{keys.Active, 7, store.ErrConflict, false},
		{keys.Suspended, 8, store.ErrConflict, false},
	}
	for _, st := range steps {
		err := s.SetKeyState(ctx, k.ID, st.state, at(st.at))
		what := fmt.Sprintf("SetKeyState(%s) at minute %d", st.state, st.at)
		if st.err != nil {
			checkErr(t, what, err, st.err)
		} else if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		nv := version(t, s)
		if st.moves {
			k.State, k.UpdatedAt = st.state, at(st.at)
			if nv == v {
				t.Errorf("%s: KeysVersion stayed %d", what, v)
			}
		} else if nv != v {
			t.Errorf("%s: KeysVersion changed from %d to %d, want no change", what, v, nv)
		}
		v = nv
		got, err := s.KeyByID(ctx, k.ID)
		if err != nil {
			t.Fatalf("KeyByID: %v", err)
		}
		sameKey(t, what, got, k)
	}
	// The hash of a revoked key still finds it: callers refuse it for its
	// state, on the same path as any other lookup.
	got, _, err := s.KeyByHash(ctx, hashOf("one"))
	if err != nil || got.State != keys.Revoked {
		t.Errorf("KeyByHash of a revoked key = %+v, %v; want it, revoked", got, err)
	}
	checkErr(t, "SetKeyState to an unknown state", s.SetKeyState(ctx, k.ID, "paused", at(9)), nil)
}

func testRotate(t *testing.T, s keys.Store) {
	ctx := t.Context()
	k := newKey(id(1), 0)
	k.Models, k.ExpiresAt = []string{"gpt-4o"}, at(1000)
	h1, h2, h3 := hashOf("r1"), hashOf("r2"), hashOf("r3")
	create(t, s, k, h1)
	v := version(t, s)

	if err := s.RotateKey(ctx, k.ID, h2, "wdn_…h2h2", at(70), at(10)); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if nv := version(t, s); nv == v {
		t.Error("RotateKey did not change KeysVersion")
	}
	k.Hint, k.UpdatedAt, k.PreviousValidUntil = "wdn_…h2h2", at(10), at(70)
	lookup := func(h []byte, wantPrevious bool, label string) {
		t.Helper()
		got, previous, err := s.KeyByHash(ctx, h)
		if err != nil {
			t.Fatalf("KeyByHash(%s): %v", label, err)
		}
		if previous != wantPrevious {
			t.Errorf("KeyByHash(%s): previous = %v, want %v", label, previous, wantPrevious)
		}
		sameKey(t, "KeyByHash("+label+")", got, k)
	}
	lookup(h2, false, "new secret")
	lookup(h1, true, "old secret")

	// A second rotation forgets the first secret and keeps the second.
	if err := s.RotateKey(ctx, k.ID, h3, "wdn_…h3h3", at(25), at(20)); err != nil {
		t.Fatalf("second RotateKey: %v", err)
	}
	k.Hint, k.UpdatedAt, k.PreviousValidUntil = "wdn_…h3h3", at(20), at(25)
	lookup(h3, false, "newest secret")
	lookup(h2, true, "second secret")
	_, _, err := s.KeyByHash(ctx, h1)
	checkErr(t, "KeyByHash of a secret two rotations old", err, store.ErrNotFound, h1)
	// The first secret's hash is free again.
	create(t, s, newKey(id(2), 30), h1)
}

func testRotateConflicts(t *testing.T, s keys.Store) {
	ctx := t.Context()
	a, b := newKey(id(1), 0), newKey(id(2), 1)
	ha, hb, hbOld := hashOf("a"), hashOf("b"), hashOf("b-old")
	create(t, s, a, ha)
	create(t, s, b, hbOld)
	if err := s.RotateKey(ctx, b.ID, hb, "h", at(30), at(2)); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	v := version(t, s)
	checkErr(t, "RotateKey to another key's hash", s.RotateKey(ctx, a.ID, hb, "h", at(30), at(3)), store.ErrConflict, hb)
	checkErr(t, "RotateKey to another key's previous hash", s.RotateKey(ctx, a.ID, hbOld, "h", at(30), at(3)), store.ErrConflict, hbOld)
	checkErr(t, "RotateKey to its own hash", s.RotateKey(ctx, a.ID, ha, "h", at(30), at(3)), store.ErrConflict, ha)
	if got := version(t, s); got != v {
		t.Errorf("KeysVersion changed from %d to %d after refused rotations", v, got)
	}
	if got, previous, err := s.KeyByHash(ctx, ha); err != nil || previous || got.ID != a.ID {
		t.Errorf("after refused rotations KeyByHash(a) = %s, %v, %v; want a's current secret", got.ID, previous, err)
	}

	if err := s.SetKeyState(ctx, a.ID, keys.Revoked, at(4)); err != nil {
		t.Fatalf("SetKeyState: %v", err)
	}
	h := hashOf("a-new")
	checkErr(t, "RotateKey of a revoked key", s.RotateKey(ctx, a.ID, h, "h", at(30), at(5)), store.ErrConflict, h)
	if _, _, err := s.KeyByHash(ctx, h); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused rotation stored its hash: KeyByHash = %v", err)
	}
}

func testTouch(t *testing.T, s keys.Store) {
	ctx := t.Context()
	k := newKey(id(1), 0)
	create(t, s, k, hashOf("one"))
	v := version(t, s)
	for _, tc := range []struct {
		at, want int
	}{
		{5, 5},
		{3, 5}, // a late, older touch does not move it back
		{9, 9},
		{9, 9},
	} {
		if err := s.TouchKey(ctx, k.ID, at(tc.at)); err != nil {
			t.Fatalf("TouchKey: %v", err)
		}
		got, err := s.KeyByID(ctx, k.ID)
		if err != nil {
			t.Fatalf("KeyByID: %v", err)
		}
		k.LastUsedAt = at(tc.want)
		sameKey(t, fmt.Sprintf("after TouchKey at minute %d", tc.at), got, k)
	}
	if got := version(t, s); got != v {
		t.Errorf("TouchKey changed KeysVersion from %d to %d", v, got)
	}
}

func testVersion(t *testing.T, s keys.Store) {
	ctx := t.Context()
	seen := map[int64]string{version(t, s): "empty store"}
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		v := version(t, s)
		if prev, ok := seen[v]; ok {
			t.Errorf("after %s KeysVersion is %d, as it was after %s", what, v, prev)
		}
		seen[v] = what
		// Reads do not change it.
		if _, err := s.ListKeys(ctx); err != nil {
			t.Fatal(err)
		}
		if again := version(t, s); again != v {
			t.Errorf("KeysVersion changed from %d to %d between two reads", v, again)
		}
	}
	step("create", s.CreateKey(ctx, newKey(id(1), 0), hashOf("1")))
	step("second create", s.CreateKey(ctx, newKey(id(2), 0), hashOf("2")))
	step("suspend", s.SetKeyState(ctx, id(1), keys.Suspended, at(1)))
	step("rotate", s.RotateKey(ctx, id(2), hashOf("2b"), "h", at(9), at(2)))
	step("resume", s.SetKeyState(ctx, id(1), keys.Active, at(3)))
	step("revoke", s.SetKeyState(ctx, id(2), keys.Revoked, at(4)))
}

func testConcurrent(t *testing.T, s keys.Store) {
	ctx := t.Context()
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i := range n {
		wg.Go(func() {
			k := newKey(id(i), i)
			if err := s.CreateKey(ctx, k, hashOf(k.ID)); err != nil {
				errs <- fmt.Errorf("CreateKey(%s): %w", k.ID, err)
				return
			}
			for j := range 3 {
				if err := s.TouchKey(ctx, k.ID, at(100+j)); err != nil {
					errs <- fmt.Errorf("TouchKey(%s): %w", k.ID, err)
				}
			}
			if _, _, err := s.KeyByHash(ctx, hashOf(k.ID)); err != nil {
				errs <- fmt.Errorf("KeyByHash(%s): %w", k.ID, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ks, err := s.ListKeys(ctx)
	if err != nil || len(ks) != n {
		t.Fatalf("ListKeys after %d concurrent creates: %d keys, %v", n, len(ks), err)
	}
	for _, k := range ks {
		if !k.LastUsedAt.Equal(at(102)) {
			t.Errorf("%s: LastUsedAt = %v, want %v", k.ID, k.LastUsedAt, at(102))
		}
	}
}

func testCanceledContext(t *testing.T, s keys.Store) {
	k := newKey(id(1), 0)
	h := hashOf("one")
	create(t, s, k, h)
	v := version(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, _, err := s.KeyByHash(ctx, h)
	checkErr(t, "KeyByHash", err, context.Canceled, h)
	_, err = s.KeyByID(ctx, k.ID)
	checkErr(t, "KeyByID", err, context.Canceled)
	_, err = s.ListKeys(ctx)
	checkErr(t, "ListKeys", err, context.Canceled)
	_, err = s.KeysVersion(ctx)
	checkErr(t, "KeysVersion", err, context.Canceled)
	checkErr(t, "CreateKey", s.CreateKey(ctx, newKey(id(2), 1), hashOf("two")), context.Canceled, hashOf("two"))
	checkErr(t, "SetKeyState", s.SetKeyState(ctx, k.ID, keys.Revoked, at(1)), context.Canceled)
	checkErr(t, "RotateKey", s.RotateKey(ctx, k.ID, hashOf("new"), "h", at(9), at(1)), context.Canceled, hashOf("new"))
	checkErr(t, "TouchKey", s.TouchKey(ctx, k.ID, at(1)), context.Canceled)

	got, err := s.KeyByID(t.Context(), k.ID)
	if err != nil {
		t.Fatalf("KeyByID: %v", err)
	}
	sameKey(t, "after canceled writes", got, k)
	if nv := version(t, s); nv != v {
		t.Errorf("canceled writes changed KeysVersion from %d to %d", v, nv)
	}
}

func testInvalidInput(t *testing.T, s keys.Store) {
	ctx := t.Context()
	good := newKey(id(1), 0)
	h := hashOf("good")
	for _, tc := range []struct {
		name string
		edit func(*keys.Key)
		hash []byte
	}{
		{"no id", func(k *keys.Key) { k.ID = "" }, h},
		{"no name", func(k *keys.Key) { k.Name = "" }, h},
		{"no hash", func(*keys.Key) {}, nil},
		{"empty state", func(k *keys.Key) { k.State = "" }, h},
		{"unknown state", func(k *keys.Key) { k.State = "paused" }, h},
		{"no creation time", func(k *keys.Key) { k.CreatedAt = time.Time{} }, h},
	} {
		k := good
		tc.edit(&k)
		checkErr(t, "CreateKey with "+tc.name, s.CreateKey(ctx, k, tc.hash), nil, tc.hash)
	}
	if ks, err := s.ListKeys(ctx); err != nil || len(ks) != 0 {
		t.Errorf("refused creates stored %d keys (%v)", len(ks), err)
	}
	create(t, s, good, h)
	checkErr(t, "RotateKey without a hash", s.RotateKey(ctx, good.ID, nil, "h", at(9), at(1)), nil)
	if got, previous, err := s.KeyByHash(ctx, h); err != nil || previous || got.ID != good.ID {
		t.Errorf("after a refused rotation KeyByHash = %s, %v, %v", got.ID, previous, err)
	}
}
