package keys

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// refChecksum computes the checksum independently of putChecksum: CRC32
// (IEEE) of the prefix and random part, in base62 with math/big, padded
// with '0' to six characters.
func refChecksum(head string) string {
	n := new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(head))))
	var out []byte
	sixtyTwo := big.NewInt(62)
	for n.Sign() > 0 {
		var r big.Int
		n.DivMod(n, sixtyTwo, &r)
		out = append([]byte{base62[r.Int64()]}, out...)
	}
	return strings.Repeat("0", checksumLen-len(out)) + string(out)
}

// seeded is a deterministic source of randomness for tests.
func seeded(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

func generate(t testing.TB, r io.Reader) string {
	t.Helper()
	k, err := Generate(r)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return k.RevealString()
}

func TestGenerateFormat(t *testing.T) {
	r := seeded(1)
	seen := map[string]bool{}
	for range 1000 {
		k := generate(t, r)
		if len(k) != 44 || !strings.HasPrefix(k, Prefix) {
			t.Fatalf("generated key has length %d or lacks the prefix", len(k))
		}
		if want := refChecksum(k[:len(Prefix)+randomLen]); k[len(Prefix)+randomLen:] != want {
			t.Fatal("generated checksum differs from the reference computation")
		}
		if !Valid(k) {
			t.Fatal("a generated key is not Valid")
		}
		if seen[k] {
			t.Fatal("Generate repeated a key")
		}
		seen[k] = true
	}
}

// TestKnownVector pins the format: an all-zero random part and its
// checksum, so that a change to the alphabet order, the CRC or the padding
// is caught (keys already handed out would stop validating).
func TestKnownVector(t *testing.T) {
	// Bytes 0 map to '0', so the random part is 34 zeros.
	k := generate(t, bytes.NewReader(make([]byte, 64)))
	head := Prefix + strings.Repeat("0", randomLen)
	if want := head + refChecksum(head); k != want {
		t.Fatalf("Generate(zeros) = %q, want %q", k, want)
	}
	if want := "wdn_00000000000000000000000000000000001jirjM"; k != want {
		t.Fatalf("Generate(zeros) = %q, want the pinned %q", k, want)
	}
}

func TestGenerateRejectsBiasedBytes(t *testing.T) {
	// Bytes 248-255 would favour '0'-'7' if reduced modulo 62; they must
	// be skipped, reading more input instead.
	in := append(bytes.Repeat([]byte{255, 248}, 32), bytes.Repeat([]byte{247}, 64)...)
	k := generate(t, bytes.NewReader(in))
	if want := Prefix + strings.Repeat(string(base62[247%62]), randomLen); k[:len(Prefix)+randomLen] != want {
		t.Fatalf("Generate used a biased byte: %q", k)
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, err := Generate(nil); err == nil {
		t.Error("Generate(nil) succeeded")
	}
	boom := errors.New("entropy pool empty")
	if _, err := Generate(io.MultiReader(bytes.NewReader(make([]byte, 10)), iotest{boom})); !errors.Is(err, boom) {
		t.Errorf("Generate with a failing reader = %v, want %v", err, boom)
	}
	// All bytes rejected, then EOF: an error, not a short key.
	if _, err := Generate(bytes.NewReader(bytes.Repeat([]byte{250}, 640))); err == nil {
		t.Error("Generate from input with no usable bytes succeeded")
	}
}

type iotest struct{ err error }

func (r iotest) Read([]byte) (int, error) { return 0, r.err }

// TestUniform is a sanity check on the distribution of generated
// characters: a chi-squared statistic over the 62 characters, on a fixed
// seed so the test is deterministic. Modulo reduction of raw bytes (the
// first eight characters 25% more likely) scores in the thousands here.
func TestUniform(t *testing.T) {
	const keys = 3000
	var counts [62]int
	r := seeded(2)
	for range keys {
		k := generate(t, r)
		for _, c := range []byte(k[len(Prefix) : len(Prefix)+randomLen]) {
			counts[strings.IndexByte(base62, c)]++
		}
	}
	expected := float64(keys*randomLen) / 62
	var chi2 float64
	for _, c := range counts {
		d := float64(c) - expected
		chi2 += d * d / expected
	}
	// 61 degrees of freedom: mean 61; 130 is beyond p = 1e-6.
	if chi2 > 130 {
		t.Fatalf("chi-squared = %.1f over 62 characters (counts %v): not uniform", chi2, counts)
	}

	// The same statistic catches the bias it is meant to catch.
	var biased [62]int
	rb := seeded(3)
	var b [1]byte
	for range keys * randomLen {
		rb.Read(b[:])
		biased[b[0]%62]++
	}
	var chi2b float64
	for _, c := range biased {
		d := float64(c) - expected
		chi2b += d * d / expected
	}
	if chi2b <= 130 {
		t.Fatalf("the uniformity check did not notice modulo bias (chi-squared %.1f)", chi2b)
	}
}

func TestValid(t *testing.T) {
	good := generate(t, seeded(4))
	head := good[:len(Prefix)+randomLen]
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name string
		key  string
		want bool
	}{
		{"generated", good, true},
		{"zero vector", "wdn_00000000000000000000000000000000001jirjM", true},
		{"bad checksum", flip(good, Len-1), false},
		{"changed random character", flip(good, len(Prefix)+3), false},
		{"checksum of other text", head + refChecksum(Prefix+strings.Repeat("z", randomLen)), false},
		{"wrong prefix", "wdx_" + good[len(Prefix):], false},
		{"upper-case prefix", "WDN_" + good[len(Prefix):], false},
		{"no prefix", good[len(Prefix):], false},
		{"prefix only", Prefix, false},
		{"empty", "", false},
		{"one short", good[:Len-1], false},
		{"one long", good + "0", false},
		{"trailing newline", good + "\n", false},
		{"leading space", " " + good[:Len-1], false},
		{"dash", head[:10] + "-" + head[11:] + refChecksum(head[:10]+"-"+head[11:]), false},
		{"underscore", head[:10] + "_" + head[11:] + refChecksum(head[:10]+"_"+head[11:]), false},
		{"non-ASCII", head[:10] + "é" + head[12:] + refChecksum(head[:10]+"é"+head[12:]), false},
		{"NUL", head[:10] + "\x00" + head[11:] + refChecksum(head[:10]+"\x00"+head[11:]), false},
		{"provider key", "sk-proj-" + strings.Repeat("A", 36), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Valid(tc.key); got != tc.want {
				t.Fatalf("Valid = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEverySubstitutionDetected changes each character of a key to every
// other base62 character: the checksum must catch all of them.
func TestEverySubstitutionDetected(t *testing.T) {
	good := []byte(generate(t, seeded(5)))
	for i := len(Prefix); i < Len; i++ {
		orig := good[i]
		for j := 0; j < len(base62); j++ {
			if base62[j] == orig {
				continue
			}
			good[i] = base62[j]
			if Valid(string(good)) {
				t.Fatalf("changing position %d to %q went undetected", i, base62[j])
			}
		}
		good[i] = orig
	}
}

func TestHint(t *testing.T) {
	k := generate(t, seeded(6))
	if h := hint([]byte(k)); h != Prefix+"…"+k[Len-4:] {
		t.Fatalf("hint = %q", h)
	}
}

func FuzzValid(f *testing.F) {
	f.Add("wdn_00000000000000000000000000000000001jirjM")
	f.Add(generate(f, seeded(7)))
	f.Add("wdn_")
	f.Add("")
	f.Add("sk-proj-abc")
	f.Add("wdn_00000000000000000000000000000000001jirjN")
	f.Add("wdn_0000000000000000000000000000000000-nBcRt")
	f.Fuzz(func(t *testing.T, s string) {
		got := Valid(s)
		want := len(s) == Len && strings.HasPrefix(s, Prefix)
		if want {
			for i := len(Prefix); i < Len; i++ {
				if strings.IndexByte(base62, s[i]) < 0 {
					want = false
				}
			}
		}
		want = want && s[len(Prefix)+randomLen:] == refChecksum(s[:len(Prefix)+randomLen])
		if got != want {
			t.Fatalf("Valid(%q) = %v, the reference says %v", s, got, want)
		}
	})
}
