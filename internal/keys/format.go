package keys

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/wardenproject/warden/internal/secret"
)

// Prefix starts every Warden virtual key. It makes a leaked key easy to
// recognise for people and for secret scanners.
const Prefix = "wdn_"

const (
	// base62 is the key alphabet: digits, then upper case, then lower case,
	// so that '0' is zero when the checksum is padded.
	base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

	// randomLen random base62 characters carry 34*log2(62) ≈ 202 bits.
	randomLen = 34
	// checksumLen base62 characters hold any CRC32 (62^6 > 2^32).
	checksumLen = 6

	// hintTail is how many trailing characters a key's hint shows.
	hintTail = 4
)

// Len is the length of every Warden key: the prefix and 40 base62
// characters.
const Len = len(Prefix) + randomLen + checksumLen

// isBase62 maps each byte to 1 if it is in the alphabet, else 0. A table
// lookup keeps Valid free of data-dependent branches.
var isBase62 = func() (t [256]byte) {
	for i := 0; i < len(base62); i++ {
		t[base62[i]] = 1
	}
	return t
}()

// Generate returns a new key drawn from rand (crypto/rand.Reader in
// production): the prefix, 34 uniformly random base62 characters and a
// 6-character checksum.
//
// Characters are drawn by rejection sampling: a random byte below 248 (four
// times 62) maps to byte%62, anything else is drawn again, so every
// character is equally likely; a plain byte%62 would favour the first eight.
func Generate(rand io.Reader) (secret.Secret, error) {
	if rand == nil {
		return secret.Secret{}, errors.New("generate key: no source of randomness given")
	}
	k := make([]byte, Len)
	defer clear(k)
	copy(k, Prefix)
	head := k[:len(Prefix)+randomLen]
	if err := fillBase62(rand, head[len(Prefix):]); err != nil {
		return secret.Secret{}, fmt.Errorf("generate key: %w", err)
	}
	putChecksum((*[checksumLen]byte)(k[len(head):]), crc(head))
	return secret.New(k), nil
}

// fillBase62 fills dst with uniformly random base62 characters from rand.
func fillBase62(rand io.Reader, dst []byte) error {
	var buf [64]byte
	defer clear(buf[:])
	n := 0
	for n < len(dst) {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return fmt.Errorf("read randomness: %w", err)
		}
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			dst[n] = base62[b%62]
			n++
			if n == len(dst) {
				break
			}
		}
	}
	return nil
}

// putChecksum writes the base62 form of c into dst, most significant digit
// first, padded with '0'.
func putChecksum(dst *[checksumLen]byte, c uint32) {
	n := uint64(c)
	for i := checksumLen - 1; i >= 0; i-- {
		dst[i] = base62[n%62]
		n /= 62
	}
}

// crc is CRC32 (IEEE) of s, computed byte by byte so that Valid can check
// a string without copying it (crc32.ChecksumIEEE takes a slice, and the
// copy would escape to the heap on every request).
func crc[T ~string | ~[]byte](s T) uint32 {
	c := ^uint32(0)
	for i := 0; i < len(s); i++ {
		c = crc32.IEEETable[byte(c)^s[i]] ^ (c >> 8)
	}
	return ^c
}

// Valid reports whether s has the form of a Warden key: the prefix, 40
// base62 characters, and a checksum that matches. A scanner can use it to
// tell a real key from look-alike text without asking the server.
//
// For a string of the right length the work done does not depend on where
// or whether s goes wrong, so timing tells an attacker nothing about which
// part of a guess was wrong. The length itself is not hidden: the caller
// chose it.
func Valid(s string) bool {
	if len(s) != Len {
		return false
	}
	var diff byte
	for i := 0; i < len(Prefix); i++ {
		diff |= s[i] ^ Prefix[i]
	}
	var chars byte = 1
	for i := len(Prefix); i < Len; i++ {
		chars &= isBase62[s[i]]
	}
	var sum [checksumLen]byte
	putChecksum(&sum, crc(s[:len(Prefix)+randomLen]))
	for i, c := range sum {
		diff |= c ^ s[len(Prefix)+randomLen+i]
	}
	return diff == 0 && chars == 1
}

// hint returns what is shown of a key after creation: the prefix, an
// ellipsis and the last four characters, enough to tell keys apart in a
// list. The four characters are checksum digits: they narrow down the
// random part by at most 24 of its 202 bits.
func hint(key []byte) string {
	if len(key) < hintTail {
		return Prefix + "…"
	}
	return Prefix + "…" + string(key[len(key)-hintTail:])
}
