// Package secret keeps secret bytes from leaking and encrypts them at rest.
//
// It has three parts:
//
//   - [Secret], a byte string that never prints, logs or marshals itself:
//     every fmt verb, JSON, text, slog and error path yields [Redacted], and
//     binary encoders such as encoding/gob are refused.
//   - Master keys: [MasterKey] (one version of the vault's AES-256 key) and
//     the ways to obtain one: base64 text ([ParseKey], e.g. from the
//     WARDEN_MASTER_KEY environment variable), a 0600 key file
//     ([ReadKeyFile], [WriteKeyFile]) or a passphrase through Argon2id
//     ([KDF], [DeriveKey]).
//   - Envelope encryption with AES-256-GCM: [Seal], [Open], [Rewrap] and
//     [EnvelopeKey].
//
// # Envelope format, version 1
//
// Every [Seal] draws a fresh 32-byte data key (DEK). The plaintext is
// encrypted under the DEK, and the DEK is encrypted ("wrapped") under the
// master key. Rotating the master key therefore only rewrites the 48-byte
// wrapped DEK ([Rewrap]); the data ciphertext stays as it is. All integers
// are big-endian.
//
//	offset  size  field
//	------  ----  -----------------------------------------------------------
//	     0     3  magic "WDE"                                 ┐
//	     3     1  format version, 0x01                        │ header
//	     4     4  master key version (uint32)                 │ (16 bytes)
//	     8     8  master key ID: the 8 raw fingerprint bytes  ┘
//	    16    12  wrap nonce
//	    28    48  wrapped DEK = AES-256-GCM(master key, wrap nonce, DEK,
//	                                        AD = header || ad)
//	    76    12  data nonce
//	    88  n+16  ciphertext  = AES-256-GCM(DEK, data nonce, plaintext,
//	                                        AD = "warden data v1\x00" || ad)
//
//	+-----+---+-------+--------+----------+-------------+----------+------------+
//	| WDE |01 |version| key id |wrap nonce| wrapped DEK |data nonce| ciphertext |
//	|  3  | 1 |   4   |   8    |    12    |     48      |    12    |   n + 16   |
//	+-----+---+-------+--------+----------+-------------+----------+------------+
//	 \________ header ________/
//
// An envelope is [Overhead] (104) bytes longer than its plaintext.
//
// Why the pieces are there:
//
//   - The header names the master key (convention: ciphertext says which key
//     and version made it), so [Open] can pick the right key from a keyring
//     during and after a rotation, and [EnvelopeKey] can tell an operator
//     which key a record needs without decrypting anything.
//   - The header is part of the wrap AD, so editing the version or key ID
//     cannot go unnoticed: an unknown version gives [ErrUnknownKey], an ID
//     that differs from the key held for that version gives [ErrIntegrity]
//     before any decryption is tried, and anything else fails the GCM tag.
//   - The caller's associated data ad (for the vault: the secret's id, name
//     and version) is bound into both layers, so an envelope copied onto
//     another record does not open there ([ErrIntegrity]).
//   - The data AD starts with a fixed label that no header can start with,
//     so the two GCM layers can never be confused for one another.
//   - Nonces are random. Each DEK encrypts exactly one message, so its nonce
//     cannot repeat under it. The wrap nonce is 96 random bits, which keeps
//     the chance of a repeat under one master key negligible up to about
//     2^32 seals, far more than a vault makes between rotations.
//
// Randomness comes from the io.Reader passed in (nil means crypto/rand), so
// tests can make envelopes byte-for-byte reproducible. [Seal] reads, in
// this order, the DEK (32 bytes), the wrap nonce (12) and the data nonce
// (12); [Rewrap] reads one wrap nonce.
//
// # Limits of zeroing
//
// [Secret.Destroy], [MasterKey.Destroy] and the internal zeroing of data
// keys reduce how long secret bytes stay in memory; they do not guarantee it.
// The Go runtime may have copied a slice while growing it, a string made
// from a secret ([Secret.RevealString], [FromString]) cannot be zeroed, and
// crypto/aes keeps its own expanded copy of a key until the garbage
// collector reuses that memory.
package secret
