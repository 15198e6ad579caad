package vault

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/wardenproject/warden/internal/secret"
)

// RotateMaster rewraps every data key under a new master key version.
//
// The store replaces every envelope and the master key record in one
// transaction, so an interruption before the commit leaves the vault on the
// old key and one after it on the new key. When the vault uses the
// generated key file, the new key is written next to it first and moved into
// place after the commit; Open completes or discards that step (see
// unlockGenerated), so the key file and the store never disagree for good.
//
// next is the new key's source. A zero next means: generate a new key file,
// which is only possible when the vault uses the generated key file.
func (v *Vault) RotateMaster(ctx context.Context, next KeySource) (keyID string, rewrapped int, err error) {
	old, err := v.key()
	if err != nil {
		return "", 0, err
	}
	version := int(old.Version()) + 1
	if next.Kind == "" {
		if v.src.Kind != SourceGenerated {
			return "", 0, fmt.Errorf("no new master key given: set %s, %s or %s (the vault uses %s, which warden cannot change for you)",
				EnvNewMasterKey, EnvNewMasterKeyFile, EnvNewPassphrase, v.src.describe())
		}
		next = KeySource{Kind: SourceGenerated, Path: v.src.generatedPath(v.dir) + nextKeyFileExtension}
	}
	if next.Kind == SourceGenerated && next.Path == "" {
		next.Path = v.src.generatedPath(v.dir) + nextKeyFileExtension
	}
	k, rec, err := v.newMasterKey(version, next, true)
	if err != nil {
		return "", 0, fmt.Errorf("rotate master key: %w", err)
	}
	if k.ID() == old.ID() {
		k.Destroy()
		return "", 0, errors.New("rotate master key: the new key is the same as the current one; supply a different key")
	}
	if err := v.hook("key-ready"); err != nil {
		return "", 0, err
	}
	n, err := v.store.RotateMasterKey(ctx, rec, func(sv SecretVersion) (Sealed, error) {
		if err := v.hook("rewrap"); err != nil {
			return Sealed{}, err
		}
		env, err := secret.Rewrap(v.rand, keyring(old), k, sv.Sealed.Envelope, secretAD(sv.SecretID, sv.Name, sv.Version))
		if err != nil {
			return Sealed{}, fmt.Errorf("rewrap secret %s version %d: %w", sv.Name, sv.Version, err)
		}
		return Sealed{Envelope: env, MasterVersion: version}, nil
	})
	if err != nil {
		k.Destroy()
		if next.Kind == SourceGenerated {
			_ = os.Remove(next.Path)
		}
		return "", 0, fmt.Errorf("rotate master key: nothing was changed: %w", err)
	}
	if err := v.hook("committed"); err != nil {
		return "", 0, err
	}
	if next.Kind == SourceGenerated {
		final := v.src.generatedPath(v.dir)
		if v.src.Kind != SourceGenerated {
			final = next.Path[:len(next.Path)-len(nextKeyFileExtension)]
		}
		if err := os.Rename(next.Path, final); err != nil {
			return "", 0, fmt.Errorf("rotate master key: the vault now uses key id %s but moving %s to %s failed: %w; move it by hand", k.ID(), next.Path, final, err)
		}
		next.Path = final
	}
	v.mu.Lock()
	v.active = k
	v.src = next
	v.mu.Unlock()
	// The old key is not zeroed here: a concurrent Get may still be using it,
	// and its envelopes are gone from the store, so it opens nothing new.
	return k.ID(), n, nil
}

func (v *Vault) hook(step string) error {
	if v.rotateHook == nil {
		return nil
	}
	return v.rotateHook(step)
}
