// Package vaulttest is the conformance suite that every vault.Store backend
// must pass (SQLite in-process, PostgreSQL over a real connection), so that
// the vault behaves the same whichever one holds its data.
//
// A backend's test calls TestStore with a function that opens a new, empty
// store:
//
//	func TestVaultStore(t *testing.T) {
//		vaulttest.TestStore(t, func(t *testing.T) vault.Store {
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
// vault relies on and every backend must share:
//
//   - DeleteSecret, TouchSecret and PruneSecretVersions of an unknown
//     secret give store.ErrNotFound.
//   - A secret deleted and created again gets a new id and starts at
//     version 1; version numbers of a secret are never reused after a prune.
//   - TouchSecret never moves LastUsedAt backwards.
//   - InitMasterKey and RotateMasterKey store their record as the active
//     one. RotateMasterKey on a vault with no master key gives
//     store.ErrNotFound; a version not above every existing one gives
//     store.ErrConflict.
//   - An envelope that is empty or names an unknown master key version is
//     refused, and so are an empty name, a negative version, keep < 1 and a
//     master key record without version, key id or check value.
//   - A context that is already canceled fails every method with an error
//     matching context.Canceled, without calling seal or rewrap.
//   - Names list in bytewise order (sort.Strings; COLLATE "C" in
//     PostgreSQL).
//   - Times round-trip to the microsecond (PostgreSQL's resolution); the
//     suite's clock only produces whole microseconds.
//
// Every envelope the suite stores contains a canary string, and every error
// a store returns is checked not to contain it.
package vaulttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/store"
	"github.com/wardenproject/warden/internal/vault"
)

// Canary is planted in every envelope the suite stores. No error returned
// by a store may contain it: errors must never carry envelope bytes.
const Canary = "CANARY-7f3a9c-envelope-bytes"

// errBoom is what failing seal and rewrap callbacks return.
var errBoom = errors.New("boom: callback failed")

// t0 is the suite's clock origin. It has whole microseconds, the finest
// resolution a PostgreSQL timestamp keeps.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// at returns t0 plus i minutes.
func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// TestStore runs the conformance suite. open must return a new, empty store
// on every call and arrange, with t.Cleanup, for it to be closed.
func TestStore(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, open func() vault.Store)
	}{
		{"InitMasterKey", testInitMasterKey},
		{"AddVersions", testAddVersions},
		{"LatestAndExplicitVersion", testSecretVersion},
		{"NotFound", testNotFound},
		{"SealFailure", testSealFailure},
		{"List", testList},
		{"Touch", testTouch},
		{"Delete", testDelete},
		{"Prune", testPrune},
		{"ConcurrentAdd", testConcurrentAdd},
		{"Rotate", testRotate},
		{"RotateFailure", testRotateFailure},
		{"CanceledContext", testCanceledContext},
		{"InvalidInput", testInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, func() vault.Store { return open(t) })
		})
	}
}

// masterRecord returns a master key record for version. Version 1 is
// passphrase-derived so that the KDF parameters make a round trip too.
func masterRecord(version int) vault.MasterKeyRecord {
	rec := vault.MasterKeyRecord{
		Version:   version,
		KeyID:     fmt.Sprintf("mk-%d-9b2e", version),
		Source:    "file",
		Check:     []byte(fmt.Sprintf("check-%d\x00\xff", version)),
		Active:    true,
		CreatedAt: at(-1000 + version),
	}
	if version == 1 {
		rec.Source = "passphrase"
		rec.KDF = secret.KDF{Salt: []byte("0123456789abcdef\x00\xfe"), Time: 3, MemoryKiB: 64 << 10, Threads: 4}
	}
	return rec
}

// newVault opens a store and initialises it with master key version 1.
func newVault(t *testing.T, open func() vault.Store) vault.Store {
	t.Helper()
	s := open()
	if err := s.InitMasterKey(t.Context(), masterRecord(1)); err != nil {
		t.Fatalf("InitMasterKey: %v", err)
	}
	return s
}

// envelope makes recognisable envelope bytes that record what they were
// sealed for, so the suite can tell that a store passed the right id and
// version to seal and stored the result under them.
func envelope(id string, version, master int, tag string) []byte {
	return fmt.Appendf(nil, "%s|%s|%d|%d|%s", Canary, id, version, master, tag)
}

// sealer returns a seal function that seals under master key version 1.
func sealer(tag string) func(string, int) (vault.Sealed, error) {
	return func(id string, version int) (vault.Sealed, error) {
		return vault.Sealed{Envelope: envelope(id, version, 1, tag), MasterVersion: 1}, nil
	}
}

