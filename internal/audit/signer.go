package audit

import (
	"crypto/ed25519"
	"fmt"
)

// Signer signs checkpoints. The key behind it is held in the vault; the
// public key is what Verify checks signatures with.
type Signer interface {
	Sign(msg []byte) ([]byte, error)
	PublicKey() ed25519.PublicKey
}

// Ed25519Signer signs with an Ed25519 private key held in memory.
type Ed25519Signer struct {
	priv ed25519.PrivateKey
}

var _ Signer = (*Ed25519Signer)(nil)

// NewEd25519Signer returns a signer for the key derived from seed, which
// must be ed25519.SeedSize (32) bytes. The signer keeps its own copy: the
// caller may zero seed afterwards.
func NewEd25519Signer(seed []byte) (*Ed25519Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit signing key: the seed is %d bytes, want %d; it was not made by warden", len(seed), ed25519.SeedSize)
	}
	return &Ed25519Signer{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// Sign implements Signer.
func (s *Ed25519Signer) Sign(msg []byte) ([]byte, error) {
	if len(s.priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("audit signing key: the signer was destroyed")
	}
	return ed25519.Sign(s.priv, msg), nil
}

// PublicKey implements Signer.
func (s *Ed25519Signer) PublicKey() ed25519.PublicKey {
	if len(s.priv) != ed25519.PrivateKeySize {
		return nil
	}
	return s.priv.Public().(ed25519.PublicKey)
}

// Destroy zeroes the private key. Sign fails afterwards. It must not be
// called while the signer is in use.
func (s *Ed25519Signer) Destroy() {
	clear(s.priv)
	s.priv = nil
}

// String keeps the key out of anything that prints the signer.
func (s *Ed25519Signer) String() string { return "audit.Ed25519Signer([redacted])" }

// GoString implements fmt.GoStringer, for %#v.
func (s *Ed25519Signer) GoString() string { return s.String() }
