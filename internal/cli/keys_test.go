package cli

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keyview"
	"github.com/wardenproject/warden/internal/secret"
)

// mustSecret runs a command whose stdout shows a key once (create,
// rotate) and drops that stdout from the recorded outputs, so that
// assertNowhere checks every other output, this command's stderr included.
func (h *harness) mustSecret(args ...string) result {
	h.t.Helper()
	r := h.must("", args...)
	h.mu.Lock()
	defer h.mu.Unlock()
	// runCtx appended stdout, then stderr.
	n := len(h.outputs)
	if n < 2 || h.outputs[n-2] != r.stdout {
		h.t.Fatal("harness outputs are not in the expected order")
	}
	h.outputs = slices.Delete(h.outputs, n-2, n-1)
	return r
}

// createdOut is what create and rotate print with --json.
type createdOut struct {
	Secret string `json:"key"`
	keyview.Key
}

// keyJSONFields are the fields of a key in --json output, sorted; never
// the key or its hash.
var keyJSONFields = []string{"budget", "created_at", "expired", "expires_at", "hint", "id", "ips", "last_used_at", "limits",
	"models", "name", "previous_valid_until", "role", "routes", "state", "tags", "team", "updated_at", "user"}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func decodeStrict(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
}

// jsonKeys returns the field names of a JSON object, sorted.
func jsonKeys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func TestKeysLifecycle(t *testing.T) {
	h := newHarness(t)
	start := time.Now()

	r := h.mustSecret("keys", "create", "--name", "ci-evals", "--models", "gpt-4o, claude-*", "--ttl", "24h", "--json")
	var created createdOut
	decodeStrict(t, r.stdout, &created)
	var raw json.RawMessage = []byte(r.stdout)
	if got, want := jsonKeys(t, raw), append(slices.Clone(keyJSONFields), "key"); !slices.Equal(got, sorted(want)) {
		t.Fatalf("create --json fields = %v, want %v", got, want)
	}
	if !keys.Valid(created.Secret) || !keys.ValidID(created.ID) || created.Name != "ci-evals" ||
		!slices.Equal(created.Models, []string{"gpt-4o", "claude-*"}) || created.ExpiresAt == nil {
		t.Fatalf("create --json = %+v", created)
	}
	if d := created.ExpiresAt.Sub(start.Add(24 * time.Hour)); d < 0 || d > time.Minute {
		t.Fatalf("expires_at = %v, want 24h from now", created.ExpiresAt)
	}
	if strings.Contains(r.stderr, created.Secret) {
		t.Fatal("create printed the key on stderr")
	}

	human := h.mustSecret("keys", "create", "--name", "notebook")
	if !strings.Contains(human.stdout, "only time") || !strings.Contains(human.stdout, "Models:  all") || !strings.Contains(human.stdout, "Expires: never") {
		t.Fatalf("create output:\n%s", human.stdout)
	}
	var second string
	for _, f := range strings.Fields(human.stdout) {
		if strings.HasPrefix(f, keys.Prefix) && keys.Valid(f) {
			second = f
		}
	}
	if second == "" {
		t.Fatalf("create output has no key:\n%s", human.stdout)
	}
	secondID := strings.Fields(human.stdout)[2]

	list := h.must("", "keys", "list", "--json")
	var listed []json.RawMessage
	if err := json.Unmarshal([]byte(list.stdout), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("list --json = %s (%v)", list.stdout, err)
	}
	if got := jsonKeys(t, listed[0]); !slices.Equal(got, keyJSONFields) {
		t.Fatalf("list --json fields = %v, want %v", got, keyJSONFields)
	}
	var first keyview.Key
	decodeStrict(t, string(listed[0]), &first)
	if first.ID != created.ID || first.State != keys.Active || first.Expired || first.Hint != keys.Prefix+"…"+created.Secret[len(created.Secret)-4:] ||
		!slices.Equal(first.Models, created.Models) || first.LastUsedAt != nil {
		t.Fatalf("list --json first key = %+v", first)
	}
	table := h.must("", "keys", "list")
	for _, want := range []string{created.ID, secondID, "ci-evals", "gpt-4o,claude-*", first.Hint, "active", "never"} {
		if !strings.Contains(table.stdout, want) {
			t.Fatalf("list lacks %q:\n%s", want, table.stdout)
		}
	}

	// Rotate with grace: a new secret, the old one listed as still working.
	rot := h.mustSecret("keys", "rotate", created.ID, "--grace", "1h", "--json")
	var rotated createdOut
	decodeStrict(t, rot.stdout, &rotated)
	if rotated.ID != created.ID || !keys.Valid(rotated.Secret) || rotated.Secret == created.Secret || rotated.PreviousValidUntil == nil {
		t.Fatalf("rotate --json = %+v", rotated)
	}
	if d := rotated.PreviousValidUntil.Sub(time.Now().Add(time.Hour)); d > 0 || d < -time.Minute {
		t.Fatalf("previous_valid_until = %v, want an hour from now", rotated.PreviousValidUntil)
	}
	if got := h.must("", "keys", "list"); !strings.Contains(got.stdout, "old key until") {
		t.Fatalf("list after rotate --grace does not show the old key's grace:\n%s", got.stdout)
	}
	rot2 := h.mustSecret("keys", "rotate", secondID)
	if !strings.Contains(rot2.stdout, "old secret has stopped working") {
		t.Fatalf("rotate without grace:\n%s", rot2.stdout)
	}

	// The keys authenticate against the same data directory, as a server
	// would see them: the pepper made its way through the vault.
	m, closeM := openKeyManager(t, h)
	defer closeM()
	ctx := t.Context()
	for _, k := range []string{created.Secret, rotated.Secret} {
		if _, err := m.Authenticate(ctx, k); err != nil {
			t.Fatalf("a CLI-made key does not authenticate: %v", err)
		}
	}
	if _, err := m.Authenticate(ctx, second); !errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("a secret rotated without grace still authenticates: %v", err)
	}

	// Suspend, resume, revoke; the server-side manager sees each after a
	// poll.
	h.must("", "keys", "suspend", created.ID)
	if err := m.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Authenticate(ctx, rotated.Secret); !errors.Is(err, keys.ErrSuspended) {
		t.Fatalf("after keys suspend: %v", err)
	}
	h.must("", "keys", "resume", created.ID)
	rv := h.must("", "keys", "revoke", created.ID)
	if !strings.Contains(rv.stdout, "revoked key "+created.ID) {
		t.Fatalf("revoke output: %s", rv.stdout)
	}
	if err := m.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{created.Secret, rotated.Secret} {
		if _, err := m.Authenticate(ctx, k); !errors.Is(err, keys.ErrInvalid) {
			t.Fatalf("after keys revoke: %v", err)
		}
	}
	var after []keyview.Key
	if err := json.Unmarshal([]byte(h.must("", "keys", "list", "--json").stdout), &after); err != nil {
		t.Fatal(err)
	}
	if after[0].State != keys.Revoked || after[0].PreviousValidUntil != nil {
		t.Fatalf("after revoke list says %+v", after[0])
	}
	if r := h.run("", "keys", "resume", created.ID); r.code == 0 || !strings.Contains(r.stderr, "revocation is final") {
		t.Fatalf("resume of a revoked key: exit %d, %s", r.code, r.stderr)
	}

	// The pepper, and every key and its hash, stay out of every output
	// except the one that showed the key, and out of the data directory.
	pepper := h.must("", "secrets", "get", keyPepperName, "--reveal", "--version", "1").stdout
	pepper = strings.TrimSuffix(pepper, "\n")
	if len(pepper) != keys.MinPepperLen {
		t.Fatalf("the pepper has %d bytes", len(pepper))
	}
	h.assertNowhere(pepper)
	for _, k := range []string{created.Secret, second, rotated.Secret, rot2.stdout[strings.Index(rot2.stdout, keys.Prefix) : strings.Index(rot2.stdout, keys.Prefix)+keys.Len]} {
		h.assertNowhere(k)
		mac := hmac.New(sha256.New, []byte(pepper))
		mac.Write([]byte(k))
		sum := mac.Sum(nil)
		h.mu.Lock()
		for _, out := range h.outputs {
			for _, form := range []string{hex.EncodeToString(sum), base64.StdEncoding.EncodeToString(sum), string(sum)} {
				if strings.Contains(out, form) {
					h.mu.Unlock()
					t.Fatalf("a key hash appears in command output:\n%s", out)
				}
			}
		}
		h.mu.Unlock()
	}
}

