package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Layout of a version 1 envelope; see the package documentation.
const (
	magic       = "WDE"
	formatV1    = 0x01
	headerSize  = len(magic) + 1 + 4 + idSize // 16
	nonceSize   = 12                          // the GCM standard nonce size
	tagSize     = 16                          // the GCM standard tag size
	wrappedSize = KeySize + tagSize           // 48

	offVersion    = len(magic) + 1
	offID         = offVersion + 4
	offWrapNonce  = headerSize
	offWrapped    = offWrapNonce + nonceSize
	offDataNonce  = offWrapped + wrappedSize
	offCiphertext = offDataNonce + nonceSize

	// dataLabel starts the AD of the data layer. It cannot be mistaken for
	// a header (which starts with magic), keeping the two layers apart.
	dataLabel = "warden data v1\x00"

	// maxPlaintext is the most AES-GCM can encrypt under one nonce
	// (2^32 - 2 blocks). Checked so that Seal returns an error instead of
	// letting crypto/cipher panic.
	maxPlaintext = (1<<32 - 2) * aes.BlockSize
)

// Overhead is how many bytes longer than its plaintext an envelope is:
// header, two nonces, the wrapped data key and the data tag.
const Overhead = offCiphertext + tagSize // 104

var (
	// ErrIntegrity means authentication failed: the envelope was tampered
	// with, the associated data differs from what it was sealed with, or
	// the key is not the one that sealed it.
	ErrIntegrity = errors.New("envelope failed authentication")
	// ErrMalformed means the bytes are not an envelope this version of
	// Warden can read: too short, wrong magic or unknown format version.
	ErrMalformed = errors.New("malformed envelope")
	// ErrUnknownKey means the envelope names a master key version that the
	// keyring does not hold.
	ErrUnknownKey = errors.New("unknown master key version")
)

// header is the parsed header of an envelope.
type header struct {
	version uint32
	id      [idSize]byte
}

func (h header) idString() string { return hex.EncodeToString(h.id[:]) }

// parseHeader checks the envelope's length, magic and format version and
// returns its header. Only header bytes are ever quoted in errors: they
// are public.
func parseHeader(envelope []byte) (header, error) {
	if len(envelope) < Overhead {
		return header{}, fmt.Errorf("%w: %d bytes is shorter than the %d-byte minimum; the record is truncated or is not a Warden envelope", ErrMalformed, len(envelope), Overhead)
	}
	if string(envelope[:len(magic)]) != magic {
		return header{}, fmt.Errorf("%w: it does not start with %q, so it is not a Warden envelope", ErrMalformed, magic)
	}
	if f := envelope[len(magic)]; f != formatV1 {
		return header{}, fmt.Errorf("%w: format version %d is not supported (this Warden reads version %d); upgrade Warden", ErrMalformed, f, formatV1)
	}
	var h header
	h.version = binary.BigEndian.Uint32(envelope[offVersion:])
	copy(h.id[:], envelope[offID:offID+idSize])
	return h, nil
}

// appendHeader appends the header naming k to dst.
func appendHeader(dst []byte, k *MasterKey) []byte {
	dst = append(dst, magic...)
	dst = append(dst, formatV1)
	dst = binary.BigEndian.AppendUint32(dst, k.version)
	return append(dst, k.id[:]...)
}