// add stores a new version of name and checks the seal call and the result.
func add(t *testing.T, s vault.Store, name string, now time.Time) vault.SecretMeta {
	t.Helper()
	var calls int
	var gotID string
	var gotVersion int
	meta, err := s.AddSecretVersion(t.Context(), name, now, func(id string, version int) (vault.Sealed, error) {
		calls++
		gotID, gotVersion = id, version
		return sealer("v")(id, version)
	})
	if err != nil {
		t.Fatalf("AddSecretVersion(%q): %v", name, err)
	}
	if calls != 1 {
		t.Fatalf("AddSecretVersion(%q) called seal %d times, want 1", name, calls)
	}
	if gotID != meta.ID || gotVersion != meta.Version {
		t.Fatalf("AddSecretVersion(%q): seal got (%q, %d), meta says (%q, %d)", name, gotID, gotVersion, meta.ID, meta.Version)
	}
	if meta.ID == "" || meta.Name != name {
		t.Fatalf("AddSecretVersion(%q) = id %q name %q", name, meta.ID, meta.Name)
	}
	return meta
}

// checkErr fails unless err matches target (any non-nil error if target is
// nil). Either way the error must not carry envelope bytes.
func checkErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: got no error, want %v", what, describe(target))
		return
	case target != nil && !errors.Is(err, target):
		t.Errorf("%s: got %v, want an error matching %v", what, err, target)
	}
	if strings.Contains(err.Error(), Canary) {
		t.Errorf("%s: the error contains envelope bytes: %v", what, err)
	}
}

func describe(target error) any {
	if target == nil {
		return "an error"
	}
	return target
}

func sameMaster(t *testing.T, got, want vault.MasterKeyRecord) {
	t.Helper()
	if got.Version != want.Version || got.KeyID != want.KeyID || got.Source != want.Source || got.Active != want.Active ||
		!bytes.Equal(got.Check, want.Check) || !got.CreatedAt.Equal(want.CreatedAt) ||
		!bytes.Equal(got.KDF.Salt, want.KDF.Salt) || got.KDF.Time != want.KDF.Time ||
		got.KDF.MemoryKiB != want.KDF.MemoryKiB || got.KDF.Threads != want.KDF.Threads {
		t.Errorf("master key record:\n got %+v\nwant %+v", got, want)
	}
}

func sameMeta(t *testing.T, got, want vault.SecretMeta) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Version != want.Version || got.Versions != want.Versions ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) ||
		!got.LastUsedAt.Equal(want.LastUsedAt) || got.LastUsedAt.IsZero() != want.LastUsedAt.IsZero() {
		t.Errorf("secret meta:\n got %+v\nwant %+v", got, want)
	}
}

func sameVersion(t *testing.T, got, want vault.SecretVersion) {
	t.Helper()
	if got.SecretID != want.SecretID || got.Name != want.Name || got.Version != want.Version ||
		!bytes.Equal(got.Sealed.Envelope, want.Sealed.Envelope) || got.Sealed.MasterVersion != want.Sealed.MasterVersion ||
		!got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("secret version:\n got %+v\nwant %+v", got, want)
	}
}

// list returns ListSecrets or fails the test.
func list(t *testing.T, s vault.Store) []vault.SecretMeta {
	t.Helper()
	metas, err := s.ListSecrets(t.Context())
	if err != nil {
		t.Fatalf("ListSecrets: %v", err)
	}
	return metas
}

func masters(t *testing.T, s vault.Store) []vault.MasterKeyRecord {
	t.Helper()
	recs, err := s.MasterKeys(t.Context())
	if err != nil {
		t.Fatalf("MasterKeys: %v", err)
	}
	return recs
}

// state is everything a store holds, as its read methods report it.
type state struct {
	Masters  []vault.MasterKeyRecord
	Secrets  []vault.SecretMeta
	Versions []vault.SecretVersion
}

// snapshot reads the whole store, so that a test can check that a failed
// call changed nothing at all.
func snapshot(t *testing.T, s vault.Store) state {
	t.Helper()
	st := state{Masters: masters(t, s), Secrets: list(t, s)}
	for _, m := range st.Secrets {
		for v := 1; v <= m.Version; v++ {
			sv, err := s.SecretVersion(t.Context(), m.Name, v)
			if errors.Is(err, store.ErrNotFound) {
				continue // pruned
			}
			if err != nil {
				t.Fatalf("SecretVersion(%q, %d): %v", m.Name, v, err)
			}
			st.Versions = append(st.Versions, sv)
		}
	}
	return st
}

