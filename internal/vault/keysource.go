package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wardenproject/warden/internal/secret"
)

// Kinds of master key source, in the order ResolveKeySource tries them.
const (
	SourceEnv        = "env"        // WARDEN_MASTER_KEY: base64 of 32 bytes
	SourceFile       = "file"       // WARDEN_MASTER_KEY_FILE: a 0600 file holding that
	SourcePassphrase = "passphrase" // WARDEN_PASSPHRASE, stretched by Argon2id
	SourceGenerated  = "generated"  // KeyFileName in the data dir, made on first run
)

// Environment variables that name master key sources.
const (
	EnvMasterKey         = "WARDEN_MASTER_KEY"
	EnvMasterKeyFile     = "WARDEN_MASTER_KEY_FILE"
	EnvPassphrase        = "WARDEN_PASSPHRASE"
	EnvNewMasterKey      = "WARDEN_NEW_MASTER_KEY"
	EnvNewMasterKeyFile  = "WARDEN_NEW_MASTER_KEY_FILE"
	EnvNewPassphrase     = "WARDEN_NEW_PASSPHRASE"
	KeyFileName          = "master.key"
	nextKeyFileExtension = ".next"
)

// KeySource is where a master key comes from. Key and Passphrase hold the
// material read from the environment or a file; they never print.
type KeySource struct {
	Kind       string
	Key        secret.Secret // raw 32 bytes, for SourceEnv and SourceFile
	Passphrase secret.Secret // for SourcePassphrase
	Path       string        // the key file, for SourceFile and SourceGenerated
}

// ResolveKeySource picks the master key source from the environment:
// WARDEN_MASTER_KEY, then WARDEN_MASTER_KEY_FILE, then WARDEN_PASSPHRASE,
// else the generated key file in dataDir.
func ResolveKeySource(lookup func(string) (string, bool), dataDir string) (KeySource, error) {
	return resolve(lookup, dataDir, EnvMasterKey, EnvMasterKeyFile, EnvPassphrase, true)
}

// ResolveNextKeySource picks the source of the new key for RotateMaster:
// WARDEN_NEW_MASTER_KEY, WARDEN_NEW_MASTER_KEY_FILE or WARDEN_NEW_PASSPHRASE.
// With none of them set it returns a source of Kind "" and RotateMaster
// generates a new key file if the vault uses one.
func ResolveNextKeySource(lookup func(string) (string, bool), dataDir string) (KeySource, error) {
	return resolve(lookup, dataDir, EnvNewMasterKey, EnvNewMasterKeyFile, EnvNewPassphrase, false)
}

func resolve(lookup func(string) (string, bool), dataDir, envKey, envFile, envPass string, fallback bool) (KeySource, error) {
	if s, ok := lookup(envKey); ok && s != "" {
		k, err := secret.ParseKey([]byte(s))
		if err != nil {
			return KeySource{}, fmt.Errorf("%s: %w", envKey, err)
		}
		return KeySource{Kind: SourceEnv, Key: k}, nil
	}
	if p, ok := lookup(envFile); ok && p != "" {
		k, err := secret.ReadKeyFile(p)
		if err != nil {
			return KeySource{}, fmt.Errorf("%s: %w", envFile, err)
		}
		return KeySource{Kind: SourceFile, Key: k, Path: p}, nil
	}
	if s, ok := lookup(envPass); ok && s != "" {
		return KeySource{Kind: SourcePassphrase, Passphrase: secret.FromString(s)}, nil
	}
	if !fallback {
		return KeySource{}, nil
	}
	return KeySource{Kind: SourceGenerated, Path: filepath.Join(dataDir, KeyFileName)}, nil
}

// describe names the source in messages, without any key material.
func (s KeySource) describe() string {
	switch s.Kind {
	case SourceEnv:
		return EnvMasterKey
	case SourceFile:
		return "key file " + s.Path
	case SourcePassphrase:
		return "the passphrase"
	case SourceGenerated:
		return "key file " + s.Path
	}
	return "no source"
}

func (s KeySource) generatedPath(dataDir string) string {
	if s.Path != "" {
		return s.Path
	}
	return filepath.Join(dataDir, KeyFileName)
}

// reload re-reads a key file so that a server notices a rotation done by
// another process. Other sources cannot change under a running process.
func (s KeySource) reload() (KeySource, error) {
	if s.Kind != SourceFile {
		return s, nil
	}
	k, err := secret.ReadKeyFile(s.Path)
	if err != nil {
		return s, err
	}
	s.Key = k
	return s, nil
}

// unlockGenerated opens the generated key file. It also finishes a rotation
// that was interrupted after the store committed but before the new key file
// replaced the old one, and removes the new key file of a rotation that was
// interrupted before the commit.
func (v *Vault) unlockGenerated(rec MasterKeyRecord) (*secret.MasterKey, error) {
	path := v.src.generatedPath(v.dir)
	next := path + nextKeyFileExtension
	if k, err := v.tryKeyFile(path, rec); err == nil {
		if rmErr := os.Remove(next); rmErr == nil {
			v.log.Warn("removed the new master key file of an interrupted rotation; the rotation did not happen, run it again", "path", next)
		}
		return k, nil
	} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrWrongMasterKey) {
		return nil, err
	}
	if k, err := v.tryKeyFile(next, rec); err == nil {
		if err := os.Rename(next, path); err != nil {
			k.Destroy()
			return nil, fmt.Errorf("finish interrupted master key rotation: move %s to %s: %w", next, path, err)
		}
		v.log.Warn("finished an interrupted master key rotation", "path", path, "key_id", rec.KeyID)
		return k, nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: the vault was sealed with master key id %s (version %d) but %s does not exist; restore it from backup or set WARDEN_MASTER_KEY, WARDEN_MASTER_KEY_FILE or WARDEN_PASSPHRASE",
			ErrLocked, rec.KeyID, rec.Version, path)
	}
	return nil, fmt.Errorf("%w: %s does not hold master key id %s (version %d) that the vault was sealed with; restore the right key file. Nothing was changed",
		ErrWrongMasterKey, path, rec.KeyID, rec.Version)
}

func (v *Vault) tryKeyFile(path string, rec MasterKeyRecord) (*secret.MasterKey, error) {
	raw, err := secret.ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	defer raw.Destroy()
	k, err := secret.NewMasterKey(uint32(rec.Version), raw.Reveal())
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if !verify(k, rec) {
		k.Destroy()
		return nil, ErrWrongMasterKey
	}
	return k, nil
}