// concat returns a new slice holding a followed by b.
func concat(a, b []byte) []byte {
	out := make([]byte, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// newGCM returns AES-256-GCM under key.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext into a new envelope under a fresh data key, which
// is wrapped by master key k. The associated data ad is not stored in the
// envelope but must be passed unchanged to [Open]; bind to it whatever the
// ciphertext belongs to (for the vault: the secret's id, name and version),
// so that the envelope cannot be moved to another record. rand supplies the
// data key and nonces (nil means crypto/rand.Reader).
func Seal(rand io.Reader, k *MasterKey, plaintext, ad []byte) ([]byte, error) {
	if err := k.usable(); err != nil {
		return nil, fmt.Errorf("secret: seal: %w", err)
	}
	if uint64(len(plaintext)) > maxPlaintext {
		return nil, fmt.Errorf("secret: seal: plaintext is %d bytes, more than AES-GCM can encrypt at once (%d); split it", len(plaintext), uint64(maxPlaintext))
	}
	r := orCryptoRand(rand)

	// The order of reads is part of the format's known-answer test: data
	// key, wrap nonce, data nonce.
	var dek [KeySize]byte
	defer clear(dek[:])
	var wrapNonce, dataNonce [nonceSize]byte
	for _, b := range [][]byte{dek[:], wrapNonce[:], dataNonce[:]} {
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("secret: seal: reading random bytes: %w", err)
		}
	}

	out := make([]byte, 0, Overhead+len(plaintext))
	out = appendHeader(out, k)
	hdr := out[:headerSize:headerSize]
	out = append(out, wrapNonce[:]...)
	master, err := newGCM(k.key.Reveal())
	if err != nil {
		return nil, fmt.Errorf("secret: seal: %w", err)
	}
	out = master.Seal(out, wrapNonce[:], dek[:], concat(hdr, ad))

	out = append(out, dataNonce[:]...)
	data, err := newGCM(dek[:])
	if err != nil {
		return nil, fmt.Errorf("secret: seal: %w", err)
	}
	return data.Seal(out, dataNonce[:], plaintext, concat([]byte(dataLabel), ad)), nil
}

// Open decrypts an envelope made by [Seal] or [Rewrap]. keys returns the
// master key for a version, or nil if it does not hold that version; ad must
// be the associated data the envelope was sealed with.
//
// Errors wrap [ErrMalformed], [ErrUnknownKey] or [ErrIntegrity] (or
// [ErrKeyDestroyed]) and never contain plaintext or key bytes.
func Open(keys func(version uint32) *MasterKey, envelope, ad []byte) (Secret, error) {
	k, err := lookupKey(keys, envelope)
	if err != nil {
		return Secret{}, fmt.Errorf("secret: open envelope: %w", err)
	}
	var dek [KeySize]byte
	defer clear(dek[:])
	if err := unwrapKey(k, envelope, ad, &dek); err != nil {
		return Secret{}, fmt.Errorf("secret: open envelope: %w", err)
	}
	plaintext, err := openData(&dek, envelope, ad)
	if err != nil {
		return Secret{}, fmt.Errorf("secret: open envelope: %w", err)
	}
	return own(plaintext), nil
}

// Rewrap moves an envelope to master key to without decrypting it for the
// caller: it unwraps the data key with the master key the envelope names
// (looked up in keys), checks that the data still authenticates, and wraps
// the data key under to with a fresh wrap nonce from rand (nil means
// crypto/rand.Reader). The data nonce and ciphertext are copied unchanged.
// ad must be the associated data the envelope was sealed with; it stays
// bound to the result.
//
// Checking the data, not just the wrapped key, means a rotation fails on a
// damaged record instead of carrying it forward under the new key.
func Rewrap(rand io.Reader, keys func(version uint32) *MasterKey, to *MasterKey, envelope, ad []byte) ([]byte, error) {
	if err := to.usable(); err != nil {
		return nil, fmt.Errorf("secret: rewrap envelope: target key: %w", err)
	}
	from, err := lookupKey(keys, envelope)
	if err != nil {
		return nil, fmt.Errorf("secret: rewrap envelope: %w", err)
	}
	var dek [KeySize]byte
	defer clear(dek[:])
	if err := unwrapKey(from, envelope, ad, &dek); err != nil {
		return nil, fmt.Errorf("secret: rewrap envelope: %w", err)
	}
	plaintext, err := openData(&dek, envelope, ad)
	clear(plaintext)
	if err != nil {
		return nil, fmt.Errorf("secret: rewrap envelope: %w", err)
	}

	var wrapNonce [nonceSize]byte
	if _, err := io.ReadFull(orCryptoRand(rand), wrapNonce[:]); err != nil {
		return nil, fmt.Errorf("secret: rewrap envelope: reading random bytes: %w", err)
	}
	out := make([]byte, 0, len(envelope))
	out = appendHeader(out, to)
	hdr := out[:headerSize:headerSize]
	out = append(out, wrapNonce[:]...)
	master, err := newGCM(to.key.Reveal())
	if err != nil {
		return nil, fmt.Errorf("secret: rewrap envelope: %w", err)
	}
	out = master.Seal(out, wrapNonce[:], dek[:], concat(hdr, ad))
	return append(out, envelope[offDataNonce:]...), nil
}

// EnvelopeKey returns the master key version and ID (16 hex characters)
// named in an envelope's header, without decrypting anything; use it to
// find records that still need a rewrap, or to tell an operator which key
// a record needs. The header is not authenticated until the envelope is
// opened.
func EnvelopeKey(envelope []byte) (version uint32, keyID string, err error) {
	h, err := parseHeader(envelope)
	if err != nil {
		return 0, "", fmt.Errorf("secret: envelope key: %w", err)
	}
	return h.version, h.idString(), nil
}

// lookupKey parses the envelope header and returns the master key it names,
// checking that the key held for that version is the one that sealed it.
func lookupKey(keys func(uint32) *MasterKey, envelope []byte) (*MasterKey, error) {
	h, err := parseHeader(envelope)
	if err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, errors.New("no keyring given")
	}
	k := keys(h.version)
	if k == nil {
		return nil, fmt.Errorf("%w: envelope was sealed by master key v%d (id %s), which is not loaded; load that key version", ErrUnknownKey, h.version, h.idString())
	}
	if k.version != h.version {
		return nil, fmt.Errorf("%w: keyring returned master key v%d when asked for v%d; fix the keyring lookup", ErrUnknownKey, k.version, h.version)
	}
	if err := k.usable(); err != nil {
		return nil, err
	}
	// The ID is public, so a plain comparison is fine. Checking it before
	// any decryption turns "wrong key for this version" into a message that
	// names both keys, instead of a bare authentication failure.
	if k.id != h.id {
		return nil, fmt.Errorf("%w: envelope was sealed by master key id %s, not %s (the key loaded as v%d); load the key that sealed it", ErrIntegrity, h.idString(), k.ID(), h.version)
	}
	return k, nil
}

// unwrapKey decrypts the envelope's data key with k into dek.
func unwrapKey(k *MasterKey, envelope, ad []byte, dek *[KeySize]byte) error {
	master, err := newGCM(k.key.Reveal())
	if err != nil {
		return err
	}
	_, err = master.Open(dek[:0],
		envelope[offWrapNonce:offWrapped],
		envelope[offWrapped:offDataNonce],
		concat(envelope[:headerSize], ad))
	if err != nil {
		return fmt.Errorf("%w: the data key does not unwrap with master key v%d (id %s); the envelope was altered or the associated data differs from what it was sealed with", ErrIntegrity, k.version, k.ID())
	}
	return nil
}

// openData decrypts the envelope's data with dek.
func openData(dek *[KeySize]byte, envelope, ad []byte) ([]byte, error) {
	data, err := newGCM(dek[:])
	if err != nil {
		return nil, err
	}
	plaintext, err := data.Open(nil,
		envelope[offDataNonce:offCiphertext],
		envelope[offCiphertext:],
		concat([]byte(dataLabel), ad))
	if err != nil {
		return nil, fmt.Errorf("%w: the data does not decrypt; the ciphertext was altered or the associated data differs from what it was sealed with", ErrIntegrity)
	}
	return plaintext, nil
}
