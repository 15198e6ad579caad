package keys_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keystest"
	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/store/sqlite"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects log output for leak checks.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var testPepper = secret.New(bytes.Repeat([]byte("pepper-7"), 4))

type fixture struct {
	t     *testing.T
	store *keystest.Memory
	clock *clock
	logs  *logBuffer
	m     *keys.Manager
}

const pollEvery = 250 * time.Millisecond

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, store: keystest.NewMemory(), clock: newClock(), logs: &logBuffer{}}
	f.m = f.manager()
	return f
}

// manager returns another Manager on the fixture's store and clock, as
// another process (the CLI, another replica) would have.
func (f *fixture) manager(edit ...func(*keys.Options)) *keys.Manager {
	f.t.Helper()
	o := keys.Options{
		Store: f.store, Pepper: testPepper, Now: f.clock.Now, PollInterval: pollEvery,
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, e := range edit {
		e(&o)
	}
	m, err := keys.NewManager(o)
	if err != nil {
		f.t.Fatalf("NewManager: %v", err)
	}
	return m
}

func (f *fixture) create(spec keys.Spec) (keys.Key, string) {
	f.t.Helper()
	k, sec, err := f.m.Create(f.t.Context(), spec)
	if err != nil {
		f.t.Fatalf("Create: %v", err)
	}
	return k, sec.RevealString()
}

func (f *fixture) poll(m *keys.Manager) {
	f.t.Helper()
	if err := m.Poll(f.t.Context()); err != nil {
		f.t.Fatalf("Poll: %v", err)
	}
}

// mustAuth authenticates with m and fails unless it gives the key with id.
func (f *fixture) mustAuth(m *keys.Manager, key, id string) keys.Key {
	f.t.Helper()
	k, err := m.Authenticate(f.t.Context(), key)
	if err != nil {
		f.t.Fatalf("Authenticate: %v", err)
	}
	if k.ID != id {
		f.t.Fatalf("Authenticate gave key %s, want %s", k.ID, id)
	}
	return k
}

// refused authenticates with m and fails unless the error is exactly want.
func (f *fixture) refused(m *keys.Manager, key string, want error) keys.Key {
	f.t.Helper()
	k, err := m.Authenticate(f.t.Context(), key)
	if !errors.Is(err, want) {
		f.t.Fatalf("Authenticate = %v, want %v", err, want)
	}
	return k
}

// noLeak fails if any of secrets appears in the logs.
func (f *fixture) noLeak(secrets ...string) {
	f.t.Helper()
	logs := f.logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			f.t.Fatalf("a key appears in the logs:\n%s", logs)
		}
	}
}

func TestCreateAndAuthenticate(t *testing.T) {
	f := newFixture(t)
	k, key := f.create(keys.Spec{Name: "evals", Models: []string{"gpt-4o*", "claude-3-5-sonnet"}, TTL: time.Hour})
	if !keys.Valid(key) || !strings.HasPrefix(key, keys.Prefix) {
		t.Fatal("Create returned a malformed key")
	}
	if !keys.ValidID(k.ID) || k.Hint != keys.Prefix+"…"+key[len(key)-4:] || k.State != keys.Active {
		t.Fatalf("Create returned %+v", k)
	}
	if want := f.clock.Now().Add(time.Hour); !k.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", k.ExpiresAt, want)
	}
	got := f.mustAuth(f.m, key, k.ID)
	for model, want := range map[string]bool{"gpt-4o": true, "gpt-4o-mini": true, "claude-3-5-sonnet": true, "claude-3-opus": false, "": false} {
		if got.AllowsModel(model) != want {
			t.Errorf("AllowsModel(%q) = %v, want %v", model, !want, want)
		}
	}
	stored, err := f.store.KeyByID(t.Context(), k.ID)
	if err != nil || stored.Name != "evals" {
		t.Fatalf("stored key = %+v, %v", stored, err)
	}
	f.noLeak(key)
}

