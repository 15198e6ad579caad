// Package vault keeps provider credentials and other secrets encrypted at
// rest. Each secret version is sealed with a fresh data key, which is wrapped
// by the versioned master key (see package secret for the envelope). The
// master key itself is never stored: it comes from the environment, a key
// file, a passphrase, or a key file the vault generates on first use.
package vault

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/store"
)

// MaxSecretSize bounds one secret value. Provider keys are tiny; the limit
// exists so that a mistaken import of a large file fails loudly.
const MaxSecretSize = 64 << 10

var (
	// ErrWrongMasterKey means the master key that was supplied is not the one
	// the vault was sealed with. Nothing was read or written.
	ErrWrongMasterKey = errors.New("wrong master key")
	// ErrLocked means the vault exists but no master key source was given.
	ErrLocked = errors.New("vault is locked")
	// ErrNotFound means the named secret (or version) does not exist.
	ErrNotFound = store.ErrNotFound
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// ValidName reports whether name can name a secret. The same rule applies
// to secret://NAME references in the configuration.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Options configure Open. Store is required; the rest have defaults.
type Options struct {
	Store Store
	// Keys says where the master key comes from; see ResolveKeySource.
	Keys KeySource
	// DataDir holds the generated key file when no other source is set.
	DataDir string
	// Rand is the randomness for keys and nonces (crypto/rand by default).
	Rand io.Reader
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Logger receives warnings such as "generated a master key file".
	Logger *slog.Logger
	// NewKDF returns the Argon2id parameters for a newly set passphrase
	// (secret.DefaultKDF by default; tests use cheaper ones).
	NewKDF func(io.Reader) (secret.KDF, error)
}

// Vault is an unlocked vault. It is safe for concurrent use.
type Vault struct {
	store  Store
	src    KeySource
	dir    string
	rand   io.Reader
	now    func() time.Time
	log    *slog.Logger
	newKDF func(io.Reader) (secret.KDF, error)

	mu     sync.RWMutex
	active *secret.MasterKey

	// rotateHook lets tests abort RotateMaster between its steps.
	rotateHook func(step string) error
}

// Open unlocks the vault in o.Store, initialising it on first use. A master
// key that does not match the vault is refused with ErrWrongMasterKey before
// anything is written.
func Open(ctx context.Context, o Options) (*Vault, error) {
	if o.Store == nil {
		return nil, errors.New("vault: no store configured")
	}
	v := &Vault{store: o.Store, src: o.Keys, dir: o.DataDir, rand: o.Rand, now: o.Now, log: o.Logger, newKDF: o.NewKDF}
	if v.rand == nil {
		v.rand = rand.Reader
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.newKDF == nil {
		v.newKDF = secret.DefaultKDF
	}
	recs, err := v.store.MasterKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("open vault: read master key records: %w", err)
	}
	active, ok := activeRecord(recs)
	if !ok {
		if err := v.initialize(ctx); err != nil {
			return nil, err
		}
		return v, nil
	}
	key, err := v.unlock(active)
	if err != nil {
		return nil, err
	}
	v.active = key
	return v, nil
}

func activeRecord(recs []MasterKeyRecord) (MasterKeyRecord, bool) {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Active {
			return recs[i], true
		}
	}
	return MasterKeyRecord{}, false
}

// initialize creates the first master key record of an empty vault.
func (v *Vault) initialize(ctx context.Context) error {
	key, rec, err := v.newMasterKey(1, v.src, true)
	if err != nil {
		return err
	}
	if err := v.store.InitMasterKey(ctx, rec); err != nil {
		key.Destroy()
		if errors.Is(err, store.ErrConflict) {
			// Another process initialised the vault between our read and
			// write; unlock against what it stored instead.
			return v.reopen(ctx)
		}
		return fmt.Errorf("initialise vault: %w", err)
	}
	if rec.Source == SourceGenerated {
		v.log.Warn("generated a new master key file; back it up and keep it off shared disks, or set WARDEN_MASTER_KEY / WARDEN_MASTER_KEY_FILE / WARDEN_PASSPHRASE",
			"path", v.src.generatedPath(v.dir), "key_id", rec.KeyID)
	}
	v.active = key
	return nil
}

