package vault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/store/sqlite"
	"github.com/wardenproject/warden/internal/vault"
)

// cheapKDF keeps passphrase tests fast; production uses secret.DefaultKDF.
func cheapKDF(r io.Reader) (secret.KDF, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(r, salt); err != nil {
		return secret.KDF{}, err
	}
	return secret.KDF{Salt: salt, Time: 1, MemoryKiB: 8 * 1024, Threads: 1}, nil
}

func newKeyB64(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// env builds a lookup function from pairs.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func openVault(t testing.TB, dir string, lookup func(string) (string, bool)) (*vault.Vault, error) {
	t.Helper()
	ctx := context.Background()
	src, err := vault.ResolveKeySource(lookup, dir)
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	v, err := vault.Open(ctx, vault.Options{Store: db, Keys: src, DataDir: dir, NewKDF: cheapKDF})
	if err != nil {
		db.Close()
		return nil, err
	}
	t.Cleanup(func() { v.Close(); db.Close() })
	return v, nil
}

func mustOpen(t testing.TB, dir string, lookup func(string) (string, bool)) *vault.Vault {
	t.Helper()
	v, err := openVault(t, dir, lookup)
	if err != nil {
		t.Fatalf("open vault: %v", err)
	}
	return v
}

func mustGet(t testing.TB, v *vault.Vault, name string, version int) string {
	t.Helper()
	s, err := v.Get(context.Background(), name, version)
	if err != nil {
		t.Fatalf("get %s v%d: %v", name, version, err)
	}
	return s.RevealString()
}

func TestSetGetListDeletePrune(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		lookup func(string) (string, bool)
	}{
		{"generated", env()},
		{"env", env(vault.EnvMasterKey, newKeyB64(t))},
		{"passphrase", env(vault.EnvPassphrase, "correct horse battery staple")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			v := mustOpen(t, dir, tc.lookup)
			if got := v.Source(); got != tc.name {
				t.Fatalf("source = %q, want %q", got, tc.name)
			}
			for i, val := range []string{"one", "two", "three"} {
				m, err := v.Set(ctx, "openai", secret.FromString(val))
				if err != nil {
					t.Fatal(err)
				}
				if m.Version != i+1 {
					t.Fatalf("version = %d, want %d", m.Version, i+1)
				}
			}
			if got := mustGet(t, v, "openai", 0); got != "three" {
				t.Fatalf("latest = %q", got)
			}
			if got := mustGet(t, v, "openai", 1); got != "one" {
				t.Fatalf("v1 = %q", got)
			}
			list, err := v.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].Name != "openai" || list[0].Versions != 3 || list[0].LastUsedAt.IsZero() {
				t.Fatalf("list = %+v", list)
			}
			n, err := v.Prune(ctx, "openai", 1)
			if err != nil || n != 2 {
				t.Fatalf("prune = %d, %v", n, err)
			}
			if _, err := v.Get(ctx, "openai", 1); !errors.Is(err, vault.ErrNotFound) {
				t.Fatalf("pruned version: err = %v, want ErrNotFound", err)
			}
			if err := v.Delete(ctx, "openai"); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Get(ctx, "openai", 0); !errors.Is(err, vault.ErrNotFound) {
				t.Fatalf("deleted: err = %v", err)
			}
			if err := v.Delete(ctx, "openai"); !errors.Is(err, vault.ErrNotFound) {
				t.Fatalf("delete twice: err = %v", err)
			}
			// The vault reopens with the same source.
			v.Close()
			v2 := mustOpen(t, dir, tc.lookup)
			if _, err := v2.Set(ctx, "x", secret.FromString("y")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSetRejectsBadInput(t *testing.T) {
	v := mustOpen(t, filepath.Join(t.TempDir(), "d"), env())
	ctx := context.Background()
	for _, tc := range []struct {
		name, secretName string
		value            secret.Secret
	}{
		{"empty value", "a", secret.Secret{}},
		{"bad name", "has space", secret.FromString("v")},
		{"slash", "a/b", secret.FromString("v")},
		{"too long", strings.Repeat("a", 129), secret.FromString("v")},
		{"huge value", "big", secret.New(make([]byte, vault.MaxSecretSize+1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.Set(ctx, tc.secretName, tc.value); err == nil {
				t.Fatal("Set succeeded, want error")
			}
		})
	}
	list, _ := v.List(ctx)
	if len(list) != 0 {
		t.Fatalf("rejected sets stored something: %+v", list)
	}
}

// snapshot returns the bytes of every file in dir, to prove a refused open
// wrote nothing.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func TestWrongMasterKeyIsRefusedAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	keyA, keyB := newKeyB64(t), newKeyB64(t)
	for _, tc := range []struct {
		name        string
		good, bad   func(string) (string, bool)
		wantErr     error
		wantMessage string
	}{
		{"env key", env(vault.EnvMasterKey, keyA), env(vault.EnvMasterKey, keyB), vault.ErrWrongMasterKey, "was sealed with master key id"},
		{"passphrase", env(vault.EnvPassphrase, "right one"), env(vault.EnvPassphrase, "wrong one"), vault.ErrWrongMasterKey, "was sealed with master key id"},
		{"passphrase for key vault", env(vault.EnvMasterKey, keyA), env(vault.EnvPassphrase, "anything"), vault.ErrWrongMasterKey, "not passphrase-derived"},
		{"key for passphrase vault", env(vault.EnvPassphrase, "pw"), env(vault.EnvMasterKey, keyB), vault.ErrWrongMasterKey, "master key id"},
		{"generated file missing", env(), env(), vault.ErrLocked, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			v := mustOpen(t, dir, tc.good)
			if _, err := v.Set(ctx, "openai", secret.FromString("sk-keep-me")); err != nil {
				t.Fatal(err)
			}
			v.Close()
			if tc.name == "generated file missing" {
				if err := os.Rename(filepath.Join(dir, vault.KeyFileName), filepath.Join(t.TempDir(), "moved")); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, dir)
			_, err := openVault(t, dir, tc.bad)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMessage) {
				t.Fatalf("error %q does not say %q", err, tc.wantMessage)
			}
			if after := snapshot(t, dir); !sameFiles(before, after, "warden.db") {
				t.Fatal("a refused open changed the vault")
			}
		})
	}
}