func unchanged(t *testing.T, s vault.Store, before state) {
	t.Helper()
	if after := snapshot(t, s); !reflect.DeepEqual(before, after) {
		t.Errorf("the store changed:\nbefore %+v\n after %+v", before, after)
	}
}

// populate stores a: 2 versions, b: 1, c: 3 (six in all) and reads a once.
func populate(t *testing.T, s vault.Store) {
	t.Helper()
	add(t, s, "a", at(1))
	add(t, s, "a", at(2))
	add(t, s, "b", at(3))
	for i := range 3 {
		add(t, s, "c", at(4+i))
	}
	a := list(t, s)[0]
	if err := s.TouchSecret(t.Context(), a.ID, at(10)); err != nil {
		t.Fatalf("TouchSecret: %v", err)
	}
}

func testInitMasterKey(t *testing.T, open func() vault.Store) {
	s := open()
	if got := masters(t, s); len(got) != 0 {
		t.Fatalf("MasterKeys of an empty store = %+v, want none", got)
	}
	rec := masterRecord(1)
	if err := s.InitMasterKey(t.Context(), rec); err != nil {
		t.Fatalf("InitMasterKey: %v", err)
	}
	got := masters(t, s)
	if len(got) != 1 {
		t.Fatalf("MasterKeys = %d records, want 1", len(got))
	}
	sameMaster(t, got[0], rec)

	for _, again := range []vault.MasterKeyRecord{masterRecord(1), masterRecord(2)} {
		err := s.InitMasterKey(t.Context(), again)
		checkErr(t, fmt.Sprintf("second InitMasterKey (version %d)", again.Version), err, store.ErrConflict)
	}
	got = masters(t, s)
	if len(got) != 1 {
		t.Fatalf("after refused inits MasterKeys = %d records, want 1", len(got))
	}
	sameMaster(t, got[0], rec)
}

func testAddVersions(t *testing.T, open func() vault.Store) {
	s := newVault(t, open)
	// Times in another zone must come back as the same instant.
	zone := time.FixedZone("UTC+5", 5*60*60)
	var first vault.SecretMeta
	for i := 1; i <= 3; i++ {
		meta := add(t, s, "openai-prod", at(i).In(zone))
		if i == 1 {
			first = meta
		}
		sameMeta(t, meta, vault.SecretMeta{
			ID: first.ID, Name: "openai-prod", Version: i, Versions: i,
			CreatedAt: at(1), UpdatedAt: at(i),
		})
	}
	other := add(t, s, "anthropic-prod", at(9))
	if other.ID == first.ID {
		t.Errorf("two secrets share the id %q", other.ID)
	}
	sameMeta(t, other, vault.SecretMeta{ID: other.ID, Name: "anthropic-prod", Version: 1, Versions: 1, CreatedAt: at(9), UpdatedAt: at(9)})
}

func testSecretVersion(t *testing.T, open func() vault.Store) {
	s := newVault(t, open)
	var meta vault.SecretMeta
	for i := 1; i <= 3; i++ {
		meta = add(t, s, "hf-token", at(i))
	}
	want := func(version int) vault.SecretVersion {
		return vault.SecretVersion{
			SecretID: meta.ID, Name: "hf-token", Version: version,
			Sealed:    vault.Sealed{Envelope: envelope(meta.ID, version, 1, "v"), MasterVersion: 1},
			CreatedAt: at(version),
		}
	}
	tests := []struct {
		name    string
		version int
		want    vault.SecretVersion
	}{
		{"latest", 0, want(3)},
		{"first", 1, want(1)},
		{"middle", 2, want(2)},
		{"newest by number", 3, want(3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.SecretVersion(t.Context(), "hf-token", tc.version)
			if err != nil {
				t.Fatalf("SecretVersion(%d): %v", tc.version, err)
			}
			sameVersion(t, got, tc.want)
		})
	}
}