func (v *Vault) reopen(ctx context.Context) error {
	recs, err := v.store.MasterKeys(ctx)
	if err != nil {
		return fmt.Errorf("open vault: read master key records: %w", err)
	}
	active, ok := activeRecord(recs)
	if !ok {
		return errors.New("open vault: the store reports a master key but has no active record; run warden doctor")
	}
	key, err := v.unlock(active)
	if err != nil {
		return err
	}
	v.active = key
	return nil
}

// newMasterKey makes key material for version from src, and its record.
// create allows generating the default key file.
func (v *Vault) newMasterKey(version int, src KeySource, create bool) (*secret.MasterKey, MasterKeyRecord, error) {
	rec := MasterKeyRecord{Version: version, Source: src.Kind, Active: true, CreatedAt: v.now().UTC()}
	var raw secret.Secret
	switch src.Kind {
	case SourcePassphrase:
		kdf, err := v.newKDF(v.rand)
		if err != nil {
			return nil, rec, fmt.Errorf("choose passphrase parameters: %w", err)
		}
		raw, err = secret.DeriveKey(src.Passphrase, kdf)
		if err != nil {
			return nil, rec, fmt.Errorf("derive master key from passphrase: %w", err)
		}
		rec.KDF = kdf
	case SourceEnv, SourceFile:
		raw = src.Key
	case SourceGenerated:
		if !create {
			return nil, rec, errors.New("no master key source for the new key")
		}
		k, err := secret.GenerateMasterKey(v.rand, uint32(version))
		if err != nil {
			return nil, rec, fmt.Errorf("generate master key: %w", err)
		}
		if err := secret.WriteKeyFile(src.generatedPath(v.dir), k.Encode()); err != nil {
			k.Destroy()
			return nil, rec, fmt.Errorf("write generated master key file: %w", err)
		}
		rec.KeyID = k.ID()
		check, err := v.sealCheck(k)
		if err != nil {
			k.Destroy()
			return nil, rec, err
		}
		rec.Check = check
		return k, rec, nil
	default:
		return nil, rec, fmt.Errorf("unknown master key source %q", src.Kind)
	}
	k, err := secret.NewMasterKey(uint32(version), raw.Reveal())
	if src.Kind == SourcePassphrase {
		raw.Destroy()
	}
	if err != nil {
		return nil, rec, fmt.Errorf("master key from %s: %w", src.describe(), err)
	}
	rec.KeyID = k.ID()
	check, err := v.sealCheck(k)
	if err != nil {
		k.Destroy()
		return nil, rec, err
	}
	rec.Check = check
	return k, rec, nil
}

// checkAD binds the check value to the master key version, so that a check
// copied from another record does not verify.
func checkAD(version uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte("warden/master-check/v1\x00"), version)
}

var checkPlaintext = []byte("warden master key check")

func (v *Vault) sealCheck(k *secret.MasterKey) ([]byte, error) {
	c, err := secret.Seal(v.rand, k, checkPlaintext, checkAD(k.Version()))
	if err != nil {
		return nil, fmt.Errorf("seal master key check value: %w", err)
	}
	return c, nil
}

// verify reports whether k is the key that made rec.
func verify(k *secret.MasterKey, rec MasterKeyRecord) bool {
	if k.ID() != rec.KeyID {
		return false
	}
	pt, err := secret.Open(func(uint32) *secret.MasterKey { return k }, rec.Check, checkAD(k.Version()))
	if err != nil {
		return false
	}
	defer pt.Destroy()
	return string(pt.Reveal()) == string(checkPlaintext)
}

