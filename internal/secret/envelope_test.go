package secret

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// Inputs of the envelope known-answer test.
const (
	katVersion   = 7
	katPlaintext = "sk-proj-known-answer-test-plaintext"
	katAD        = "secret:01J9ZK3V8Q;name:openai-prod;version:3"
	katGolden    = "envelope_v1.golden"
)

// goldenFields names the envelope's fields in order, with their offsets, so
// the golden file reads as an annotated dump and a diff shows which field
// changed.
var goldenFields = []struct {
	name       string
	start, end int // end -1 means to the end of the envelope
}{
	{"magic", 0, len(magic)},
	{"format", len(magic), offVersion},
	{"version", offVersion, offID},
	{"key-id", offID, headerSize},
	{"wrap-nonce", offWrapNonce, offWrapped},
	{"wrapped-dek", offWrapped, offDataNonce},
	{"data-nonce", offDataNonce, offCiphertext},
	{"ciphertext", offCiphertext, -1},
}

const goldenHeader = `# Known-answer test of the Warden envelope format v1 (see doc.go).
# Inputs, from envelope_test.go: master key bytes 40 41 ... 5f as version 7;
# "random" bytes 00 01 02 ... (data key 00..1f, wrap nonce 20..2b, data
# nonce 2c..37); plaintext katPlaintext; associated data katAD.
# Envelopes already stored must keep opening, so regenerate this file only
# for a deliberate format change:
#   go test ./internal/secret -run TestSealKnownAnswer -update
`