func testNotFound(t *testing.T, open func() vault.Store) {
	s := newVault(t, open)
	meta := add(t, s, "known", at(1))
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"latest of unknown name", func(ctx context.Context) error {
			_, err := s.SecretVersion(ctx, "unknown", 0)
			return err
		}},
		{"version of unknown name", func(ctx context.Context) error {
			_, err := s.SecretVersion(ctx, "unknown", 1)
			return err
		}},
		{"unknown version of known name", func(ctx context.Context) error {
			_, err := s.SecretVersion(ctx, "known", 2)
			return err
		}},
		{"name differing in case", func(ctx context.Context) error {
			_, err := s.SecretVersion(ctx, "KNOWN", 0)
			return err
		}},
		{"delete unknown", func(ctx context.Context) error { return s.DeleteSecret(ctx, "unknown") }},
		{"touch unknown id", func(ctx context.Context) error { return s.TouchSecret(ctx, "no-such-id", at(2)) }},
		{"touch by name instead of id", func(ctx context.Context) error { return s.TouchSecret(ctx, "known", at(2)) }},
		{"prune unknown", func(ctx context.Context) error {
			_, err := s.PruneSecretVersions(ctx, "unknown", 1)
			return err
		}},
	}
	before := snapshot(t, s)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, tc.name, tc.call(t.Context()), store.ErrNotFound)
		})
	}
	unchanged(t, s, before)
	if got := list(t, s); len(got) != 1 || got[0].ID != meta.ID {
		t.Errorf("ListSecrets = %+v, want only %q", got, "known")
	}
}

func testSealFailure(t *testing.T, open func() vault.Store) {
	tests := []struct {
		name   string
		secret string // "existing" has one version already
		seal   func(cancel context.CancelFunc) func(string, int) (vault.Sealed, error)
		want   error
	}{
		{"error for a new secret", "new", func(context.CancelFunc) func(string, int) (vault.Sealed, error) {
			return func(string, int) (vault.Sealed, error) { return vault.Sealed{}, errBoom }
		}, errBoom},
		{"error for an existing secret", "existing", func(context.CancelFunc) func(string, int) (vault.Sealed, error) {
			return func(string, int) (vault.Sealed, error) { return vault.Sealed{}, errBoom }
		}, errBoom},
		{"empty envelope", "existing", func(context.CancelFunc) func(string, int) (vault.Sealed, error) {
			return func(string, int) (vault.Sealed, error) { return vault.Sealed{MasterVersion: 1}, nil }
		}, nil},
		{"unknown master key version", "new", func(context.CancelFunc) func(string, int) (vault.Sealed, error) {
			return func(id string, v int) (vault.Sealed, error) {
				return vault.Sealed{Envelope: envelope(id, v, 7, "x"), MasterVersion: 7}, nil
			}
		}, nil},
		{"context canceled while sealing", "existing", func(cancel context.CancelFunc) func(string, int) (vault.Sealed, error) {
			return func(id string, v int) (vault.Sealed, error) {
				cancel()
				return sealer("late")(id, v)
			}
		}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newVault(t, open)
			add(t, s, "existing", at(1))
			before := snapshot(t, s)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			meta, err := s.AddSecretVersion(ctx, tc.secret, at(2), tc.seal(cancel))
			checkErr(t, "AddSecretVersion", err, tc.want)
			if meta != (vault.SecretMeta{}) {
				t.Errorf("a failed AddSecretVersion returned meta %+v, want the zero value", meta)
			}
			unchanged(t, s, before)
		})
	}
}

func testList(t *testing.T, open func() vault.Store) {
	s := newVault(t, open)
	if got := list(t, s); len(got) != 0 {
		t.Fatalf("ListSecrets of an empty vault = %+v", got)
	}
	// Mixed case and punctuation: the order must be bytewise.
	names := []string{"zeta", "Alpha", "alpha", "beta.2", "beta-1", "beta_3", "Zulu"}
	want := map[string]vault.SecretMeta{}
	for i, name := range names {
		var m vault.SecretMeta
		for v := 0; v <= i%3; v++ { // 1 to 3 versions
			m = add(t, s, name, at(10*i+v))
		}
		want[name] = vault.SecretMeta{ID: m.ID, Name: name, Version: i%3 + 1, Versions: i%3 + 1, CreatedAt: at(10 * i), UpdatedAt: at(10*i + i%3)}
	}
	got := list(t, s)
	sorted := slices.Clone(names)
	sort.Strings(sorted)
	var gotNames []string
	for _, m := range got {
		gotNames = append(gotNames, m.Name)
		sameMeta(t, m, want[m.Name])
	}
	if !slices.Equal(gotNames, sorted) {
		t.Errorf("ListSecrets order = %q, want %q", gotNames, sorted)
	}
}