// unlock derives the key for rec from the configured source and checks it.
func (v *Vault) unlock(rec MasterKeyRecord) (*secret.MasterKey, error) {
	src := v.src
	var raw secret.Secret
	switch src.Kind {
	case SourcePassphrase:
		if rec.Source != SourcePassphrase {
			return nil, fmt.Errorf("%w: a passphrase was given (WARDEN_PASSPHRASE) but the vault's master key id %s (version %d) is not passphrase-derived; supply it with WARDEN_MASTER_KEY or WARDEN_MASTER_KEY_FILE. Nothing was changed",
				ErrWrongMasterKey, rec.KeyID, rec.Version)
		}
		var err error
		raw, err = secret.DeriveKey(src.Passphrase, rec.KDF)
		if err != nil {
			return nil, fmt.Errorf("derive master key from passphrase: %w", err)
		}
		defer raw.Destroy()
	case SourceEnv, SourceFile:
		raw = src.Key
	case SourceGenerated:
		k, err := v.unlockGenerated(rec)
		if err != nil {
			return nil, err
		}
		return k, nil
	default:
		return nil, fmt.Errorf("%w: the vault was sealed with master key id %s (version %d); set WARDEN_MASTER_KEY, WARDEN_MASTER_KEY_FILE or WARDEN_PASSPHRASE",
			ErrLocked, rec.KeyID, rec.Version)
	}
	k, err := secret.NewMasterKey(uint32(rec.Version), raw.Reveal())
	if err != nil {
		return nil, fmt.Errorf("master key from %s: %w", src.describe(), err)
	}
	if !verify(k, rec) {
		got := k.ID()
		k.Destroy()
		return nil, fmt.Errorf("%w: the key from %s has id %s, but the vault was sealed with master key id %s (version %d); supply that key. Nothing was changed",
			ErrWrongMasterKey, src.describe(), got, rec.KeyID, rec.Version)
	}
	return k, nil
}

// ActiveKeyID returns the public fingerprint and version of the master key
// in use.
func (v *Vault) ActiveKeyID() (id string, version int) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.active.ID(), int(v.active.Version())
}

// Source returns the kind of master key source in use.
func (v *Vault) Source() string { return v.src.Kind }

// Close forgets the master key.
func (v *Vault) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.active != nil {
		v.active.Destroy()
		v.active = nil
	}
	return nil
}

// secretAD is the associated data bound into a secret's ciphertext: its id,
// name and version, length-prefixed so that no two tuples encode the same.
func secretAD(id, name string, version int) []byte {
	b := []byte("warden/secret/v1\x00")
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	return binary.BigEndian.AppendUint64(b, uint64(version))
}

func (v *Vault) key() (*secret.MasterKey, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.active == nil {
		return nil, errors.New("vault is closed")
	}
	return v.active, nil
}

// Set stores value as a new version of the secret name, creating the
// secret if needed.
func (v *Vault) Set(ctx context.Context, name string, value secret.Secret) (SecretMeta, error) {
	if !ValidName(name) {
		return SecretMeta{}, fmt.Errorf("invalid secret name %q: use 1-128 letters, digits, '_', '.' or '-'", name)
	}
	if value.IsZero() {
		return SecretMeta{}, fmt.Errorf("secret %s: the value is empty; nothing was stored", name)
	}
	if value.Len() > MaxSecretSize {
		return SecretMeta{}, fmt.Errorf("secret %s: the value is %d bytes, more than the %d allowed", name, value.Len(), MaxSecretSize)
	}
	k, err := v.key()
	if err != nil {
		return SecretMeta{}, err
	}
	meta, err := v.store.AddSecretVersion(ctx, name, v.now().UTC(), func(id string, version int) (Sealed, error) {
		env, err := secret.Seal(v.rand, k, value.Reveal(), secretAD(id, name, version))
		if err != nil {
			return Sealed{}, err
		}
		return Sealed{Envelope: env, MasterVersion: int(k.Version())}, nil
	})
	if err != nil {
		return SecretMeta{}, fmt.Errorf("store secret %s: %w", name, err)
	}
	return meta, nil
}