func TestAllowsModel(t *testing.T) {
	for _, tc := range []struct {
		models []string
		model  string
		want   bool
	}{
		{nil, "anything/at-all", true},
		{[]string{"gpt-4o"}, "gpt-4o", true},
		{[]string{"gpt-4o"}, "gpt-4o-mini", false},
		{[]string{"*"}, "gpt-4o", true},
		{[]string{"*"}, "meta-llama/Llama-3-8B", false},
		{[]string{"meta-llama/*"}, "meta-llama/Llama-3-8B", true},
		{[]string{"gpt-4o-202[45]-*"}, "gpt-4o-2024-08-06", true},
		{[]string{"["}, "[", false},
	} {
		if got := (keys.Key{Models: tc.models}).AllowsModel(tc.model); got != tc.want {
			t.Errorf("Models %q AllowsModel(%q) = %v, want %v", tc.models, tc.model, got, tc.want)
		}
	}
}

func TestCreateValidatesSpec(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		spec keys.Spec
		msg  string
	}{
		{"no name", keys.Spec{}, "needs a name"},
		{"control character", keys.Spec{Name: "a\nb"}, "control"},
		{"long name", keys.Spec{Name: strings.Repeat("n", 129)}, "at most 128"},
		{"bad pattern", keys.Spec{Name: "n", Models: []string{"gpt-[4"}}, "path.Match"},
		{"empty pattern", keys.Spec{Name: "n", Models: []string{"gpt-4o", ""}}, "model patterns"},
		{"ttl and expiry", keys.Spec{Name: "n", TTL: time.Hour, ExpiresAt: f.clock.Now().Add(2 * time.Hour)}, "not both"},
		{"negative ttl", keys.Spec{Name: "n", TTL: -time.Second}, "negative"},
		{"past expiry", keys.Spec{Name: "n", ExpiresAt: f.clock.Now().Add(-time.Second)}, "already passed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, sec, err := f.m.Create(t.Context(), tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Create = %v, want an error containing %q", err, tc.msg)
			}
			if !sec.IsZero() {
				t.Fatal("a refused Create returned a key")
			}
		})
	}
	if ks, _ := f.m.List(t.Context()); len(ks) != 0 {
		t.Fatalf("refused creates stored %d keys", len(ks))
	}
}

func TestNewManagerValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    keys.Options
	}{
		{"no store", keys.Options{Pepper: testPepper}},
		{"no pepper", keys.Options{Store: keystest.NewMemory()}},
		{"short pepper", keys.Options{Store: keystest.NewMemory(), Pepper: secret.FromString("too short")}},
		{"negative poll", keys.Options{Store: keystest.NewMemory(), Pepper: testPepper, PollInterval: -1}},
	} {
		if _, err := keys.NewManager(tc.o); err == nil {
			t.Errorf("%s: NewManager succeeded", tc.name)
		}
	}
}

// TestRefusalsLookAlike checks that every kind of unusable key gets the
// same error, no key record, and the same work: one store lookup each.
func TestRefusalsLookAlike(t *testing.T) {
	f := newFixture(t)
	_, key := f.create(keys.Spec{Name: "live"})
	rk, revoked := f.create(keys.Spec{Name: "revoked"})
	if err := f.m.Revoke(t.Context(), rk.ID); err != nil {
		t.Fatal(err)
	}
	unknown, err := keys.Generate(strings.NewReader(strings.Repeat("q", 200)))
	if err != nil {
		t.Fatal(err)
	}
	last := "A"
	if strings.HasSuffix(key, "A") {
		last = "B"
	}
	badSum := key[:len(key)-1] + last
	cases := map[string]string{
		"unknown":        unknown.RevealString(),
		"revoked":        revoked,
		"bad checksum":   badSum,
		"malformed":      "wdn_not-a-key",
		"provider key":   "sk-proj-" + strings.Repeat("Z", 40),
		"empty":          "",
		"key and suffix": key + " ",
		"oversized":      keys.Prefix + strings.Repeat(key, 2000),
	}
	var msg string
	for name, presented := range cases {
		before := f.store.Lookups()
		k, err := f.m.Authenticate(t.Context(), presented)
		// The very same error value, not merely one that wraps it.
		if err != keys.ErrInvalid {
			t.Errorf("%s: Authenticate = %v, want exactly keys.ErrInvalid", name, err)
			continue
		}
		if msg == "" {
			msg = err.Error()
		} else if err.Error() != msg {
			t.Errorf("%s: message %q differs from %q", name, err.Error(), msg)
		}
		if k.ID != "" {
			t.Errorf("%s: Authenticate returned key %s with the error", name, k.ID)
		}
		if n := f.store.Lookups() - before; n != 1 {
			t.Errorf("%s: %d store lookups, want 1 like every other case", name, n)
		}
		if strings.Contains(err.Error(), presented) && presented != "" {
			t.Errorf("%s: the error contains the presented key", name)
		}
	}
	f.noLeak(key, revoked, unknown.RevealString(), badSum)
}

