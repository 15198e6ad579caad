package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// KeySize is the size in bytes of a master key and of a data key (AES-256).
const KeySize = 32

// idSize is the size of a master key ID: 8 bytes (16 hex characters) keeps
// envelopes short while making an accidental collision between the few
// keys of one vault negligible. The ID is not a security boundary: the GCM
// tag is.
const idSize = 8

// idLabel is the HMAC message whose tag, keyed by the master key, becomes the
// key ID. Using the key as the HMAC key (instead of hashing the key) means
// the ID reveals nothing that helps an attacker guess the key, and the
// label keeps the value distinct from any other use of the key.
const idLabel = "warden master key id v1"

// ErrInvalidKey is wrapped by errors about key material that has the wrong
// size or encoding ([ParseKey], [NewMasterKey], [WriteKeyFile]).
var ErrInvalidKey = errors.New("invalid master key")

// ErrKeyDestroyed is wrapped by errors from operations on a [MasterKey] after
// its [MasterKey.Destroy] was called.
var ErrKeyDestroyed = errors.New("master key has been destroyed")

// MasterKey is one version of the vault master key (AES-256). Zeroed by
// Destroy.
//
// A MasterKey never prints its key: String, GoString, Format and LogValue
// show only the version and ID. It is safe for concurrent use, except that
// Destroy must not race with other methods.
type MasterKey struct {
	version uint32
	id      [idSize]byte
	// key is a Secret so that a MasterKey value, printed by reflection as
	// a field of some other struct, shows an address, never the key. It is
	// empty once the key is destroyed, which makes later use fail loudly
	// instead of encrypting under an all-zero key.
	key Secret
}

// NewMasterKey returns master key version version with a copy of raw, which
// must be exactly [KeySize] bytes. Version 0 is refused because it is what
// an unset field holds; number versions from 1. An all-zero key is refused
// because it is what an uninitialised or wiped buffer holds.
func NewMasterKey(version uint32, raw []byte) (*MasterKey, error) {
	if version == 0 {
		return nil, fmt.Errorf("secret: new master key: %w: version 0 is reserved, number master key versions from 1", ErrInvalidKey)
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("secret: new master key: %w: key is %d bytes, want %d random bytes", ErrInvalidKey, len(raw), KeySize)
	}
	var zero [KeySize]byte
	if subtle.ConstantTimeCompare(raw, zero[:]) == 1 {
		return nil, fmt.Errorf("secret: new master key: %w: key is all zeros, generate a random one", ErrInvalidKey)
	}
	key := New(raw)
	return &MasterKey{version: version, id: fingerprint(key.Reveal()), key: key}, nil
}

// GenerateMasterKey returns a new random master key with the given version,
// reading [KeySize] bytes from rand (nil means crypto/rand.Reader).
func GenerateMasterKey(rand io.Reader, version uint32) (*MasterKey, error) {
	var raw [KeySize]byte
	defer clear(raw[:])
	if _, err := io.ReadFull(orCryptoRand(rand), raw[:]); err != nil {
		return nil, fmt.Errorf("secret: generate master key: reading random bytes: %w", err)
	}
	return NewMasterKey(version, raw[:])
}

// orCryptoRand returns r, or crypto/rand.Reader when r is nil.
func orCryptoRand(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// fingerprint computes the public key ID of key.
func fingerprint(key []byte) [idSize]byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(idLabel))
	var id [idSize]byte
	copy(id[:], mac.Sum(nil))
	return id
}

// Version returns the key's version number.
func (k *MasterKey) Version() uint32 {
	if k == nil {
		return 0
	}
	return k.version
}

// ID returns the key's public fingerprint: 16 lowercase hex characters, the
// first 8 bytes of HMAC-SHA256(key, "warden master key id v1"). It is safe
// to log and store; it tells keys apart without revealing them. It stays
// available after Destroy.
func (k *MasterKey) ID() string {
	if k == nil {
		return ""
	}
	return hex.EncodeToString(k.id[:])
}

// Encode returns the raw key as standard, padded base64 text (44 bytes), the
// form [ParseKey] and [ReadKeyFile] read back, for writing a key file with
// [WriteKeyFile] or showing once to an operator. It returns an empty Secret
// if the key has been destroyed.
func (k *MasterKey) Encode() Secret {
	if k.usable() != nil {
		return Secret{}
	}
	// Encode straight into the Secret's own buffer so that no unzeroable
	// string copy of the key text is made.
	buf := make([]byte, base64.StdEncoding.EncodedLen(KeySize))
	base64.StdEncoding.Encode(buf, k.key.Reveal())
	return own(buf)
}

// Destroy zeroes the key. Afterwards Seal, Open and Rewrap refuse the key
// with [ErrKeyDestroyed]; Version and ID still work. It must not be called
// while another goroutine is using the key.
func (k *MasterKey) Destroy() {
	if k == nil {
		return
	}
	k.key.Destroy()
}

// usable returns an error if k cannot encrypt or decrypt.
func (k *MasterKey) usable() error {
	switch {
	case k == nil:
		return errors.New("no master key given")
	case k.key.Len() != KeySize:
		return fmt.Errorf("%w: version %d (id %s); load the key again", ErrKeyDestroyed, k.version, k.ID())
	}
	return nil
}

// String returns the version and ID, e.g. "master key v3 (id 0123456789abcdef)".
func (k *MasterKey) String() string {
	if k == nil {
		return "master key <nil>"
	}
	s := fmt.Sprintf("master key v%d (id %s)", k.version, k.ID())
	if k.key.IsZero() {
		s += " destroyed"
	}
	return s
}

// GoString returns a Go-like description with the version and ID only.
func (k *MasterKey) GoString() string {
	if k == nil {
		return "(*secret.MasterKey)(nil)"
	}
	return fmt.Sprintf("&secret.MasterKey{Version: %d, ID: %q, Destroyed: %t}", k.version, k.ID(), k.key.IsZero())
}

// Format implements fmt.Formatter: %#v prints GoString and every other verb
// prints String, so that no verb can reach the key bytes by reflection.
func (k *MasterKey) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		writePadded(f, k.GoString())
		return
	}
	writePadded(f, k.String())
}

// LogValue implements slog.LogValuer: a group with the version and ID.
func (k *MasterKey) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(
		slog.Uint64("version", uint64(k.version)),
		slog.String("id", k.ID()),
	)
}

// The interfaces through which a MasterKey could otherwise leak.
var (
	_ fmt.Stringer   = (*MasterKey)(nil)
	_ fmt.GoStringer = (*MasterKey)(nil)
	_ fmt.Formatter  = (*MasterKey)(nil)
	_ slog.LogValuer = (*MasterKey)(nil)
)