// openKeyManager opens the harness's data directory the way serve does.
func openKeyManager(t *testing.T, h *harness) (*keys.Manager, func()) {
	t.Helper()
	a := &app{io: IO{Environ: h.environ}, env: envMap(h.environ)}
	s, err := a.open(t.Context(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m, err := keyManager(t.Context(), s, slog.New(slog.DiscardHandler), 0)
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	return m, func() { s.Close() }
}

func TestKeysCommandErrors(t *testing.T) {
	h := newHarness(t)
	canary := fakeProviderKey(t, keys.Prefix)
	created := h.mustSecret("keys", "create", "--name", "a", "--json")
	var c createdOut
	decodeStrict(t, created.stdout, &c)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no name", []string{"keys", "create"}, `"name" not set`},
		{"ttl and expires", []string{"keys", "create", "--name", "x", "--ttl", "1h", "--expires", "2099-01-01T00:00:00Z"}, "none of the others can be"},
		{"bad expires", []string{"keys", "create", "--name", "x", "--expires", "tomorrow"}, "RFC 3339"},
		{"past expires", []string{"keys", "create", "--name", "x", "--expires", "2001-01-01T00:00:00Z"}, "already passed"},
		{"bad model glob", []string{"keys", "create", "--name", "x", "--models", "gpt-[4"}, "path.Match"},
		{"bad ttl", []string{"keys", "create", "--name", "x", "--ttl", "3 days"}, "invalid argument"},
		{"unknown id", []string{"keys", "revoke", "key_0000000000000000"}, "warden keys list"},
		{"key instead of id", []string{"keys", "revoke", c.Secret}, "not a key id"},
		{"canary instead of id", []string{"keys", "rotate", canary}, "not a key id"},
		{"negative grace", []string{"keys", "rotate", c.ID, "--grace", "-1h"}, "negative"},
		{"no id", []string{"keys", "suspend"}, "accepts 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run("", tc.args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want a failure mentioning %q", r.code, r.stderr, tc.msg)
			}
		})
	}
	// Nothing was created by the failures, and nothing echoed a key.
	var listed []keyview.Key
	if err := json.Unmarshal([]byte(h.must("", "keys", "list", "--json").stdout), &listed); err != nil || len(listed) != 1 {
		t.Fatalf("list after refused commands: %d keys (%v)", len(listed), err)
	}
	h.assertNowhere(c.Secret)
	h.assertNowhere(canary)
}