func testTouch(t *testing.T, open func() vault.Store) {
	s := newVault(t, open)
	meta := add(t, s, "k", at(1))
	add(t, s, "other", at(1))
	steps := []struct {
		touch time.Time
		want  time.Time
	}{
		{at(5), at(5)},
		{at(3), at(5)}, // an older read finishing late does not move it back
		{at(7), at(7)},
	}
	for _, step := range steps {
		if err := s.TouchSecret(t.Context(), meta.ID, step.touch); err != nil {
			t.Fatalf("TouchSecret: %v", err)
		}
		got := list(t, s)
		sameMeta(t, got[0], vault.SecretMeta{ID: meta.ID, Name: "k", Version: 1, Versions: 1, CreatedAt: at(1), UpdatedAt: at(1), LastUsedAt: step.want})
		if !got[1].LastUsedAt.IsZero() {
			t.Errorf("touching k changed other's LastUsedAt to %v", got[1].LastUsedAt)
		}
	}
	// A new version keeps the record of use.
	next := add(t, s, "k", at(8))
	sameMeta(t, next, vault.SecretMeta{ID: meta.ID, Name: "k", Version: 2, Versions: 2, CreatedAt: at(1), UpdatedAt: at(8), LastUsedAt: at(7)})
}

func testDelete(t *testing.T, open func() vault.Store) {
	s := newVault(t, open)
	old := add(t, s, "a", at(1))
	add(t, s, "a", at(2))
	b := add(t, s, "b", at(3))
	bBefore, err := s.SecretVersion(t.Context(), "b", 0)
	if err != nil {
		t.Fatalf("SecretVersion(b): %v", err)
	}

	if err := s.DeleteSecret(t.Context(), "a"); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	for _, v := range []int{0, 1, 2} {
		_, err := s.SecretVersion(t.Context(), "a", v)
		checkErr(t, fmt.Sprintf("SecretVersion(a, %d) after delete", v), err, store.ErrNotFound)
	}
	checkErr(t, "second DeleteSecret", s.DeleteSecret(t.Context(), "a"), store.ErrNotFound)
	checkErr(t, "TouchSecret of the deleted id", s.TouchSecret(t.Context(), old.ID, at(4)), store.ErrNotFound)
	got := list(t, s)
	if len(got) != 1 {
		t.Fatalf("ListSecrets after delete = %+v, want only b", got)
	}
	sameMeta(t, got[0], b)
	bAfter, err := s.SecretVersion(t.Context(), "b", 0)
	if err != nil {
		t.Fatalf("SecretVersion(b) after deleting a: %v", err)
	}
	sameVersion(t, bAfter, bBefore)

	// The name is free again; the secret is a new one.
	again := add(t, s, "a", at(5))
	if again.ID == old.ID {
		t.Errorf("a secret created after a delete reused the old id %q", old.ID)
	}
	sameMeta(t, again, vault.SecretMeta{ID: again.ID, Name: "a", Version: 1, Versions: 1, CreatedAt: at(5), UpdatedAt: at(5)})
}

func testPrune(t *testing.T, open func() vault.Store) {
	s := newVault(t, open)
	var meta vault.SecretMeta
	for i := 1; i <= 5; i++ {
		meta = add(t, s, "p", at(i))
	}
	add(t, s, "q", at(1))
	add(t, s, "q", at(2))

	steps := []struct {
		keep, deleted int
	}{
		{10, 0}, // more than there are
		{2, 3},
		{2, 0}, // again: nothing left to delete
		{5, 0},
	}
	for _, step := range steps {
		n, err := s.PruneSecretVersions(t.Context(), "p", step.keep)
		if err != nil {
			t.Fatalf("PruneSecretVersions(keep %d): %v", step.keep, err)
		}
		if n != step.deleted {
			t.Errorf("PruneSecretVersions(keep %d) deleted %d, want %d", step.keep, n, step.deleted)
		}
	}
	for v := 1; v <= 5; v++ {
		_, err := s.SecretVersion(t.Context(), "p", v)
		if v <= 3 {
			checkErr(t, fmt.Sprintf("SecretVersion(p, %d) after prune", v), err, store.ErrNotFound)
		} else if err != nil {
			t.Errorf("SecretVersion(p, %d) after prune: %v", v, err)
		}
	}
	got := list(t, s)
	sameMeta(t, got[0], vault.SecretMeta{ID: meta.ID, Name: "p", Version: 5, Versions: 2, CreatedAt: at(1), UpdatedAt: at(5)})
	if got[1].Versions != 2 {
		t.Errorf("pruning p changed q: %+v", got[1])
	}
	// Version numbers are never reused.
	next := add(t, s, "p", at(6))
	sameMeta(t, next, vault.SecretMeta{ID: meta.ID, Name: "p", Version: 6, Versions: 3, CreatedAt: at(1), UpdatedAt: at(6)})
}

