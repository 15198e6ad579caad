package secret

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Bounds on Argon2id parameters accepted by [KDF.Validate]. The lower
// bounds keep a derived key expensive to guess; the upper bounds stop a
// corrupted or hostile record from making Warden allocate more than 4 GiB
// or spin for minutes at start.
const (
	MinSaltSize  = 16
	MaxSaltSize  = 1024
	MinTime      = 1
	MaxTime      = 100
	MinMemoryKiB = 8 * 1024        // 8 MiB
	MaxMemoryKiB = 4 * 1024 * 1024 // 4 GiB
	MinThreads   = 1
)

// ErrInvalidKDF is wrapped by the error [KDF.Validate] returns.
var ErrInvalidKDF = errors.New("invalid key derivation parameters")

// KDF holds the Argon2id parameters that turn a passphrase into a master key.
// They are not secret and are stored next to the vault's master key record,
// because the same salt and parameters are needed to derive the key again.
type KDF struct {
	Salt      []byte // random, at least MinSaltSize bytes, unique per vault
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes of parallelism
}

// DefaultKDF returns the second recommended Argon2id option of RFC 9106
// (t=3, m=64 MiB, p=4) with a fresh 16-byte salt read from rand (nil means
// crypto/rand.Reader). The first recommendation needs 2 GiB, which many
// servers and containers do not have to spare.
func DefaultKDF(rand io.Reader) (KDF, error) {
	salt := make([]byte, MinSaltSize)
	if _, err := io.ReadFull(orCryptoRand(rand), salt); err != nil {
		return KDF{}, fmt.Errorf("secret: default KDF: reading random salt: %w", err)
	}
	return KDF{Salt: salt, Time: 3, MemoryKiB: 64 * 1024, Threads: 4}, nil
}

// Validate reports every parameter that is out of bounds at once, wrapping
// [ErrInvalidKDF].
func (p KDF) Validate() error {
	var problems []string
	if n := len(p.Salt); n < MinSaltSize || n > MaxSaltSize {
		problems = append(problems, fmt.Sprintf("salt is %d bytes, want %d to %d", n, MinSaltSize, MaxSaltSize))
	}
	if p.Time < MinTime || p.Time > MaxTime {
		problems = append(problems, fmt.Sprintf("time is %d, want %d to %d", p.Time, MinTime, MaxTime))
	}
	if p.MemoryKiB < MinMemoryKiB || p.MemoryKiB > MaxMemoryKiB {
		problems = append(problems, fmt.Sprintf("memory is %d KiB, want %d to %d KiB", p.MemoryKiB, MinMemoryKiB, MaxMemoryKiB))
	}
	if p.Threads < MinThreads {
		problems = append(problems, fmt.Sprintf("threads is %d, want at least %d", p.Threads, MinThreads))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("secret: %w: %s", ErrInvalidKDF, strings.Join(problems, "; "))
}

// DeriveKey derives a [KeySize]-byte master key from passphrase with
// Argon2id and the parameters p, which must pass [KDF.Validate]. An empty
// passphrase is refused: it would give a key anyone can derive.
func DeriveKey(passphrase Secret, p KDF) (Secret, error) {
	if passphrase.IsZero() {
		return Secret{}, errors.New("secret: derive key: the passphrase is empty; set a passphrase")
	}
	if err := p.Validate(); err != nil {
		return Secret{}, fmt.Errorf("secret: derive key: %w", err)
	}
	return own(argon2.IDKey(passphrase.Reveal(), p.Salt, p.Time, p.MemoryKiB, p.Threads, KeySize)), nil
}
