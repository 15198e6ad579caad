package sqlite

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keystest"
	"github.com/wardenproject/warden/internal/store"
)

func TestKeysStoreConformance(t *testing.T) {
	keystest.TestStore(t, func(t *testing.T) keys.Store {
		return openTest(t, t.TempDir())
	})
}

// TestKeysVersionAcrossHandles opens one data directory twice, as the CLI
// and a running server do: a revocation through one handle must change the
// version the other reads, and the other must then see the new state.
func TestKeysVersionAcrossHandles(t *testing.T) {
	dir := t.TempDir()
	cli, server := openTest(t, dir), openTest(t, dir)
	ctx := t.Context()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	k := keys.Key{ID: "key_0123456789abcdef", Name: "app", Hint: "wdn_…abcd", State: keys.Active, CreatedAt: now, UpdatedAt: now}
	hash := []byte("0123456789abcdef0123456789abcdef")
	if err := cli.CreateKey(ctx, k, hash); err != nil {
		t.Fatal(err)
	}
	before, err := server.KeysVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := server.KeyByHash(ctx, hash); err != nil || got.State != keys.Active {
		t.Fatalf("server KeyByHash = %+v, %v", got, err)
	}
	if err := cli.SetKeyState(ctx, k.ID, keys.Revoked, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	after, err := server.KeysVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatalf("the server still reads keys version %d after the CLI revoked a key", after)
	}
	if got, _, err := server.KeyByHash(ctx, hash); err != nil || got.State != keys.Revoked {
		t.Fatalf("server KeyByHash after revoke = %+v, %v; want revoked", got, err)
	}
}

// TestKeysSchemaRefusesBadRows checks that the table's constraints hold
// even against writes that bypass the methods.
func TestKeysSchemaRefusesBadRows(t *testing.T) {
	db := openTest(t, t.TempDir())
	const insert = `INSERT INTO virtual_keys (id, name, hint, models, state, hash, prev_hash, prev_valid_until, created_at, updated_at)
		VALUES ('key_x', 'n', 'h', ?, ?, x'01', ?, ?, 1, 1)`
	for _, tc := range []struct {
		name   string
		models string
		state  string
		prev   any
		until  any
	}{
		{"models not JSON", "gpt-4o", "active", nil, nil},
		{"models not an array", `{"a":1}`, "active", nil, nil},
		{"unknown state", "[]", "paused", nil, nil},
		{"previous hash without an end", "[]", "active", []byte{2}, nil},
		{"an end without a previous hash", "[]", "active", nil, int64(5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := db.writer.ExecContext(t.Context(), insert, tc.models, tc.state, tc.prev, tc.until); err == nil {
				t.Fatal("the row was accepted")
			}
		})
	}
}

func TestKeyErrorsNameWhatFailed(t *testing.T) {
	db := openTest(t, t.TempDir())
	err := db.SetKeyState(t.Context(), "key_missing", keys.Suspended, time.Now())
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "key_missing") {
		t.Fatalf("SetKeyState of an unknown key = %v; want store.ErrNotFound naming the id", err)
	}
}

