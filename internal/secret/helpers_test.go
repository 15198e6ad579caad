package secret

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current code")

// countingReader is a transparent fake randomness source: it yields
// 0x00, 0x01, ..., 0xff, 0x00, ... so known-answer tests can name every
// "random" byte (the first Seal gets the data key 00..1f, the wrap nonce
// 20..2b and the data nonce 2c..37).
type countingReader struct{ next byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// streamReader is a deterministic, non-repeating fake randomness source:
// block i is SHA-256(seed || uint64 big-endian i). Tests that seal many
// envelopes use it so that no two of them share a data key or nonce.
type streamReader struct {
	seed  string
	block uint64
	buf   []byte
}

func newStream(seed string) *streamReader { return &streamReader{seed: seed} }

func (r *streamReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			h := sha256.New()
			h.Write([]byte(r.seed))
			h.Write(binary.BigEndian.AppendUint64(nil, r.block))
			r.block++
			r.buf = h.Sum(nil)
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

// failingReader fails every read, standing in for a broken entropy source.
type failingReader struct{}

var errEntropy = errors.New("entropy source unavailable")

func (failingReader) Read([]byte) (int, error) { return 0, errEntropy }

// seq returns the n bytes start, start+1, ...
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// katMasterRaw is the master key of the known-answer tests: 0x40..0x5f, so
// that it differs from every byte the countingReader hands out first.
var katMasterRaw = seq(0x40, KeySize)

// mustKey returns master key version v with raw bytes raw.
func mustKey(t testing.TB, v uint32, raw []byte) *MasterKey {
	t.Helper()
	k, err := NewMasterKey(v, raw)
	if err != nil {
		t.Fatalf("NewMasterKey(%d): %v", v, err)
	}
	return k
}

// keyFor returns a fresh random-looking master key version v derived from
// name, so tests get distinct, reproducible keys.
func keyFor(t testing.TB, v uint32, name string) *MasterKey {
	t.Helper()
	return mustKey(t, v, rawFor(name))
}

// rawFor returns the raw key bytes keyFor uses for name.
func rawFor(name string) []byte {
	raw := sha256.Sum256([]byte("test master key " + name))
	return raw[:]
}

// keyring returns a lookup over keys, as a vault would build from its
// master key records.
func keyring(keys ...*MasterKey) func(uint32) *MasterKey {
	m := make(map[uint32]*MasterKey, len(keys))
	for _, k := range keys {
		m[k.Version()] = k
	}
	return func(v uint32) *MasterKey { return m[v] }
}

// leakForms returns the ways secret bytes b could show up in output: raw,
// hex, base64 and the decimal and hex lists fmt prints for a []byte.
func leakForms(b []byte) []string {
	dec := strings.Trim(fmt.Sprint(b), "[]")
	goSyntax := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%#v", b), "[]byte{"), "}")
	forms := []string{
		string(b),
		fmt.Sprintf("%q", b),
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		dec,
		goSyntax,
	}
	return forms
}

// assertNoLeak fails the test if out contains secret bytes b in any form.
func assertNoLeak(t *testing.T, what, out string, b []byte) {
	t.Helper()
	for _, f := range leakForms(b) {
		if f != "" && strings.Contains(out, f) {
			t.Errorf("%s leaks the secret (as %q):\n%s", what, f, out)
			return
		}
	}
}