func testConcurrentAdd(t *testing.T, open func() vault.Store) {
	s := newVault(t, open)
	const workers, each = 8, 5
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		metas   []vault.SecretMeta
		started = make(chan struct{})
	)
	for w := range workers {
		wg.Go(func() {
			<-started
			for i := range each {
				// The secret does not exist yet: the first adds also race
				// to create it.
				meta, err := s.AddSecretVersion(t.Context(), "shared", at(w*each+i), func(id string, version int) (vault.Sealed, error) {
					return vault.Sealed{Envelope: envelope(id, version, 1, "concurrent"), MasterVersion: 1}, nil
				})
				if err != nil {
					t.Errorf("worker %d: AddSecretVersion: %v", w, err)
					return
				}
				mu.Lock()
				metas = append(metas, meta)
				mu.Unlock()
			}
		})
	}
	close(started)
	wg.Wait()
	if t.Failed() {
		return
	}

	const total = workers * each
	seen := map[int]bool{}
	for _, m := range metas {
		if m.ID != metas[0].ID {
			t.Errorf("concurrent adds made two secrets: ids %q and %q", metas[0].ID, m.ID)
		}
		if seen[m.Version] {
			t.Errorf("version %d was handed out twice", m.Version)
		}
		seen[m.Version] = true
	}
	for v := 1; v <= total; v++ {
		if !seen[v] {
			t.Errorf("version %d is missing", v)
		}
		sv, err := s.SecretVersion(t.Context(), "shared", v)
		if err != nil {
			t.Errorf("SecretVersion(%d): %v", v, err)
			continue
		}
		if want := envelope(metas[0].ID, v, 1, "concurrent"); !bytes.Equal(sv.Sealed.Envelope, want) {
			t.Errorf("version %d holds an envelope sealed for another version: %q", v, sv.Sealed.Envelope)
		}
	}
	got := list(t, s)
	if len(got) != 1 || got[0].Version != total || got[0].Versions != total {
		t.Errorf("ListSecrets = %+v, want one secret with %d versions", got, total)
	}
}

// rewrapTo returns a rewrap function that reseals every version under
// master key version master and records what it was asked to rewrap.
func rewrapTo(master int, seen *[]vault.SecretVersion) func(vault.SecretVersion) (vault.Sealed, error) {
	return func(sv vault.SecretVersion) (vault.Sealed, error) {
		*seen = append(*seen, sv)
		return vault.Sealed{Envelope: envelope(sv.SecretID, sv.Version, master, "rewrapped"), MasterVersion: master}, nil
	}
}