// TestPolicySchemaRefusesBadRows checks the constraints of migration 0003
// against writes that bypass the methods.
func TestPolicySchemaRefusesBadRows(t *testing.T) {
	db := openTest(t, t.TempDir())
	ctx := t.Context()
	if _, err := db.writer.ExecContext(ctx, `INSERT INTO teams (name, created_at, updated_at) VALUES ('ml', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, sql string
	}{
		{"routes not an array", `UPDATE virtual_keys SET routes = '"/v1/*"'`},
		{"ips not JSON", `UPDATE virtual_keys SET ips = '10.0.0.0/8'`},
		{"tags not an array", `UPDATE virtual_keys SET tags = '{}'`},
		{"negative rps", `UPDATE virtual_keys SET limit_rps = -1`},
		{"negative rpm", `UPDATE virtual_keys SET limit_rpm = -1`},
		{"negative tpm", `UPDATE virtual_keys SET limit_tpm = -1`},
		{"negative parallel", `UPDATE virtual_keys SET max_parallel = -1`},
		{"a budget without a period", `UPDATE virtual_keys SET budget_limit = 5`},
		{"a period without a budget", `UPDATE virtual_keys SET budget_period = 'day'`},
		{"a zero budget", `UPDATE virtual_keys SET budget_limit = 0, budget_period = 'day'`},
		{"an unknown period", `UPDATE virtual_keys SET budget_limit = 5, budget_period = 'week'`},
		{"an unknown role", `UPDATE virtual_keys SET role = 'root'`},
		{"an empty team", `UPDATE virtual_keys SET team = ''`},
		{"a budget as text", `UPDATE virtual_keys SET budget_limit = 'five', budget_period = 'day'`},
		{"a team budget without a period", `UPDATE teams SET budget_limit = 5`},
		{"a team with negative limits", `UPDATE teams SET limit_rpm = -1`},
		{"a user in no team that exists", `INSERT INTO users (name, team, created_at, updated_at) VALUES ('a', 'nope', 1, 1)`},
		{"a user with an unknown role", `INSERT INTO users (name, role, created_at, updated_at) VALUES ('a', 'root', 1, 1)`},
		{"a user with an empty name", `INSERT INTO users (name, created_at, updated_at) VALUES ('', 1, 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := db.writer.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, `INSERT INTO virtual_keys (id, name, hint, state, hash, created_at, updated_at)
				VALUES ('key_x', 'n', 'h', 'active', x'01', 1, 1)`); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, tc.sql); err == nil {
				t.Fatal("the row was accepted")
			}
		})
	}
}

// TestPolicyMigrationKeepsKeys upgrades a database made before 0003: its
// keys keep working, with no restrictions and the user role.
func TestPolicyMigrationKeepsKeys(t *testing.T) {
	old := fstest.MapFS{}
	for _, name := range []string{"0001_vault.sql", "0002_keys.sql"} {
		b, err := fs.ReadFile(migrationFiles, "migrations/"+name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: b}
	}
	dir := t.TempDir()
	ctx := t.Context()
	before, err := open(ctx, dir, migrationSource{dir: ".", fsys: old})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := before.writer.ExecContext(ctx, `INSERT INTO virtual_keys (id, name, hint, models, state, hash, created_at, updated_at)
		VALUES ('key_0123456789abcdef', 'app', 'wdn_…abcd', '["gpt-4o"]', 'active', x'0102', 1000, 1000)`); err != nil {
		t.Fatal(err)
	}
	if err := before.Close(); err != nil {
		t.Fatal(err)
	}

	db := openTest(t, dir)
	k, previous, err := db.KeyByHash(ctx, []byte{1, 2})
	if err != nil || previous {
		t.Fatalf("KeyByHash after the upgrade = %v, %v", previous, err)
	}
	if k.Name != "app" || len(k.Models) != 1 || k.Role != keys.RoleUser || k.Routes != nil || k.IPs != nil || k.Tags != nil ||
		!k.Limits.IsZero() || !k.Budget.IsZero() || k.Team != "" || k.User != "" {
		t.Fatalf("a key from before the upgrade reads as %+v", k)
	}
}

// TestDamagedIPListFailsClosed: a key whose allowlist cannot be read is
// not served as one without an allowlist.
func TestDamagedIPListFailsClosed(t *testing.T) {
	db := openTest(t, t.TempDir())
	ctx := t.Context()
	if _, err := db.writer.ExecContext(ctx, `INSERT INTO virtual_keys (id, name, hint, state, hash, ips, created_at, updated_at)
		VALUES ('key_x', 'n', 'h', 'active', x'01', '["10.0.0.0/99"]', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.KeyByHash(ctx, []byte{1}); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("KeyByHash of a key with a damaged IP list = %v, want an error", err)
	}
}