func writeGolden(t *testing.T, path string, env []byte) {
	t.Helper()
	var b strings.Builder
	b.WriteString(goldenHeader)
	for _, f := range goldenFields {
		end := f.end
		if end < 0 {
			end = len(env)
		}
		fmt.Fprintf(&b, "%-12s %x\n", f.name, env[f.start:end])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGolden(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	defer f.Close()
	var env []byte
	field := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || field >= len(goldenFields) || name != goldenFields[field].name {
			t.Fatalf("golden line %q: want field %d of %v", line, field, goldenFields)
		}
		b, err := hex.DecodeString(strings.TrimSpace(value))
		if err != nil {
			t.Fatalf("golden field %s: %v", name, err)
		}
		env = append(env, b...)
		field++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if field != len(goldenFields) {
		t.Fatalf("golden file has %d fields, want %d", field, len(goldenFields))
	}
	return env
}

// TestSealKnownAnswer pins the envelope format: fixed key, "random" bytes,
// plaintext and associated data must give the envelope in testdata byte for
// byte, and that envelope must open. The golden envelope was also checked
// outside Go (Python cryptography's AESGCM and HMAC).
func TestSealKnownAnswer(t *testing.T) {
	k := mustKey(t, katVersion, katMasterRaw)
	env, err := Seal(&countingReader{}, k, []byte(katPlaintext), []byte(katAD))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", katGolden)
	if *update {
		writeGolden(t, path, env)
	}
	golden := readGolden(t, path)
	if !bytes.Equal(env, golden) {
		t.Errorf("Seal output differs from %s:\n got %x\nwant %x", path, env, golden)
	}

	got, err := Open(keyring(k), golden, []byte(katAD))
	if err != nil {
		t.Fatalf("Open(golden envelope): %v", err)
	}
	if got.RevealString() != katPlaintext {
		t.Errorf("golden envelope opened to %q, want %q", got.RevealString(), katPlaintext)
	}
	v, id, err := EnvelopeKey(golden)
	if err != nil || v != katVersion || id != "b5aa8412ef6c9eba" {
		t.Errorf("EnvelopeKey(golden) = %d, %q, %v; want %d, b5aa8412ef6c9eba", v, id, err, katVersion)
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := keyFor(t, 3, "round trip")
	cases := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"empty plaintext", nil, []byte("ad")},
		{"one byte", []byte{0}, []byte("ad")},
		{"API key", []byte("sk-ant-api03-abcdef"), []byte("secret:1;name:anthropic;version:1")},
		{"64 B", bytes.Repeat([]byte{0xa5}, 64), nil},
		{"1 KiB binary", seq(0, 1024), []byte{0, 1, 2}},
		{"64 KiB + 3", bytes.Repeat([]byte("x"), 64<<10+3), []byte("big")},
		{"nil ad", []byte("v"), nil},
		{"long ad", []byte("v"), bytes.Repeat([]byte("ad"), 5000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, err := Seal(nil, k, tc.plaintext, tc.ad)
			if err != nil {
				t.Fatal(err)
			}
			if len(env) != len(tc.plaintext)+Overhead {
				t.Errorf("envelope is %d bytes, want %d + Overhead (%d)", len(env), len(tc.plaintext), Overhead)
			}
			if len(tc.plaintext) >= 8 && bytes.Contains(env, tc.plaintext[:8]) && !bytes.Equal(tc.plaintext[:8], make([]byte, 8)) {
				t.Errorf("envelope contains plaintext bytes")
			}
			got, err := Open(keyring(k), env, tc.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got.Reveal(), tc.plaintext) {
				t.Errorf("Open = %d bytes, want the %d plaintext bytes", got.Len(), len(tc.plaintext))
			}
			again, err := Seal(nil, k, tc.plaintext, tc.ad)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(env, again) {
				t.Errorf("two Seals of the same input gave the same envelope; data key and nonces must be fresh")
			}
		})
	}

	t.Run("nil and empty ad are the same", func(t *testing.T) {
		env, err := Seal(nil, k, []byte("v"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(keyring(k), env, []byte{}); err != nil {
			t.Errorf("Open with empty ad of an envelope sealed with nil ad: %v", err)
		}
	})

	t.Run("opened secret owns its bytes", func(t *testing.T) {
		env, err := Seal(nil, k, []byte("value"), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Open(keyring(k), env, nil)
		if err != nil {
			t.Fatal(err)
		}
		clear(env)
		if got.RevealString() != "value" {
			t.Errorf("Secret changed when the envelope was cleared: %q", got.RevealString())
		}
	})

	t.Run("keyring with several versions", func(t *testing.T) {
		keys := []*MasterKey{keyFor(t, 1, "a"), keyFor(t, 2, "b"), keyFor(t, 3, "c")}
		ring := keyring(keys...)
		for _, k := range keys {
			env, err := Seal(nil, k, []byte("v"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Open(ring, env, nil); err != nil || got.RevealString() != "v" {
				t.Errorf("Open of envelope sealed by v%d: %q, %v", k.Version(), got.RevealString(), err)
			}
		}
	})
}

// openRegion says which error a change to envelope byte i must give, for an
// envelope whose keyring holds only the sealing key.
func openRegion(i int) error {
	switch {
	case i < offVersion: // magic, format
		return ErrMalformed
	case i < offID: // version: no other version is held
		return ErrUnknownKey
	default: // key ID (checked before decrypting), nonces, wrapped key, data
		return ErrIntegrity
	}
}

func TestOpenTamperEveryBit(t *testing.T) {
	k := keyFor(t, 5, "tamper")
	ad := []byte("secret:42;name:tamper;version:1")
	env, err := Seal(newStream("tamper"), k, []byte("tamper-me-plaintext"), ad)
	if err != nil {
		t.Fatal(err)
	}
	ring := keyring(k)
	to := keyFor(t, 6, "tamper target")
	for i := range env {
		for bit := range 8 {
			bad := bytes.Clone(env)
			bad[i] ^= 1 << bit
			want := openRegion(i)

			got, err := Open(ring, bad, ad)
			if !errors.Is(err, want) {
				t.Errorf("byte %d bit %d flipped: Open error = %v, want %v", i, bit, err, want)
			}
			if !got.IsZero() {
				t.Errorf("byte %d bit %d flipped: Open returned data", i, bit)
			}
			if _, err := Rewrap(newStream("r"), ring, to, bad, ad); !errors.Is(err, want) {
				t.Errorf("byte %d bit %d flipped: Rewrap error = %v, want %v", i, bit, err, want)
			}
		}
	}
}

func TestOpenWrongAD(t *testing.T) {
	k := keyFor(t, 1, "ad")
	ad := []byte("secret:7;name:openai-prod;version:2")
	env, err := Seal(nil, k, []byte("value"), ad)
	if err != nil {
		t.Fatal(err)
	}
	ring := keyring(k)

	for i := range ad {
		bad := bytes.Clone(ad)
		bad[i] ^= 0x01
		if _, err := Open(ring, env, bad); !errors.Is(err, ErrIntegrity) {
			t.Errorf("ad byte %d changed: Open error = %v, want ErrIntegrity", i, err)
		}
	}
	cases := []struct {
		name string
		ad   []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"one byte longer", append(bytes.Clone(ad), '0')},
		{"one byte shorter", ad[:len(ad)-1]},
		{"another record's version", []byte("secret:7;name:openai-prod;version:3")},
		{"another record", []byte("secret:8;name:openai-dev;version:2")},
		{"header prepended", append(bytes.Clone(env[:headerSize]), ad...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(ring, env, tc.ad); !errors.Is(err, ErrIntegrity) {
				t.Errorf("Open error = %v, want ErrIntegrity", err)
			}
		})
	}
}

func TestOpenTruncatedOrExtended(t *testing.T) {
	k := keyFor(t, 1, "truncate")
	env, err := Seal(nil, k, []byte("a plaintext of some length"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ring := keyring(k)
	for n := range len(env) {
		// Below Overhead the envelope cannot be parsed. At or above it, a
		// cut envelope looks like one with a shorter ciphertext, and the
		// GCM tag is what catches it.
		want := ErrMalformed
		if n >= Overhead {
			want = ErrIntegrity
		}
		if _, err := Open(ring, env[:n], nil); !errors.Is(err, want) {
			t.Errorf("truncated to %d bytes: Open error = %v, want %v", n, err, want)
		}
	}
	for _, extra := range [][]byte{{0}, {0xff}, bytes.Repeat([]byte{0}, 16)} {
		if _, err := Open(ring, append(bytes.Clone(env), extra...), nil); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%d bytes appended: Open error = %v, want ErrIntegrity", len(extra), err)
		}
	}
}

func TestOpenMalformed(t *testing.T) {
	k := keyFor(t, 1, "malformed")
	env, err := Seal(nil, k, []byte("v"), nil)
	if err != nil {
		t.Fatal(err)
	}
	with := func(i int, b byte) []byte {
		out := bytes.Clone(env)
		out[i] = b
		return out
	}
	cases := []struct {
		name     string
		envelope []byte
		wantMsg  string
	}{
		{"nil", nil, "shorter than"},
		{"magic only", []byte("WDE\x01"), "shorter than"},
		{"plaintext stored by mistake", bytes.Repeat([]byte("plain"), 30), "not a Warden envelope"},
		{"lowercase magic", append([]byte("wde"), env[3:]...), "not a Warden envelope"},
		{"format 0", with(3, 0x00), "format version 0 is not supported"},
		{"format 2", with(3, 0x02), "format version 2 is not supported"},
		{"format 255", with(3, 0xff), "upgrade Warden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(keyring(k), tc.envelope, nil)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Open error = %v, want ErrMalformed saying %q", err, tc.wantMsg)
			}
			if _, _, err := EnvelopeKey(tc.envelope); !errors.Is(err, ErrMalformed) {
				t.Errorf("EnvelopeKey error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestOpenWrongKey(t *testing.T) {
	k := keyFor(t, 4, "right")
	env, err := Seal(nil, k, []byte("value"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	impostor := keyFor(t, 4, "wrong") // same version, other key
	cases := []struct {
		name     string
		keys     func(uint32) *MasterKey
		wantErr  error
		wantMsgs []string
	}{
		{
			"other key with the same version", keyring(impostor), ErrIntegrity,
			[]string{"master key id " + k.ID() + ", not " + impostor.ID()},
		},
		{"empty keyring", keyring(), ErrUnknownKey, []string{"v4", k.ID(), "load that key version"}},
		{"only other versions", keyring(keyFor(t, 3, "a"), keyFor(t, 5, "b")), ErrUnknownKey, []string{"v4"}},
		{
			"keyring returns the wrong version", func(uint32) *MasterKey { return keyFor(t, 5, "right") }, ErrUnknownKey,
			[]string{"returned master key v5 when asked for v4"},
		},
		{"nil keyring", nil, nil, []string{"no keyring"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(tc.keys, env, []byte("ad"))
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("Open error = %v, want %v", err, tc.wantErr)
			}
			if !got.IsZero() {
				t.Errorf("Open returned data with its error")
			}
			for _, m := range tc.wantMsgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not say %q", err, m)
				}
			}
		})
	}

	t.Run("same key bytes under another version", func(t *testing.T) {
		// The ID depends on the key bytes only, so the check that stops
		// this is the header bound into the wrap AD.
		moved := bytes.Clone(env)
		binary.BigEndian.PutUint32(moved[offVersion:], 9)
		raw := rawFor("right")
		if _, err := Open(keyring(mustKey(t, 9, raw)), moved, []byte("ad")); !errors.Is(err, ErrIntegrity) {
			t.Errorf("Open error = %v, want ErrIntegrity", err)
		}
	})
}

func TestSealRefuses(t *testing.T) {
	k := keyFor(t, 1, "seal")
	cases := []struct {
		name    string
		rand    io.Reader
		key     *MasterKey
		wantErr error // nil: any error
	}{
		{"nil key", newStream("seal"), nil, nil},
		{"failing rand", failingReader{}, k, errEntropy},
		{"rand runs out after the data key", bytes.NewReader(make([]byte, 40)), k, io.ErrUnexpectedEOF},
		{"rand fails after the data key", iotest.TimeoutReader(iotest.HalfReader(bytes.NewReader(make([]byte, 100)))), k, iotest.ErrTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, err := Seal(tc.rand, tc.key, []byte("v"), nil)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("Seal error = %v, want %v", err, tc.wantErr)
			}
			if env != nil {
				t.Errorf("Seal returned an envelope with its error")
			}
		})
	}

	t.Run("short reads are fine", func(t *testing.T) {
		env, err := Seal(iotest.OneByteReader(newStream("one byte")), k, []byte("v"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Open(keyring(k), env, nil); err != nil || got.RevealString() != "v" {
			t.Errorf("Open = %q, %v", got.RevealString(), err)
		}
	})
}

func TestEnvelopeKey(t *testing.T) {
	k := keyFor(t, 1<<32-1, "envelope key")
	env, err := Seal(nil, k, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, id, err := EnvelopeKey(env)
	if err != nil || v != 1<<32-1 || id != k.ID() {
		t.Errorf("EnvelopeKey = %d, %q, %v; want %d, %q", v, id, err, uint32(1<<32-1), k.ID())
	}
	// The header is readable without the key: that is the point.
	k.Destroy()
	if v2, id2, err := EnvelopeKey(env); err != nil || v2 != v || id2 != id {
		t.Errorf("EnvelopeKey after the key was destroyed = %d, %q, %v", v2, id2, err)
	}
}

func TestRewrap(t *testing.T) {
	oldKey := keyFor(t, 1, "old")
	newKey := keyFor(t, 2, "new")
	ad := []byte("secret:9;name:hf-token;version:4")
	plaintext := []byte("hf_rewrap_test_token")
	env, err := Seal(newStream("rewrap"), oldKey, plaintext, ad)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Rewrap(newStream("rewrap 2"), keyring(oldKey), newKey, env, ad)
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}

	if !bytes.Equal(out[offDataNonce:], env[offDataNonce:]) {
		t.Errorf("Rewrap changed the data nonce or ciphertext")
	}
	if bytes.Equal(out[offWrapNonce:offWrapped], env[offWrapNonce:offWrapped]) {
		t.Errorf("Rewrap reused the wrap nonce")
	}
	if len(out) != len(env) {
		t.Errorf("rewrapped envelope is %d bytes, want %d", len(out), len(env))
	}
	if v, id, err := EnvelopeKey(out); err != nil || v != 2 || id != newKey.ID() {
		t.Errorf("rewrapped header names v%d %s (%v), want v2 %s", v, id, err, newKey.ID())
	}

	cases := []struct {
		name    string
		keys    func(uint32) *MasterKey
		wantErr error
	}{
		{"new key opens it", keyring(newKey), nil},
		{"keyring with both opens it", keyring(oldKey, newKey), nil},
		{"old key alone cannot", keyring(oldKey), ErrUnknownKey},
		{"old key relabelled as v2 cannot", keyring(mustKey(t, 2, rawFor("old"))), ErrIntegrity},
		{"another v2 cannot", keyring(keyFor(t, 2, "impostor")), ErrIntegrity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(tc.keys, out, ad)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Open error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got.Reveal(), plaintext) {
				t.Errorf("Open = %q, %v; want the plaintext", got.Reveal(), err)
			}
		})
	}

	t.Run("ad stays bound", func(t *testing.T) {
		if _, err := Open(keyring(newKey), out, []byte("secret:9;name:hf-token;version:5")); !errors.Is(err, ErrIntegrity) {
			t.Errorf("Open with other ad error = %v, want ErrIntegrity", err)
		}
	})

	t.Run("chain of rotations", func(t *testing.T) {
		ring := keyring(oldKey, newKey)
		cur := env
		for v := uint32(3); v <= 5; v++ {
			next := keyFor(t, v, fmt.Sprint("chain ", v))
			var err error
			cur, err = Rewrap(nil, ring, next, cur, ad)
			if err != nil {
				t.Fatalf("Rewrap to v%d: %v", v, err)
			}
			ring = keyring(next)
		}
		if got, err := Open(ring, cur, ad); err != nil || !bytes.Equal(got.Reveal(), plaintext) {
			t.Errorf("after three rotations Open = %q, %v", got.Reveal(), err)
		}
	})

	t.Run("to the same key", func(t *testing.T) {
		same, err := Rewrap(nil, keyring(oldKey), oldKey, env, ad)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Open(keyring(oldKey), same, ad); err != nil || !bytes.Equal(got.Reveal(), plaintext) {
			t.Errorf("Open = %q, %v", got.Reveal(), err)
		}
	})
}

func TestRewrapRefuses(t *testing.T) {
	oldKey := keyFor(t, 1, "old")
	newKey := keyFor(t, 2, "new")
	ad := []byte("ad")
	env, err := Seal(nil, oldKey, []byte("value"), ad)
	if err != nil {
		t.Fatal(err)
	}
	dataTampered := bytes.Clone(env)
	dataTampered[len(dataTampered)-1] ^= 0x80

	cases := []struct {
		name     string
		rand     *streamReader
		keys     func(uint32) *MasterKey
		to       *MasterKey
		envelope []byte
		ad       []byte
		wantErr  error // nil: any error
	}{
		{"data tampered (the wrapped key is intact)", nil, keyring(oldKey), newKey, dataTampered, ad, ErrIntegrity},
		{"wrong ad", nil, keyring(oldKey), newKey, env, []byte("other"), ErrIntegrity},
		{"old key not held", nil, keyring(newKey), newKey, env, ad, ErrUnknownKey},
		{"malformed", nil, keyring(oldKey), newKey, env[:50], ad, ErrMalformed},
		{"nil target", nil, keyring(oldKey), nil, env, ad, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Rewrap(nil, tc.keys, tc.to, tc.envelope, tc.ad)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("Rewrap error = %v, want %v", err, tc.wantErr)
			}
			if out != nil {
				t.Errorf("Rewrap returned an envelope with its error")
			}
		})
	}
	t.Run("failing rand", func(t *testing.T) {
		if _, err := Rewrap(failingReader{}, keyring(oldKey), newKey, env, ad); !errors.Is(err, errEntropy) {
			t.Errorf("Rewrap error = %v, want the reader's error", err)
		}
	})
}

// TestEnvelopeErrorsNeverLeak runs every failing path with a planted
// plaintext and checks that no error carries the plaintext or a key.
func TestEnvelopeErrorsNeverLeak(t *testing.T) {
	const plain = "sk-CANARY-envelope-error-leak-check"
	k := keyFor(t, 1, "leak")
	other := keyFor(t, 1, "leak other")
	to := keyFor(t, 2, "leak to")
	env, err := Seal(nil, k, []byte(plain), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	for i := 0; i < len(env); i += 7 {
		bad := bytes.Clone(env)
		bad[i] ^= 0x40
		_, err := Open(keyring(k), bad, []byte("ad"))
		errs = append(errs, err)
		_, err = Rewrap(nil, keyring(k), to, bad, []byte("ad"))
		errs = append(errs, err)
	}
	_, err = Open(keyring(other), env, []byte("ad"))
	errs = append(errs, err)
	_, err = Open(keyring(k), env, []byte("ad2"))
	errs = append(errs, err)
	_, err = Open(keyring(k), env[:len(env)-1], []byte("ad"))
	errs = append(errs, err)
	_, err = Open(keyring(), env, []byte("ad"))
	errs = append(errs, err)

	for _, err := range errs {
		if err == nil {
			t.Fatal("a corrupted envelope opened")
		}
		msg := err.Error()
		assertNoLeak(t, "error", msg, []byte(plain))
		for _, key := range []*MasterKey{k, other, to} {
			assertNoLeak(t, "error", msg, key.key.Reveal())
		}
		if !strings.HasPrefix(msg, "secret: ") {
			t.Errorf("error %q does not say where it comes from", msg)
		}
	}
}