// sameFiles compares the named file, which must exist in both.
func sameFiles(a, b map[string][]byte, name string) bool {
	x, ok1 := a[name]
	y, ok2 := b[name]
	return ok1 && ok2 && bytes.Equal(x, y) && len(a) == len(b)
}

// swapStore hands out the envelope of another row, as an attacker with
// write access to the database might.
type swapStore struct {
	vault.Store
	from string
}

func (s swapStore) SecretVersion(ctx context.Context, name string, version int) (vault.SecretVersion, error) {
	sv, err := s.Store.SecretVersion(ctx, name, version)
	if err != nil {
		return sv, err
	}
	other, err := s.Store.SecretVersion(ctx, s.from, 0)
	if err != nil {
		return sv, err
	}
	sv.Sealed = other.Sealed
	return sv, nil
}

func TestCiphertextsCannotBeSwappedBetweenRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lookup := env(vault.EnvMasterKey, newKeyB64(t))
	src, _ := vault.ResolveKeySource(lookup, dir)
	v, err := vault.Open(ctx, vault.Options{Store: db, Keys: src, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"prod", "dev"} {
		if _, err := v.Set(ctx, n, secret.FromString("value-of-"+n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Set(ctx, "dev", secret.FromString("dev v2")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		store   vault.Store
		get     string
		version int
	}{
		{"other name", swapStore{db, "prod"}, "dev", 0},
		{"other version of same secret", swapStore{db, "dev"}, "dev", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sv, err := vault.Open(ctx, vault.Options{Store: tc.store, Keys: src, DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			_, err = sv.Get(ctx, tc.get, tc.version)
			if !errors.Is(err, secret.ErrIntegrity) {
				t.Fatalf("swapped ciphertext: err = %v, want ErrIntegrity", err)
			}
		})
	}
}

func TestConcurrentSetGet(t *testing.T) {
	ctx := context.Background()
	v := mustOpen(t, filepath.Join(t.TempDir(), "d"), env(vault.EnvMasterKey, newKeyB64(t)))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				name := fmt.Sprintf("s%d", g%3)
				val := fmt.Sprintf("g%d-i%d", g, i)
				if _, err := v.Set(ctx, name, secret.FromString(val)); err != nil {
					errs <- err
					return
				}
				if _, err := v.Get(ctx, name, 0); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	list, err := v.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, m := range list {
		total += m.Versions
	}
	if total != 80 {
		t.Fatalf("stored %d versions, want 80", total)
	}
}

func TestRotateMaster(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := newKeyB64(t), newKeyB64(t)
	for _, tc := range []struct {
		name     string
		old, new func(string) (string, bool) // new source for later opens
		next     vault.KeySource
	}{
		{"generated", env(), env(), vault.KeySource{}},
		{"env", env(vault.EnvMasterKey, oldKey), env(vault.EnvMasterKey, newKey), keySource(t, env(vault.EnvMasterKey, newKey))},
		{"passphrase", env(vault.EnvPassphrase, "old pass"), env(vault.EnvPassphrase, "new pass"), keySource(t, env(vault.EnvPassphrase, "new pass"))},
		{"env to passphrase", env(vault.EnvMasterKey, oldKey), env(vault.EnvPassphrase, "new pass"), keySource(t, env(vault.EnvPassphrase, "new pass"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			v := mustOpen(t, dir, tc.old)
			want := seed(t, v)
			oldID, _ := v.ActiveKeyID()
			id, n, err := v.RotateMaster(ctx, tc.next)
			if err != nil {
				t.Fatal(err)
			}
			if n != 6 || id == oldID {
				t.Fatalf("rotated %d versions to key %s (old %s)", n, id, oldID)
			}
			check(t, v, want) // the same process keeps working
			v.Close()
			v2 := mustOpen(t, dir, tc.new)
			check(t, v2, want)
			if tc.name != "generated" {
				if _, err := openVault(t, dir, tc.old); !errors.Is(err, vault.ErrWrongMasterKey) {
					t.Fatalf("old key after rotation: err = %v, want ErrWrongMasterKey", err)
				}
			}
		})
	}
}

func TestRotateMasterRefusesSameKeyAndMissingNewKey(t *testing.T) {
	ctx := context.Background()
	k := newKeyB64(t)
	v := mustOpen(t, filepath.Join(t.TempDir(), "d"), env(vault.EnvMasterKey, k))
	seed(t, v)
	if _, _, err := v.RotateMaster(ctx, vault.KeySource{}); err == nil || !strings.Contains(err.Error(), vault.EnvNewMasterKey) {
		t.Fatalf("rotate with no new key: err = %v", err)
	}
	if _, _, err := v.RotateMaster(ctx, keySource(t, env(vault.EnvMasterKey, k))); err == nil {
		t.Fatal("rotate to the same key succeeded")
	}
}

// A server holding the vault open follows a rotation done by another
// process (the CLI) on the generated key file, without a restart.
func TestRunningVaultFollowsRotationByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "d")
	server := mustOpen(t, dir, env())
	want := seed(t, server)
	cli := mustOpen(t, dir, env())
	if _, _, err := cli.RotateMaster(ctx, vault.KeySource{}); err != nil {
		t.Fatal(err)
	}
	check(t, server, want)
}

func keySource(t *testing.T, lookup func(string) (string, bool)) vault.KeySource {
	t.Helper()
	s, err := vault.ResolveKeySource(lookup, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seed stores three secrets with two versions each.
func seed(t testing.TB, v *vault.Vault) map[string][2]string {
	t.Helper()
	want := map[string][2]string{}
	for _, n := range []string{"openai", "anthropic", "hf"} {
		var vals [2]string
		for i := range vals {
			vals[i] = fmt.Sprintf("%s-value-%d", n, i+1)
			if _, err := v.Set(context.Background(), n, secret.FromString(vals[i])); err != nil {
				t.Fatal(err)
			}
		}
		want[n] = vals
	}
	return want
}

func check(t testing.TB, v *vault.Vault, want map[string][2]string) {
	t.Helper()
	for n, vals := range want {
		for i, val := range vals {
			if got := mustGet(t, v, n, i+1); got != val {
				t.Fatalf("%s v%d = %q, want %q", n, i+1, got, val)
			}
		}
	}
}

// Crash injection: a child process runs RotateMaster and kills itself at a
// chosen step, leaving whatever a real crash would leave. The parent then
// opens the vault with the old key or the new key; one of them must work
// and every secret must be intact.
const crashEnv = "WARDEN_TEST_ROTATE_CRASH"

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashEnv); spec != "" {
		os.Exit(crashChild(spec))
	}
	os.Exit(m.Run())
}

func crashChild(spec string) int {
	// spec is "dir|step|n|oldKey|newKey" (keys empty for the generated file).
	parts := strings.Split(spec, "|")
	dir, step, oldKey, newKey := parts[0], parts[1], parts[3], parts[4]
	n, _ := strconv.Atoi(parts[2])
	lookup := env()
	if oldKey != "" {
		lookup = env(vault.EnvMasterKey, oldKey)
	}
	ctx := context.Background()
	src, err := vault.ResolveKeySource(lookup, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	v, err := vault.Open(ctx, vault.Options{Store: db, Keys: src, DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	seen := 0
	vault.SetRotateHook(v, func(s string) error {
		if s == step {
			seen++
			if seen == n {
				// Die at once, as on power loss or SIGKILL: no deferred
				// cleanup, no rollback by this process.
				p, _ := os.FindProcess(os.Getpid())
				p.Kill()
				time.Sleep(time.Minute)
			}
		}
		return nil
	})
	var next vault.KeySource
	if newKey != "" {
		next, _ = vault.ResolveKeySource(env(vault.EnvMasterKey, newKey), dir)
	}
	if _, _, err := v.RotateMaster(ctx, next); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func TestRotateMasterSurvivesCrashAtEveryStep(t *testing.T) {
	steps := []struct {
		step      string
		n         int
		committed bool
	}{
		{"key-ready", 1, false},
		{"rewrap", 1, false},
		{"rewrap", 4, false},
		{"rewrap", 6, false},
		{"committed", 1, true},
		{"never", 1, true}, // no crash: the rotation completes
	}
	for _, kind := range []string{"generated", "env"} {
		for _, st := range steps {
			t.Run(fmt.Sprintf("%s/%s-%d", kind, st.step, st.n), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "d")
				var oldKey, newKey string
				oldLookup, newLookup := env(), env()
				if kind == "env" {
					oldKey, newKey = newKeyB64(t), newKeyB64(t)
					oldLookup, newLookup = env(vault.EnvMasterKey, oldKey), env(vault.EnvMasterKey, newKey)
				}
				v := mustOpen(t, dir, oldLookup)
				want := seed(t, v)
				v.Close()

				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), crashEnv+"="+strings.Join([]string{dir, st.step, strconv.Itoa(st.n), oldKey, newKey}, "|"))
				out, err := cmd.CombinedOutput()
				if st.step == "never" {
					if err != nil {
						t.Fatalf("rotation without crash failed: %v\n%s", err, out)
					}
				} else if err == nil {
					t.Fatalf("child was meant to crash at %s but exited cleanly\n%s", st.step, out)
				}

				// Exactly the expected key opens the vault, and nothing is lost.
				good, bad := oldLookup, newLookup
				if st.committed {
					good, bad = newLookup, oldLookup
				}
				v2, err := openVault(t, dir, good)
				if err != nil {
					t.Fatalf("after crash at %s (committed=%v): %v", st.step, st.committed, err)
				}
				check(t, v2, want)
				if kind == "env" {
					if _, err := openVault(t, dir, bad); !errors.Is(err, vault.ErrWrongMasterKey) {
						t.Fatalf("the other key also opened the vault or failed oddly: %v", err)
					}
				}
				// No stray new key file is left behind, and a new rotation works.
				if _, err := os.Stat(filepath.Join(dir, vault.KeyFileName+".next")); err == nil {
					t.Fatal("master.key.next left behind after recovery")
				}
				next := vault.KeySource{}
				if kind == "env" {
					next = keySource(t, env(vault.EnvMasterKey, newKeyB64(t)))
				}
				if _, _, err := v2.RotateMaster(context.Background(), next); err != nil {
					t.Fatalf("rotation after recovery: %v", err)
				}
				check(t, v2, want)
			})
		}
	}
}

func TestResolver(t *testing.T) {
	ctx := context.Background()
	v := mustOpen(t, filepath.Join(t.TempDir(), "d"), env())
	if _, err := v.Set(ctx, "openai", secret.FromString("first")); err != nil {
		t.Fatal(err)
	}
	r := vault.NewResolver(v, env("OPENAI_KEY", "from-env"), time.Hour, nil)
	now := time.Unix(1000, 0)
	vault.SetResolverClock(r, func() time.Time { return now })

	get := func(scheme, name string) (string, error) {
		s, err := r.Resolve(ctx, scheme, name)
		return s.RevealString(), err
	}
	if got, err := get("secret", "openai"); err != nil || got != "first" {
		t.Fatalf("resolve = %q, %v", got, err)
	}
	if got, err := get("env", "OPENAI_KEY"); err != nil || got != "from-env" {
		t.Fatalf("env resolve = %q, %v", got, err)
	}
	for _, tc := range []struct{ scheme, name string }{{"env", "MISSING"}, {"secret", "missing"}, {"file", "x"}} {
		if _, err := get(tc.scheme, tc.name); err == nil {
			t.Fatalf("%s://%s resolved", tc.scheme, tc.name)
		}
	}
	// A new version is served once the cache entry expires, not before.
	if _, err := v.Set(ctx, "openai", secret.FromString("second")); err != nil {
		t.Fatal(err)
	}
	if got, _ := get("secret", "openai"); got != "first" {
		t.Fatalf("within TTL got %q, want the cached value", got)
	}
	now = now.Add(2 * time.Hour)
	if got, _ := get("secret", "openai"); got != "second" {
		t.Fatalf("after TTL got %q, want the new version", got)
	}
	// A deleted secret stops being served.
	if err := v.Delete(ctx, "openai"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := get("secret", "openai"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("deleted secret: err = %v", err)
	}
}