func TestPepperKeysTheHash(t *testing.T) {
	f := newFixture(t)
	k, key := f.create(keys.Spec{Name: "a"})
	f.mustAuth(f.m, key, k.ID)
	other := f.manager(func(o *keys.Options) { o.Pepper = secret.New(bytes.Repeat([]byte{9}, 32)) })
	f.refused(other, key, keys.ErrInvalid)
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	k, key := f.create(keys.Spec{Name: "short", TTL: time.Hour})
	f.clock.Add(time.Hour - time.Nanosecond)
	f.mustAuth(f.m, key, k.ID)
	f.clock.Add(time.Nanosecond)
	got := f.refused(f.m, key, keys.ErrExpired)
	if got.ID != k.ID {
		t.Fatalf("an expired key's error came with key %q, want %s", got.ID, k.ID)
	}

	at := f.clock.Now().Add(48 * time.Hour)
	k2, key2 := f.create(keys.Spec{Name: "dated", ExpiresAt: at})
	f.clock.Add(48 * time.Hour)
	f.refused(f.m, key2, keys.ErrExpired)
	if !k2.ExpiresAt.Equal(at) {
		t.Fatalf("ExpiresAt = %v, want %v", k2.ExpiresAt, at)
	}
}

func TestSuspendResumeRevoke(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	k, key := f.create(keys.Spec{Name: "a"})
	if err := f.m.Suspend(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.refused(f.m, key, keys.ErrSuspended); got.ID != k.ID {
		t.Fatalf("a suspended key's error came with key %q", got.ID)
	}
	if err := f.m.Resume(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	f.mustAuth(f.m, key, k.ID)
	if err := f.m.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	f.refused(f.m, key, keys.ErrInvalid)
	if err := f.m.Revoke(ctx, k.ID); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	for name, op := range map[string]func() error{
		"resume":  func() error { return f.m.Resume(ctx, k.ID) },
		"suspend": func() error { return f.m.Suspend(ctx, k.ID) },
		"rotate":  func() error { _, _, err := f.m.Rotate(ctx, k.ID, 0); return err },
	} {
		if err := op(); !errors.Is(err, keys.ErrRevoked) {
			t.Errorf("%s of a revoked key = %v, want keys.ErrRevoked", name, err)
		}
	}
	f.refused(f.m, key, keys.ErrInvalid)

	// Unknown and malformed ids; the latter never echoed.
	if err := f.m.Revoke(ctx, "key_0000000000000000"); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Revoke(unknown id) = %v, want keys.ErrNotFound", err)
	}
	if err := f.m.Revoke(ctx, key); err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("Revoke(a key instead of its id) = %v; want an error that does not echo it", err)
	}
	f.noLeak(key)
}

