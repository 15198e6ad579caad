package vault

import (
	"context"
	"time"

	"github.com/wardenproject/warden/internal/secret"
)

// Store is the persistence the vault needs. Implementations live in
// internal/store/*; they must keep each method atomic.
type Store interface {
	// MasterKeys returns every master key record, oldest version first.
	MasterKeys(ctx context.Context) ([]MasterKeyRecord, error)
	// InitMasterKey stores the first master key record of a new vault. It
	// fails with store.ErrConflict if the vault already has one.
	InitMasterKey(ctx context.Context, rec MasterKeyRecord) error

	// AddSecretVersion creates the secret if needed and appends a version to
	// it, in one transaction. seal is called inside the transaction with the
	// secret's id and the new version number (both bound into the ciphertext
	// as associated data) and returns the envelope to store.
	AddSecretVersion(ctx context.Context, name string, now time.Time, seal func(id string, version int) (Sealed, error)) (SecretMeta, error)
	// SecretVersion returns one version of a secret; version 0 means the
	// latest. Unknown names or versions give store.ErrNotFound.
	SecretVersion(ctx context.Context, name string, version int) (SecretVersion, error)
	// ListSecrets returns the metadata of every secret, ordered by name.
	ListSecrets(ctx context.Context) ([]SecretMeta, error)
	// DeleteSecret removes a secret and all its versions.
	DeleteSecret(ctx context.Context, name string) error
	// TouchSecret records that a secret was read.
	TouchSecret(ctx context.Context, id string, now time.Time) error
	// PruneSecretVersions deletes all but the newest keep versions of a
	// secret and returns how many it deleted.
	PruneSecretVersions(ctx context.Context, name string, keep int) (int, error)

	// RotateMasterKey, in one transaction, marks every existing master key
	// record retired, inserts next as the active one, and replaces the
	// envelope of every stored secret version with rewrap(version). If rewrap
	// returns an error, or ctx ends, nothing is changed.
	RotateMasterKey(ctx context.Context, next MasterKeyRecord, rewrap func(SecretVersion) (Sealed, error)) (int, error)
}

// Sealed is an encrypted secret value as stored: the envelope bytes and the
// master key version that wrapped its data key.
type Sealed struct {
	Envelope      []byte
	MasterVersion int
}

// SecretMeta describes a secret without its value.
type SecretMeta struct {
	ID         string
	Name       string
	Version    int // newest version
	Versions   int // versions currently stored
	CreatedAt  time.Time
	UpdatedAt  time.Time
	LastUsedAt time.Time // zero if never read
}

// SecretVersion is one stored version of a secret.
type SecretVersion struct {
	SecretID  string
	Name      string
	Version   int
	Sealed    Sealed
	CreatedAt time.Time
}

// MasterKeyRecord describes one version of the master key. The key itself
// is never stored; Check is a value sealed under the key so that a wrong key
// is recognised before anything is decrypted or overwritten.
type MasterKeyRecord struct {
	Version   int
	KeyID     string     // public fingerprint of the key
	Source    string     // "env", "file", "passphrase" or "generated"
	KDF       secret.KDF // zero unless Source is "passphrase"
	Check     []byte
	Active    bool
	CreatedAt time.Time
}