func TestKeysListEmptyAndHelp(t *testing.T) {
	h := newHarness(t)
	if r := h.must("", "keys", "list"); !strings.Contains(r.stdout, "no keys yet") {
		t.Fatalf("empty list: %s", r.stdout)
	}
	if r := h.must("", "keys", "list", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("empty list --json: %q", r.stdout)
	}
	for _, cmd := range [][]string{{"keys"}, {"keys", "create"}, {"keys", "list"}, {"keys", "revoke"}, {"keys", "rotate"}, {"keys", "suspend"}, {"keys", "resume"}} {
		r := h.must("", append(cmd, "--help")...)
		if !strings.Contains(r.stdout, "Examples:") {
			t.Fatalf("%v --help has no examples:\n%s", cmd, r.stdout)
		}
	}
}

// TestKeyPepper checks the pepper's life: made once, the same for every
// process (even two creating it at once), and never silently replaced.
func TestKeyPepper(t *testing.T) {
	h := newHarness(t)
	a := &app{io: IO{Environ: h.environ}, env: envMap(h.environ)}
	ctx := context.Background()
	open := func() *session {
		t.Helper()
		s, err := a.open(ctx, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s1, s2 := open(), open()
	peppers := make([]secret.Secret, 2)
	var wg sync.WaitGroup
	for i, s := range []*session{s1, s2} {
		wg.Go(func() {
			p, err := keyPepper(ctx, s.vault)
			if err != nil {
				t.Error(err)
			}
			peppers[i] = p
		})
	}
	wg.Wait()
	if peppers[0].Len() != keys.MinPepperLen || !peppers[0].Equal(peppers[1]) {
		t.Fatal("two processes creating the pepper at once got different ones")
	}
	again, err := keyPepper(ctx, s1.vault)
	if err != nil || !again.Equal(peppers[0]) {
		t.Fatalf("the pepper changed on a later call (%v)", err)
	}

	// A later version set by hand changes nothing.
	if _, err := s1.vault.Set(ctx, keyPepperName, secret.New(make([]byte, 32))); err != nil {
		t.Fatal(err)
	}
	if p, err := keyPepper(ctx, s1.vault); err != nil || !p.Equal(peppers[0]) {
		t.Fatalf("a second version replaced the pepper (%v)", err)
	}

	// Pruning away version 1 is refused rather than papered over.
	if _, err := s1.vault.Prune(ctx, keyPepperName, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := keyPepper(ctx, s1.vault); err == nil || !strings.Contains(err.Error(), "is gone") {
		t.Fatalf("keyPepper after its version 1 was pruned = %v", err)
	}

	// A deleted pepper is not recreated while keys hashed with it exist.
	if err := s1.vault.Delete(ctx, keyPepperName); err != nil {
		t.Fatal(err)
	}
	h.mustSecret("keys", "create", "--name", "made-with-a-new-pepper")
	if err := s1.vault.Delete(ctx, keyPepperName); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "keys", "create", "--name", "x")
	if r.code == 0 || !strings.Contains(r.stderr, "1 virtual key(s) exist") {
		t.Fatalf("create with the pepper deleted and a key present: exit %d, %s", r.code, r.stderr)
	}
}