func TestRotateWithGrace(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	k, old := f.create(keys.Spec{Name: "svc", Models: []string{"gpt-4o"}})
	f.clock.Add(time.Minute)
	rk, fresh, err := f.m.Rotate(ctx, k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	neu := fresh.RevealString()
	if neu == old || !keys.Valid(neu) {
		t.Fatal("Rotate returned the old key or a malformed one")
	}
	if rk.ID != k.ID || rk.Hint != keys.Prefix+"…"+neu[len(neu)-4:] || !rk.PreviousValidUntil.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("Rotate returned %+v", rk)
	}
	if got := f.mustAuth(f.m, old, k.ID); got.Models[0] != "gpt-4o" {
		t.Fatalf("the old secret authenticated as %+v", got)
	}
	f.mustAuth(f.m, neu, k.ID)
	f.clock.Add(time.Hour - time.Nanosecond)
	f.mustAuth(f.m, old, k.ID)
	f.clock.Add(time.Nanosecond)
	f.refused(f.m, old, keys.ErrInvalid)
	f.mustAuth(f.m, neu, k.ID)

	// Without grace the old secret stops at once; a rotation during a
	// grace period ends the earlier secret's.
	_, third, err := f.m.Rotate(ctx, k.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.refused(f.m, neu, keys.ErrInvalid)
	_, fourth, err := f.m.Rotate(ctx, k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.mustAuth(f.m, third.RevealString(), k.ID)
	_, fifth, err := f.m.Rotate(ctx, k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.refused(f.m, third.RevealString(), keys.ErrInvalid)
	f.mustAuth(f.m, fourth.RevealString(), k.ID)
	f.mustAuth(f.m, fifth.RevealString(), k.ID)

	// Revoking ends the grace period too.
	if err := f.m.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	f.refused(f.m, fourth.RevealString(), keys.ErrInvalid)
	f.refused(f.m, fifth.RevealString(), keys.ErrInvalid)

	if _, _, err := f.m.Rotate(ctx, "key_0000000000000000", time.Hour); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Rotate(unknown) = %v", err)
	}
	if _, _, err := f.m.Rotate(ctx, k.ID, -time.Second); err == nil {
		t.Error("Rotate with a negative grace period succeeded")
	}
	f.noLeak(old, neu, third.RevealString(), fourth.RevealString(), fifth.RevealString())
}

// TestRevocationFromAnotherProcess revokes through a second Manager on the
// same store, as `warden keys revoke` does while a server runs: the
// server's cache answers until its next poll, and refuses after it.
func TestRevocationFromAnotherProcess(t *testing.T) {
	f := newFixture(t)
	k, key := f.create(keys.Spec{Name: "a"})
	f.poll(f.m)
	f.mustAuth(f.m, key, k.ID)
	lookups := f.store.Lookups()
	f.mustAuth(f.m, key, k.ID)
	if f.store.Lookups() != lookups {
		t.Fatal("the second authentication was not served from the cache")
	}

	cli := f.manager()
	if err := cli.Revoke(t.Context(), k.ID); err != nil {
		t.Fatal(err)
	}
	f.poll(f.m)
	f.refused(f.m, key, keys.ErrInvalid)

	// Same for a suspension and a rotation without grace.
	k2, key2 := f.create(keys.Spec{Name: "b"})
	f.poll(f.m)
	f.mustAuth(f.m, key2, k2.ID)
	if err := cli.Suspend(t.Context(), k2.ID); err != nil {
		t.Fatal(err)
	}
	f.poll(f.m)
	f.refused(f.m, key2, keys.ErrSuspended)
	if err := cli.Resume(t.Context(), k2.ID); err != nil {
		t.Fatal(err)
	}
	f.poll(f.m)
	f.mustAuth(f.m, key2, k2.ID)
	if _, _, err := cli.Rotate(t.Context(), k2.ID, 0); err != nil {
		t.Fatal(err)
	}
	f.poll(f.m)
	f.refused(f.m, key2, keys.ErrInvalid)
}

// TestLocalChangesTakeEffectAtOnce: a change made through a Manager is
// seen by that Manager's cache without waiting for a poll.
func TestLocalChangesTakeEffectAtOnce(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	k, key := f.create(keys.Spec{Name: "a"})
	f.poll(f.m)
	f.mustAuth(f.m, key, k.ID)
	if err := f.m.Suspend(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	f.refused(f.m, key, keys.ErrSuspended)
	if err := f.m.Resume(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	f.mustAuth(f.m, key, k.ID)
	if _, _, err := f.m.Rotate(ctx, k.ID, 0); err != nil {
		t.Fatal(err)
	}
	f.refused(f.m, key, keys.ErrInvalid)
}

// TestCacheNeedsFreshPolls checks that the cache is only used while polls
// succeed: two poll intervals after the last good one every lookup goes to
// the store, and with the store down the store's error comes back (fail
// closed), never a pass and never ErrInvalid.
func TestCacheNeedsFreshPolls(t *testing.T) {
	f := newFixture(t)
	k, key := f.create(keys.Spec{Name: "a"})
	f.poll(f.m)
	f.mustAuth(f.m, key, k.ID)

	down := errors.New("database is locked")
	f.store.Fail(down)
	if err := f.m.Poll(t.Context()); !errors.Is(err, down) {
		t.Fatalf("Poll with the store down = %v", err)
	}
	// Within the bound the cached answer stands.
	f.clock.Add(2*pollEvery - time.Nanosecond)
	f.mustAuth(f.m, key, k.ID)
	// After it, the store must be asked, and it is down.
	f.clock.Add(time.Nanosecond)
	_, err := f.m.Authenticate(t.Context(), key)
	if err == nil || !errors.Is(err, down) || errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("Authenticate with stale cache and store down = %v; want the store error", err)
	}
	if strings.Contains(err.Error(), key) {
		t.Fatal("the store error contains the key")
	}
	// Unknown keys fail the same way: nothing is decided without the store.
	if _, err := f.m.Authenticate(t.Context(), "wdn_whatever"); !errors.Is(err, down) {
		t.Fatalf("Authenticate(unknown) with store down = %v", err)
	}

	// A manager that never polled never uses its cache.
	f.store.Fail(nil)
	fresh := f.manager()
	fresh.Authenticate(t.Context(), key)
	f.store.Fail(down)
	if _, err := fresh.Authenticate(t.Context(), key); !errors.Is(err, down) {
		t.Fatalf("Authenticate without any poll, store down = %v; want the store error", err)
	}

	// Recovery: a good poll makes the cache usable again.
	f.store.Fail(nil)
	f.poll(f.m)
	f.mustAuth(f.m, key, k.ID)
	f.store.Fail(down)
	f.mustAuth(f.m, key, k.ID)
	if !strings.Contains(f.logs.String(), "cannot poll the key store") {
		t.Fatalf("a failing poll was not logged:\n%s", f.logs.String())
	}
	f.noLeak(key)
}

func TestCacheTTL(t *testing.T) {
	f := newFixture(t)
	f.m = f.manager(func(o *keys.Options) { o.CacheTTL = 10 * time.Second })
	k, key := f.create(keys.Spec{Name: "a"})
	f.poll(f.m)
	f.mustAuth(f.m, key, k.ID)
	n := f.store.Lookups()
	for range 4 {
		f.clock.Add(2 * time.Second)
		f.poll(f.m)
		f.mustAuth(f.m, key, k.ID)
	}
	if got := f.store.Lookups() - n; got != 0 {
		t.Fatalf("%d lookups within the 10s cache TTL, want 0", got)
	}
	f.clock.Add(2 * time.Second)
	f.poll(f.m)
	f.mustAuth(f.m, key, k.ID)
	if got := f.store.Lookups() - n; got != 1 {
		t.Fatalf("%d lookups once the 10s cache TTL ran out, want 1", got)
	}

	off := f.manager(func(o *keys.Options) { o.CacheTTL = -1 })
	f.poll(off)
	n = f.store.Lookups()
	for range 3 {
		f.mustAuth(off, key, k.ID)
	}
	if got := f.store.Lookups() - n; got != 3 {
		t.Fatalf("%d lookups for 3 requests with the cache off, want 3", got)
	}
}

func TestReturnedKeyIsACopy(t *testing.T) {
	f := newFixture(t)
	k, key := f.create(keys.Spec{Name: "a", Models: []string{"gpt-4o"}})
	f.poll(f.m)
	got := f.mustAuth(f.m, key, k.ID)
	got.Models[0] = "*"
	if again := f.mustAuth(f.m, key, k.ID); again.Models[0] != "gpt-4o" {
		t.Fatal("changing a returned key changed the cached one")
	}
}

func TestTouchesAreBatched(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	k, key := f.create(keys.Spec{Name: "a"})
	f.poll(f.m)
	for range 50 {
		f.clock.Add(100 * time.Millisecond)
		f.mustAuth(f.m, key, k.ID)
	}
	last := f.clock.Now()
	if got, _ := f.store.KeyByID(ctx, k.ID); !got.LastUsedAt.IsZero() {
		t.Fatal("LastUsedAt was written on the request path")
	}
	if err := f.m.FlushTouches(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := f.store.KeyByID(ctx, k.ID)
	if d := last.Sub(got.LastUsedAt); d < 0 || d > time.Second {
		t.Fatalf("LastUsedAt = %v, want within a second of %v", got.LastUsedAt, last)
	}

	// A failed flush keeps the times for the next one.
	f.clock.Add(time.Minute)
	f.mustAuth(f.m, key, k.ID)
	want := f.clock.Now()
	down := errors.New("disk full")
	f.store.Fail(down)
	if err := f.m.FlushTouches(ctx); !errors.Is(err, down) {
		t.Fatalf("FlushTouches with the store down = %v", err)
	}
	f.store.Fail(nil)
	if err := f.m.FlushTouches(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.store.KeyByID(ctx, k.ID); !got.LastUsedAt.Equal(want) {
		t.Fatalf("after a retried flush LastUsedAt = %v, want %v", got.LastUsedAt, want)
	}
}

// TestRun drives Run in a synctest bubble, whose clock only moves when
// every goroutine is blocked: a revocation by another process is refused
// after one poll interval, and stopping Run flushes last-used times.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := keystest.NewMemory()
		logs := &logBuffer{}
		newManager := func() *keys.Manager {
			m, err := keys.NewManager(keys.Options{Store: st, Pepper: testPepper,
				Logger: slog.New(slog.NewTextHandler(logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		server, cli := newManager(), newManager()
		k, sec, err := cli.Create(t.Context(), keys.Spec{Name: "a"})
		if err != nil {
			t.Fatal(err)
		}
		key := sec.RevealString()

		ctx, stop := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			server.Run(ctx)
			close(done)
		}()
		synctest.Wait()
		if _, err := server.Authenticate(t.Context(), key); err != nil {
			t.Fatal(err)
		}
		n := st.Lookups()
		if _, err := server.Authenticate(t.Context(), key); err != nil || st.Lookups() != n {
			t.Fatalf("after Run's first poll the cache is not used (%v)", err)
		}

		if err := cli.Revoke(t.Context(), k.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(keys.DefaultPollInterval)
		synctest.Wait()
		if _, err := server.Authenticate(t.Context(), key); !errors.Is(err, keys.ErrInvalid) {
			t.Fatalf("one poll interval after the revocation Authenticate = %v, want ErrInvalid", err)
		}

		k2, sec2, err := cli.Create(t.Context(), keys.Spec{Name: "b"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := server.Authenticate(t.Context(), sec2.RevealString()); err != nil {
			t.Fatal(err)
		}
		used := time.Now()
		stop()
		<-done
		got, err := st.KeyByID(t.Context(), k2.ID)
		if err != nil || !got.LastUsedAt.Equal(used.UTC().Truncate(time.Microsecond)) {
			t.Fatalf("after Run stopped LastUsedAt = %v (%v), want %v", got.LastUsedAt, err, used)
		}
		if strings.Contains(logs.String(), key) {
			t.Fatal("a key appears in the logs")
		}
	})
}

// TestConcurrentUse runs authentications, polls, flushes and changes at
// once, for the race detector, and checks that after the last change and
// a poll every answer is current.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	type pair struct {
		k   keys.Key
		key string
	}
	var ps []pair
	for i := range 8 {
		k, key := f.create(keys.Spec{Name: fmt.Sprint("k", i)})
		ps = append(ps, pair{k, key})
	}
	f.poll(f.m)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				f.m.Authenticate(ctx, ps[i].key)
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			f.m.Poll(ctx)
			f.m.FlushTouches(ctx)
		}
	})
	cli := f.manager()
	for i := range 4 {
		if err := cli.Revoke(ctx, ps[i].k.ID); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	f.poll(f.m)
	for i, p := range ps {
		_, err := f.m.Authenticate(ctx, p.key)
		if revoked := i < 4; revoked != errors.Is(err, keys.ErrInvalid) || (!revoked && err != nil) {
			t.Errorf("key %d (revoked %v): Authenticate = %v", i, revoked, err)
		}
	}
}

func TestListAndGet(t *testing.T) {
	f := newFixture(t)
	a, _ := f.create(keys.Spec{Name: "a"})
	f.clock.Add(time.Second)
	b, _ := f.create(keys.Spec{Name: "b"})
	ks, err := f.m.List(t.Context())
	if err != nil || len(ks) != 2 || ks[0].ID != a.ID || ks[1].ID != b.ID {
		t.Fatalf("List = %+v, %v", ks, err)
	}
	got, err := f.m.Get(t.Context(), b.ID)
	if err != nil || got.Name != "b" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := f.m.Get(t.Context(), "nope"); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("Get(malformed id) = %v", err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	open := map[string]func(b *testing.B) keys.Store{
		"memory": func(*testing.B) keys.Store { return keystest.NewMemory() },
		"sqlite": func(b *testing.B) keys.Store {
			db, err := sqlite.Open(b.Context(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db
		},
	}
	for _, backend := range []string{"memory", "sqlite"} {
		for _, cached := range []bool{true, false} {
			name := backend + "/uncached"
			if cached {
				name = backend + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				st := open[backend](b)
				o := keys.Options{Store: st, Pepper: testPepper}
				if !cached {
					o.CacheTTL = -1
				}
				m, err := keys.NewManager(o)
				if err != nil {
					b.Fatal(err)
				}
				// A realistic table: many keys, one of them used.
				var key string
				for i := range 200 {
					_, sec, err := m.Create(b.Context(), keys.Spec{Name: fmt.Sprint("k", i)})
					if err != nil {
						b.Fatal(err)
					}
					key = sec.RevealString()
				}
				// Run keeps the cache usable for the whole benchmark.
				ctx, stop := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { m.Run(ctx); close(done) }()
				defer func() { stop(); <-done }()
				if err := m.Poll(ctx); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := m.Authenticate(ctx, key); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

func TestLookupTellsStates(t *testing.T) {
	f := newFixture(t)
	live, liveKey := f.create(keys.Spec{Name: "live"})
	gone, goneKey := f.create(keys.Spec{Name: "gone"})
	if err := f.m.Revoke(t.Context(), gone.ID); err != nil {
		t.Fatal(err)
	}
	rotated, oldKey := f.create(keys.Spec{Name: "rotated"})
	if _, _, err := f.m.Rotate(t.Context(), rotated.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	unknown, err := keys.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		key            string
		id             string
		state          keys.State
		previous, want bool
	}{
		{"active", liveKey, live.ID, keys.Active, false, true},
		{"revoked", goneKey, gone.ID, keys.Revoked, false, true},
		{"rotated out", oldKey, rotated.ID, keys.Active, true, true},
		{"unknown", unknown.RevealString(), "", "", false, false},
		{"malformed", "wdn_short", "", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, previous, found, err := f.m.Lookup(t.Context(), tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.want || k.ID != tc.id || k.State != tc.state || previous != tc.previous {
				t.Fatalf("Lookup = %s %s previous=%v found=%v, want %s %s previous=%v found=%v",
					k.ID, k.State, previous, found, tc.id, tc.state, tc.previous, tc.want)
			}
		})
	}
	f.noLeak(liveKey, goneKey, oldKey)
}