func testRotate(t *testing.T, open func() vault.Store) {
	t.Run("with secrets", func(t *testing.T) {
		s := newVault(t, open)
		populate(t, s)
		before := snapshot(t, s)

		next := masterRecord(2)
		next.Active = false // the store makes it the active one
		var seen []vault.SecretVersion
		n, err := s.RotateMasterKey(t.Context(), next, rewrapTo(2, &seen))
		if err != nil {
			t.Fatalf("RotateMasterKey: %v", err)
		}
		if n != len(before.Versions) {
			t.Errorf("RotateMasterKey rewrapped %d versions, want %d", n, len(before.Versions))
		}
		// rewrap saw every stored version exactly once, as stored.
		if len(seen) != len(before.Versions) {
			t.Fatalf("rewrap called %d times, want %d", len(seen), len(before.Versions))
		}
		key := func(sv vault.SecretVersion) string { return fmt.Sprintf("%s/%d", sv.Name, sv.Version) }
		byKey := map[string]vault.SecretVersion{}
		for _, sv := range seen {
			if _, dup := byKey[key(sv)]; dup {
				t.Errorf("rewrap called twice for %s", key(sv))
			}
			byKey[key(sv)] = sv
		}
		for _, old := range before.Versions {
			sameVersion(t, byKey[key(old)], old)
		}

		after := snapshot(t, s)
		retired := masterRecord(1)
		retired.Active = false
		next.Active = true
		if len(after.Masters) != 2 {
			t.Fatalf("MasterKeys after rotation = %+v, want 2 records", after.Masters)
		}
		sameMaster(t, after.Masters[0], retired)
		sameMaster(t, after.Masters[1], next)
		if len(after.Versions) != len(before.Versions) {
			t.Fatalf("rotation changed the number of versions from %d to %d", len(before.Versions), len(after.Versions))
		}
		for i, old := range before.Versions {
			want := old
			want.Sealed = vault.Sealed{Envelope: envelope(old.SecretID, old.Version, 2, "rewrapped"), MasterVersion: 2}
			sameVersion(t, after.Versions[i], want)
		}
		if !reflect.DeepEqual(after.Secrets, before.Secrets) {
			t.Errorf("rotation changed secret metadata:\nbefore %+v\n after %+v", before.Secrets, after.Secrets)
		}

		// And once more: only the newest record stays active.
		seen = nil
		if _, err := s.RotateMasterKey(t.Context(), masterRecord(3), rewrapTo(3, &seen)); err != nil {
			t.Fatalf("second RotateMasterKey: %v", err)
		}
		var active []int
		for _, m := range masters(t, s) {
			if m.Active {
				active = append(active, m.Version)
			}
		}
		if !slices.Equal(active, []int{3}) {
			t.Errorf("active master key versions = %v, want [3]", active)
		}
	})

	t.Run("without secrets", func(t *testing.T) {
		s := newVault(t, open)
		var seen []vault.SecretVersion
		n, err := s.RotateMasterKey(t.Context(), masterRecord(2), rewrapTo(2, &seen))
		if err != nil || n != 0 || len(seen) != 0 {
			t.Fatalf("RotateMasterKey of an empty vault = %d, %v (rewrap called %d times), want 0, nil, 0", n, err, len(seen))
		}
		recs := masters(t, s)
		if len(recs) != 2 || recs[0].Active || !recs[1].Active {
			t.Errorf("MasterKeys after rotation = %+v, want version 1 retired and 2 active", recs)
		}
	})

	t.Run("before init", func(t *testing.T) {
		s := open()
		var seen []vault.SecretVersion
		_, err := s.RotateMasterKey(t.Context(), masterRecord(2), rewrapTo(2, &seen))
		checkErr(t, "RotateMasterKey of an uninitialised vault", err, store.ErrNotFound)
		if recs := masters(t, s); len(recs) != 0 {
			t.Errorf("MasterKeys after a refused rotation = %+v, want none", recs)
		}
	})
}

func testRotateFailure(t *testing.T, open func() vault.Store) {
	// failOn returns a rewrap that behaves like rewrapTo(2) except on call
	// n, where it does what fail says.
	failOn := func(n int, fail func(cancel context.CancelFunc, sv vault.SecretVersion) (vault.Sealed, error)) func(context.CancelFunc) func(vault.SecretVersion) (vault.Sealed, error) {
		return func(cancel context.CancelFunc) func(vault.SecretVersion) (vault.Sealed, error) {
			var calls int
			var seen []vault.SecretVersion
			ok := rewrapTo(2, &seen)
			return func(sv vault.SecretVersion) (vault.Sealed, error) {
				calls++
				if calls == n {
					return fail(cancel, sv)
				}
				return ok(sv)
			}
		}
	}
	tests := []struct {
		name    string
		version int // of the new master key
		rewrap  func(cancel context.CancelFunc) func(vault.SecretVersion) (vault.Sealed, error)
		want    error
	}{
		{"rewrap fails on the third call", 2, failOn(3, func(context.CancelFunc, vault.SecretVersion) (vault.Sealed, error) {
			return vault.Sealed{}, errBoom
		}), errBoom},
		{"rewrap fails on the last call", 2, failOn(6, func(context.CancelFunc, vault.SecretVersion) (vault.Sealed, error) {
			return vault.Sealed{}, errBoom
		}), errBoom},
		{"context canceled during the second call", 2, failOn(2, func(cancel context.CancelFunc, sv vault.SecretVersion) (vault.Sealed, error) {
			cancel()
			return vault.Sealed{Envelope: envelope(sv.SecretID, sv.Version, 2, "late"), MasterVersion: 2}, nil
		}), context.Canceled},
		{"empty envelope on the third call", 2, failOn(3, func(context.CancelFunc, vault.SecretVersion) (vault.Sealed, error) {
			return vault.Sealed{MasterVersion: 2}, nil
		}), nil},
		{"envelope names an unknown master key", 2, failOn(1, func(_ context.CancelFunc, sv vault.SecretVersion) (vault.Sealed, error) {
			return vault.Sealed{Envelope: envelope(sv.SecretID, sv.Version, 9, "x"), MasterVersion: 9}, nil
		}), nil},
		{"new version is not newer", 1, failOn(0, nil), store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newVault(t, open)
			populate(t, s)
			before := snapshot(t, s)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			n, err := s.RotateMasterKey(ctx, masterRecord(tc.version), tc.rewrap(cancel))
			checkErr(t, "RotateMasterKey", err, tc.want)
			if n != 0 {
				t.Errorf("a failed RotateMasterKey reported %d versions rewrapped, want 0", n)
			}
			unchanged(t, s, before)
		})
	}
}

