package secret

import (
	"fmt"
	"testing"
)

var benchSizes = []int{64, 1 << 10, 64 << 10}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func BenchmarkSeal(b *testing.B) {
	k := keyFor(b, 1, "bench")
	ad := []byte("secret:01J9ZK3V8Q;name:openai-prod;version:3")
	for _, n := range benchSizes {
		plaintext := make([]byte, n)
		b.Run(sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Seal(nil, k, plaintext, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	k := keyFor(b, 1, "bench")
	keys := keyring(k)
	ad := []byte("secret:01J9ZK3V8Q;name:openai-prod;version:3")
	for _, n := range benchSizes {
		env, err := Seal(nil, k, make([]byte, n), ad)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				s, err := Open(keys, env, ad)
				if err != nil {
					b.Fatal(err)
				}
				s.Destroy()
			}
		})
	}
}

func BenchmarkRewrap(b *testing.B) {
	from := keyFor(b, 1, "bench")
	to := keyFor(b, 2, "bench to")
	keys := keyring(from)
	env, err := Seal(nil, from, make([]byte, 1<<10), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Rewrap(nil, keys, to, env, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeriveKey measures the default (RFC 9106 second recommendation)
// parameters: this is the start-up cost of a passphrase-protected vault.
func BenchmarkDeriveKey(b *testing.B) {
	p, err := DefaultKDF(nil)
	if err != nil {
		b.Fatal(err)
	}
	pass := FromString("correct horse battery staple")
	b.ReportAllocs()
	for b.Loop() {
		k, err := DeriveKey(pass, p)
		if err != nil {
			b.Fatal(err)
		}
		k.Destroy()
	}
}
