package sqlite

import (
	"errors"
	"strings"
	"testing"
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