func testCanceledContext(t *testing.T, open func() vault.Store) {
	s := newVault(t, open)
	populate(t, s)
	id := list(t, s)[0].ID
	before := snapshot(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	called := false
	seal := func(id string, v int) (vault.Sealed, error) {
		called = true
		return sealer("canceled")(id, v)
	}
	rewrap := func(sv vault.SecretVersion) (vault.Sealed, error) {
		called = true
		return vault.Sealed{Envelope: envelope(sv.SecretID, sv.Version, 2, "canceled"), MasterVersion: 2}, nil
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"MasterKeys", func() error { _, err := s.MasterKeys(ctx); return err }},
		{"InitMasterKey", func() error { return s.InitMasterKey(ctx, masterRecord(2)) }},
		{"AddSecretVersion new", func() error { _, err := s.AddSecretVersion(ctx, "new", at(20), seal); return err }},
		{"AddSecretVersion existing", func() error { _, err := s.AddSecretVersion(ctx, "a", at(20), seal); return err }},
		{"SecretVersion", func() error { _, err := s.SecretVersion(ctx, "a", 0); return err }},
		{"ListSecrets", func() error { _, err := s.ListSecrets(ctx); return err }},
		{"DeleteSecret", func() error { return s.DeleteSecret(ctx, "a") }},
		{"TouchSecret", func() error { return s.TouchSecret(ctx, id, at(20)) }},
		{"PruneSecretVersions", func() error { _, err := s.PruneSecretVersions(ctx, "c", 1); return err }},
		{"RotateMasterKey", func() error { _, err := s.RotateMasterKey(ctx, masterRecord(2), rewrap); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			called = false
			checkErr(t, tc.name, tc.call(), context.Canceled)
			if called {
				t.Errorf("%s called its callback under a canceled context", tc.name)
			}
		})
	}
	unchanged(t, s, before)
}

func testInvalidInput(t *testing.T, open func() vault.Store) {
	t.Run("master key records", func(t *testing.T) {
		s := open()
		bad := []struct {
			name string
			edit func(*vault.MasterKeyRecord)
		}{
			{"version 0", func(r *vault.MasterKeyRecord) { r.Version = 0 }},
			{"negative version", func(r *vault.MasterKeyRecord) { r.Version = -1 }},
			{"no key id", func(r *vault.MasterKeyRecord) { r.KeyID = "" }},
			{"no check value", func(r *vault.MasterKeyRecord) { r.Check = nil }},
		}
		for _, tc := range bad {
			rec := masterRecord(1)
			tc.edit(&rec)
			checkErr(t, "InitMasterKey with "+tc.name, s.InitMasterKey(t.Context(), rec), nil)
		}
		if recs := masters(t, s); len(recs) != 0 {
			t.Fatalf("refused InitMasterKey calls stored %+v", recs)
		}
		if err := s.InitMasterKey(t.Context(), masterRecord(1)); err != nil {
			t.Fatalf("InitMasterKey: %v", err)
		}
		before := snapshot(t, s)
		for _, tc := range bad {
			rec := masterRecord(2)
			tc.edit(&rec)
			var seen []vault.SecretVersion
			_, err := s.RotateMasterKey(t.Context(), rec, rewrapTo(2, &seen))
			checkErr(t, "RotateMasterKey with "+tc.name, err, nil)
		}
		unchanged(t, s, before)
	})

	t.Run("secrets", func(t *testing.T) {
		s := newVault(t, open)
		populate(t, s)
		before := snapshot(t, s)
		tests := []struct {
			name string
			call func(ctx context.Context) error
		}{
			{"empty name", func(ctx context.Context) error {
				_, err := s.AddSecretVersion(ctx, "", at(20), sealer("x"))
				return err
			}},
			{"negative version", func(ctx context.Context) error {
				_, err := s.SecretVersion(ctx, "a", -1)
				return err
			}},
			{"keep 0", func(ctx context.Context) error {
				_, err := s.PruneSecretVersions(ctx, "c", 0)
				return err
			}},
			{"keep -1", func(ctx context.Context) error {
				_, err := s.PruneSecretVersions(ctx, "c", -1)
				return err
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				checkErr(t, tc.name, tc.call(t.Context()), nil)
			})
		}
		unchanged(t, s, before)
	})
}
