package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/vault"
)

// internalKey is a random key Warden keeps in its own vault for itself:
// the pepper of virtual key hashes, the seed of the audit signing key.
// Version 1 is the key, whoever stored it: processes that race to create
// it all end up using the same one.
type internalKey struct {
	name string // the vault secret's name
	what string // what it is, for messages
	size int    // its length in bytes
	// dependents says what is lost with it, for the message when version
	// 1 has gone missing.
	dependents string
}

var (
	pepperKey    = internalKey{name: keyPepperName, what: "virtual key pepper", size: keys.MinPepperLen, dependents: "every virtual key depends on it"}
	auditSeedKey = internalKey{name: auditKeyName, what: "audit signing key", size: ed25519.SeedSize, dependents: "the audit log's checkpoints depend on it"}
)

// read reads version 1; a missing one gives an error matching
// vault.ErrNotFound.
func (k internalKey) read(ctx context.Context, v *vault.Vault) (secret.Secret, error) {
	s, err := v.Get(ctx, k.name, 1)
	switch {
	case errors.Is(err, vault.ErrNotFound):
		return secret.Secret{}, err
	case err != nil:
		return secret.Secret{}, fmt.Errorf("read the %s: %w", k.what, err)
	case s.Len() != k.size:
		s.Destroy()
		return secret.Secret{}, fmt.Errorf("the secret %s is not %d bytes; it was not made by warden: restore the data directory from a backup", k.name, k.size)
	}
	return s, nil
}

// exists reports whether the vault has any version of the key.
func (k internalKey) exists(ctx context.Context, v *vault.Vault) (bool, error) {
	cur, err := v.Get(ctx, k.name, 0)
	switch {
	case err == nil:
		cur.Destroy()
		return true, nil
	case errors.Is(err, vault.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("read the %s: %w", k.what, err)
}

// get returns version 1, creating the key on first use.
func (k internalKey) get(ctx context.Context, v *vault.Vault) (secret.Secret, error) {
	s, err := k.read(ctx, v)
	if !errors.Is(err, vault.ErrNotFound) {
		return s, err
	}
	if exists, err := k.exists(ctx, v); err != nil {
		return secret.Secret{}, err
	} else if exists {
		// Another process may have stored version 1 since the read above;
		// only if it is still missing is it gone.
		s, err := k.read(ctx, v)
		if errors.Is(err, vault.ErrNotFound) {
			return secret.Secret{}, fmt.Errorf("version 1 of the secret %s is gone (pruned?) and %s: restore the data directory from a backup", k.name, k.dependents)
		}
		return s, err
	}
	b := make([]byte, k.size)
	// crypto/rand.Read never fails (since Go 1.24 it crashes the program
	// rather than return weak randomness).
	_, _ = rand.Read(b)
	fresh := secret.New(b)
	clear(b)
	defer fresh.Destroy()
	if _, err := v.Set(ctx, k.name, fresh); err != nil {
		return secret.Secret{}, fmt.Errorf("store a new %s: %w", k.what, err)
	}
	// Another process may have stored one at the same moment; version 1
	// is the one every process uses.
	s, err = k.read(ctx, v)
	if errors.Is(err, vault.ErrNotFound) {
		return secret.Secret{}, fmt.Errorf("read the %s: %w", k.what, err)
	}
	return s, err
}