// Get returns version of the secret name (0 for the newest). The caller
// should Destroy the value when done with it.
func (v *Vault) Get(ctx context.Context, name string, version int) (secret.Secret, error) {
	sv, err := v.store.SecretVersion(ctx, name, version)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if version != 0 {
				return secret.Secret{}, fmt.Errorf("secret %s version %d: %w (see warden secrets list)", name, version, ErrNotFound)
			}
			return secret.Secret{}, fmt.Errorf("secret %s: %w (store it with warden secrets set %s)", name, ErrNotFound, name)
		}
		return secret.Secret{}, fmt.Errorf("read secret %s: %w", name, err)
	}
	val, err := v.open(ctx, sv)
	if err != nil {
		return secret.Secret{}, err
	}
	if err := v.store.TouchSecret(ctx, sv.SecretID, v.now().UTC()); err != nil {
		v.log.Warn("could not record secret use", "secret", name, "error", err)
	}
	return val, nil
}

func (v *Vault) open(ctx context.Context, sv SecretVersion) (secret.Secret, error) {
	ad := secretAD(sv.SecretID, sv.Name, sv.Version)
	k, err := v.key()
	if err != nil {
		return secret.Secret{}, err
	}
	val, err := secret.Open(keyring(k), sv.Sealed.Envelope, ad)
	if errors.Is(err, secret.ErrUnknownKey) {
		// Another process may have rotated the master key since we
		// unlocked; pick up the new key if our source now provides it.
		if rerr := v.refresh(ctx); rerr != nil {
			return secret.Secret{}, fmt.Errorf("decrypt secret %s version %d: %w; and the current master key could not be loaded: %w", sv.Name, sv.Version, err, rerr)
		}
		k, err = v.key()
		if err != nil {
			return secret.Secret{}, err
		}
		val, err = secret.Open(keyring(k), sv.Sealed.Envelope, ad)
	}
	if err != nil {
		return secret.Secret{}, fmt.Errorf("decrypt secret %s version %d: %w", sv.Name, sv.Version, err)
	}
	return val, nil
}

func keyring(k *secret.MasterKey) func(uint32) *secret.MasterKey {
	return func(version uint32) *secret.MasterKey {
		if version == k.Version() {
			return k
		}
		return nil
	}
}

// refresh reloads the active master key record and unlocks it again, so
// that a long-running server follows a rotation done by the CLI when its
// source (a key file) now holds the new key.
func (v *Vault) refresh(ctx context.Context) error {
	recs, err := v.store.MasterKeys(ctx)
	if err != nil {
		return err
	}
	rec, ok := activeRecord(recs)
	if !ok {
		return errors.New("no active master key record")
	}
	if src, err := v.src.reload(); err == nil {
		v.src = src
	}
	k, err := v.unlock(rec)
	if err != nil {
		return err
	}
	// The previous key is not zeroed: in-flight readers may still hold it.
	v.mu.Lock()
	v.active = k
	v.mu.Unlock()
	return nil
}

// List returns the metadata of every secret, never values.
func (v *Vault) List(ctx context.Context) ([]SecretMeta, error) {
	m, err := v.store.ListSecrets(ctx)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return m, nil
}

// Delete removes a secret and every version of it.
func (v *Vault) Delete(ctx context.Context, name string) error {
	if err := v.store.DeleteSecret(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("secret %s: %w", name, ErrNotFound)
		}
		return fmt.Errorf("delete secret %s: %w", name, err)
	}
	return nil
}

// Prune deletes all but the newest keep versions of a secret.
func (v *Vault) Prune(ctx context.Context, name string, keep int) (int, error) {
	if keep < 1 {
		return 0, fmt.Errorf("prune %s: keep must be at least 1", name)
	}
	n, err := v.store.PruneSecretVersions(ctx, name, keep)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, fmt.Errorf("secret %s: %w", name, ErrNotFound)
		}
		return 0, fmt.Errorf("prune secret %s: %w", name, err)
	}
	return n, nil
}

// Check reports whether the vault is unlocked, for readiness probes.
func (v *Vault) Check(context.Context) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.active == nil {
		return errors.New("vault is closed")
	}
	return nil
}
