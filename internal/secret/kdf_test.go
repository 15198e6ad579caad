package secret

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// minKDF returns the smallest parameters Validate accepts, which keep the
// known-answer tests fast.
func minKDF(salt []byte) KDF {
	return KDF{Salt: salt, Time: MinTime, MemoryKiB: MinMemoryKiB, Threads: MinThreads}
}

func TestDefaultKDF(t *testing.T) {
	p, err := DefaultKDF(&countingReader{next: 0xa0})
	if err != nil {
		t.Fatal(err)
	}
	want := KDF{Salt: seq(0xa0, 16), Time: 3, MemoryKiB: 64 * 1024, Threads: 4}
	if !bytes.Equal(p.Salt, want.Salt) || p.Time != want.Time || p.MemoryKiB != want.MemoryKiB || p.Threads != want.Threads {
		t.Errorf("DefaultKDF() = %+v, want %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("DefaultKDF() does not validate: %v", err)
	}

	a, errA := DefaultKDF(nil)
	b, errB := DefaultKDF(nil)
	if errA != nil || errB != nil {
		t.Fatalf("DefaultKDF(nil): %v, %v", errA, errB)
	}
	if bytes.Equal(a.Salt, b.Salt) {
		t.Errorf("two DefaultKDF(nil) calls share salt %x", a.Salt)
	}

	if _, err := DefaultKDF(failingReader{}); !errors.Is(err, errEntropy) {
		t.Errorf("DefaultKDF(failing reader) error = %v, want the reader's error", err)
	}
}

func TestKDFValidate(t *testing.T) {
	salt := seq(0, MinSaltSize)
	cases := []struct {
		name string
		p    KDF
		// wantProblems are words the error must contain, one per bad
		// parameter; empty means valid.
		wantProblems []string
	}{
		{"minimums", minKDF(salt), nil},
		{"RFC 9106 second recommendation", KDF{Salt: salt, Time: 3, MemoryKiB: 64 * 1024, Threads: 4}, nil},
		{"maximums", KDF{Salt: make([]byte, MaxSaltSize), Time: MaxTime, MemoryKiB: MaxMemoryKiB, Threads: 255}, nil},
		{"salt too short", KDF{Salt: salt[:15], Time: 1, MemoryKiB: MinMemoryKiB, Threads: 1}, []string{"salt is 15 bytes"}},
		{"no salt", KDF{Time: 1, MemoryKiB: MinMemoryKiB, Threads: 1}, []string{"salt is 0 bytes"}},
		{"salt too long", KDF{Salt: make([]byte, MaxSaltSize+1), Time: 1, MemoryKiB: MinMemoryKiB, Threads: 1}, []string{"salt is 1025 bytes"}},
		{"time 0", KDF{Salt: salt, Time: 0, MemoryKiB: MinMemoryKiB, Threads: 1}, []string{"time is 0"}},
		{"time too high", KDF{Salt: salt, Time: MaxTime + 1, MemoryKiB: MinMemoryKiB, Threads: 1}, []string{"time is 101"}},
		{"memory too low", KDF{Salt: salt, Time: 1, MemoryKiB: MinMemoryKiB - 1, Threads: 1}, []string{"memory is 8191 KiB"}},
		{"memory above 4 GiB", KDF{Salt: salt, Time: 1, MemoryKiB: MaxMemoryKiB + 1, Threads: 1}, []string{"memory is 4194305 KiB"}},
		{"threads 0", KDF{Salt: salt, Time: 1, MemoryKiB: MinMemoryKiB, Threads: 0}, []string{"threads is 0"}},
		{"zero value reports every problem", KDF{}, []string{"salt", "time", "memory", "threads"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if len(tc.wantProblems) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidKDF) {
				t.Fatalf("Validate() = %v, want ErrInvalidKDF", err)
			}
			for _, w := range tc.wantProblems {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines; logs want one line", err)
			}
		})
	}
}

// TestDeriveKeyKnownAnswer pins Argon2id output. The expected keys were
// computed with an independent implementation (Python cryptography's
// Argon2id, backed by OpenSSL), not with this package.
func TestDeriveKeyKnownAnswer(t *testing.T) {
	cases := []struct {
		name       string
		passphrase string
		p          KDF
		want       string
	}{
		{
			name:       "minimum parameters",
			passphrase: "correct horse battery staple",
			p:          minKDF(seq(0x00, 16)),
			want:       "9aeef75313e585f492c33c5e12d82e9ad253b7dd78632d537e899cd4eddd789c",
		},
		{
			name:       "two passes, two lanes, 20-byte salt, UTF-8 passphrase",
			passphrase: "\U0001F511 pässphrase",
			p:          KDF{Salt: seq(0xa0, 20), Time: 2, MemoryKiB: 8 * 1024, Threads: 2},
			want:       "b33605cd9355f4e757c85e8c70521833fa9cc29a6acd34eb45f41c2670f8e862",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DeriveKey(FromString(tc.passphrase), tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got.Reveal()) != tc.want {
				t.Errorf("DeriveKey() = %x, want %s", got.Reveal(), tc.want)
			}
			if got.Len() != KeySize {
				t.Errorf("DeriveKey() length = %d, want %d", got.Len(), KeySize)
			}
		})
	}
}

func TestDeriveKeyInputsMatter(t *testing.T) {
	base := minKDF(seq(0, 16))
	ref, err := DeriveKey(FromString("passphrase"), base)
	if err != nil {
		t.Fatal(err)
	}
	otherSalt := minKDF(seq(1, 16))
	moreTime := base
	moreTime.Time = 2
	cases := []struct {
		name       string
		passphrase string
		p          KDF
	}{
		{"other passphrase", "passphrasf", base},
		{"other salt", "passphrase", otherSalt},
		{"other time", "passphrase", moreTime},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DeriveKey(FromString(tc.passphrase), tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Equal(ref) {
				t.Errorf("changing %s did not change the derived key", tc.name)
			}
		})
	}
	again, err := DeriveKey(FromString("passphrase"), base)
	if err != nil || !again.Equal(ref) {
		t.Errorf("DeriveKey is not deterministic: %v", err)
	}
}

func TestDeriveKeyRefuses(t *testing.T) {
	const canaryPass = "CANARY-passphrase-4x7"
	cases := []struct {
		name       string
		passphrase Secret
		p          KDF
		wantErr    error // nil: any error
	}{
		{"empty passphrase", FromString(""), minKDF(seq(0, 16)), nil},
		{"zero Secret passphrase", Secret{}, minKDF(seq(0, 16)), nil},
		{"invalid parameters", FromString(canaryPass), KDF{Salt: seq(0, 8), Time: 1, MemoryKiB: 1024, Threads: 1}, ErrInvalidKDF},
		{"zero parameters", FromString(canaryPass), KDF{}, ErrInvalidKDF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DeriveKey(tc.passphrase, tc.p)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("DeriveKey() error = %v, want %v", err, tc.wantErr)
			}
			if !got.IsZero() {
				t.Errorf("DeriveKey returned a key with its error")
			}
			if strings.Contains(err.Error(), canaryPass) {
				t.Errorf("error contains the passphrase: %q", err)
			}
		})
	}
}
