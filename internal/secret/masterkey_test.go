package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestNewMasterKey(t *testing.T) {
	cases := []struct {
		name    string
		version uint32
		raw     []byte
		wantErr error
	}{
		{"valid", 1, katMasterRaw, nil},
		{"max version", 1<<32 - 1, katMasterRaw, nil},
		{"version 0 is reserved", 0, katMasterRaw, ErrInvalidKey},
		{"31 bytes", 1, katMasterRaw[:31], ErrInvalidKey},
		{"33 bytes", 1, append(bytes.Clone(katMasterRaw), 0x60), ErrInvalidKey},
		{"16 bytes (AES-128)", 1, katMasterRaw[:16], ErrInvalidKey},
		{"empty", 1, nil, ErrInvalidKey},
		{"all zeros", 1, make([]byte, KeySize), ErrInvalidKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewMasterKey(tc.version, tc.raw)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || k != nil {
					t.Fatalf("NewMasterKey() = %v, %v; want nil, %v", k, err, tc.wantErr)
				}
				assertNoLeak(t, "error", err.Error(), tc.raw)
				return
			}
			if err != nil {
				t.Fatalf("NewMasterKey(): %v", err)
			}
			if k.Version() != tc.version {
				t.Errorf("Version() = %d, want %d", k.Version(), tc.version)
			}
		})
	}
}

func TestNewMasterKeyCopiesRaw(t *testing.T) {
	raw := bytes.Clone(katMasterRaw)
	k := mustKey(t, 1, raw)
	id := k.ID()
	raw[0] ^= 0xff
	clear(raw)
	if got := k.ID(); got != id {
		t.Errorf("ID changed from %s to %s after the caller modified its slice", id, got)
	}
	enc := k.Encode()
	if got, want := enc.RevealString(), base64.StdEncoding.EncodeToString(katMasterRaw); got != want {
		t.Errorf("Encode() changed after the caller modified its slice")
	}
}

// TestMasterKeyIDKnownAnswer pins the fingerprint algorithm. The expected
// values were computed outside Go (Python hmac/hashlib):
// HMAC-SHA256(key, "warden master key id v1")[:8].
func TestMasterKeyIDKnownAnswer(t *testing.T) {
	cases := []struct {
		name    string
		version uint32
		raw     []byte
		want    string
	}{
		{"key 40..5f", 7, katMasterRaw, "b5aa8412ef6c9eba"},
		{"same key, other version", 1, katMasterRaw, "b5aa8412ef6c9eba"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustKey(t, tc.version, tc.raw).ID(); got != tc.want {
				t.Errorf("ID() = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestMasterKeyIDShape(t *testing.T) {
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	seen := map[string]string{}
	for _, name := range []string{"a", "b", "c", "d"} {
		id := keyFor(t, 1, name).ID()
		if !hex16.MatchString(id) {
			t.Errorf("ID() = %q, want 16 lowercase hex characters", id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("keys %s and %s share ID %s", name, other, id)
		}
		seen[id] = name
	}
}

func TestMasterKeyEncode(t *testing.T) {
	k := mustKey(t, 3, katMasterRaw)
	enc := k.Encode()
	if got, want := enc.RevealString(), base64.StdEncoding.EncodeToString(katMasterRaw); got != want {
		t.Fatalf("Encode() = %q, want standard base64 of the raw key %q", got, want)
	}
	parsed, err := ParseKey(enc.Reveal())
	if err != nil {
		t.Fatalf("ParseKey(Encode()): %v", err)
	}
	back := mustKey(t, 3, parsed.Reveal())
	if back.ID() != k.ID() {
		t.Errorf("key read back from Encode has ID %s, want %s", back.ID(), k.ID())
	}
}

func TestGenerateMasterKey(t *testing.T) {
	t.Run("reads KeySize bytes from rand", func(t *testing.T) {
		k, err := GenerateMasterKey(&countingReader{next: 0x40}, 5)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := k.ID(), mustKey(t, 5, katMasterRaw).ID(); got != want || k.Version() != 5 {
			t.Errorf("generated v%d id %s, want v5 id %s", k.Version(), got, want)
		}
	})
	t.Run("nil rand uses crypto/rand", func(t *testing.T) {
		a, errA := GenerateMasterKey(nil, 1)
		b, errB := GenerateMasterKey(nil, 1)
		if errA != nil || errB != nil {
			t.Fatalf("GenerateMasterKey(nil): %v, %v", errA, errB)
		}
		if a.ID() == b.ID() {
			t.Errorf("two generated keys share ID %s", a.ID())
		}
	})
	t.Run("rand failure", func(t *testing.T) {
		k, err := GenerateMasterKey(failingReader{}, 1)
		if !errors.Is(err, errEntropy) || k != nil {
			t.Errorf("GenerateMasterKey(failing) = %v, %v; want nil and the reader's error", k, err)
		}
	})
	t.Run("short rand", func(t *testing.T) {
		k, err := GenerateMasterKey(bytes.NewReader(make([]byte, 10)), 1)
		if err == nil || k != nil {
			t.Errorf("GenerateMasterKey(10-byte reader) = %v, %v; want an error", k, err)
		}
	})
	t.Run("version 0", func(t *testing.T) {
		if _, err := GenerateMasterKey(nil, 0); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("GenerateMasterKey(version 0) error = %v, want ErrInvalidKey", err)
		}
	})
}

func TestMasterKeyDestroy(t *testing.T) {
	k := mustKey(t, 4, katMasterRaw)
	id := k.ID()
	raw := k.key.Reveal() // the bytes Destroy must zero
	env, err := Seal(newStream("destroy"), k, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}

	k.Destroy()

	if !bytes.Equal(raw, make([]byte, KeySize)) {
		t.Errorf("key bytes after Destroy = %x, want zeros", raw)
	}
	if k.ID() != id || k.Version() != 4 {
		t.Errorf("after Destroy: v%d id %s, want v4 id %s (public data stays)", k.Version(), k.ID(), id)
	}
	if !k.Encode().IsZero() {
		t.Errorf("Encode() after Destroy is not empty")
	}
	if !strings.Contains(k.String(), "destroyed") {
		t.Errorf("String() = %q, want it to say destroyed", k.String())
	}
	if _, err := Seal(nil, k, []byte("x"), nil); !errors.Is(err, ErrKeyDestroyed) {
		t.Errorf("Seal with destroyed key: error %v, want ErrKeyDestroyed", err)
	}
	if _, err := Open(keyring(k), env, nil); !errors.Is(err, ErrKeyDestroyed) {
		t.Errorf("Open with destroyed key: error %v, want ErrKeyDestroyed", err)
	}
	if _, err := Rewrap(nil, keyring(keyFor(t, 4, "other")), k, env, nil); !errors.Is(err, ErrKeyDestroyed) {
		t.Errorf("Rewrap to destroyed key: error %v, want ErrKeyDestroyed", err)
	}
	k.Destroy() // twice is harmless
	var nilKey *MasterKey
	nilKey.Destroy()
	if nilKey.Version() != 0 || nilKey.ID() != "" {
		t.Errorf("nil key: Version %d ID %q, want 0 and empty", nilKey.Version(), nilKey.ID())
	}
}

// masterHolder holds a MasterKey the ways another package might.
type masterHolder struct {
	Key   *MasterKey
	key   *MasterKey
	value MasterKey
	Value MasterKey
}

func TestMasterKeyNeverPrintsKey(t *testing.T) {
	k := mustKey(t, 9, katMasterRaw)
	secretForms := [][]byte{katMasterRaw, k.Encode().Reveal()}

	t.Run("exact output", func(t *testing.T) {
		want := "master key v9 (id b5aa8412ef6c9eba)"
		goWant := `&secret.MasterKey{Version: 9, ID: "b5aa8412ef6c9eba", Destroyed: false}`
		cases := map[string]struct{ got, want string }{
			"String":   {k.String(), want},
			"%v":       {fmt.Sprintf("%v", k), want},
			"%s":       {fmt.Sprintf("%s", k), want},
			"%x":       {fmt.Sprintf("%x", k), want},
			"%#v":      {fmt.Sprintf("%#v", k), goWant},
			"GoString": {k.GoString(), goWant},
			"nil":      {fmt.Sprint((*MasterKey)(nil)), "master key <nil>"},
		}
		for name, c := range cases {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", name, c.got, c.want)
			}
		}
	})

	t.Run("fmt verbs", func(t *testing.T) {
		holder := masterHolder{Key: k, key: k, value: *k, Value: *k}
		values := map[string]any{"pointer": k, "value": *k, "holder": holder, "holder pointer": &holder}
		for name, v := range values {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%p"} {
				out := fmt.Sprintf(verb, v)
				for _, b := range secretForms {
					assertNoLeak(t, fmt.Sprintf("Sprintf(%q, %s)", verb, name), out, b)
				}
			}
		}
	})

	t.Run("reflective dump", func(t *testing.T) {
		var out bytes.Buffer
		reflectDump(reflect.ValueOf(&masterHolder{Key: k, key: k, value: *k}), map[uintptr]bool{}, &out)
		for _, b := range secretForms {
			assertNoLeak(t, "reflective dump", out.String(), b)
		}
	})

	t.Run("json", func(t *testing.T) {
		out, err := json.Marshal(masterHolder{Key: k, Value: *k})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range secretForms {
			assertNoLeak(t, "json", string(out), b)
		}
	})

	t.Run("slog", func(t *testing.T) {
		for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
			"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		} {
			var buf bytes.Buffer
			slog.New(h(&buf)).Info("loaded", "master_key", k, "holder", masterHolder{Key: k})
			out := buf.String()
			if !strings.Contains(out, "b5aa8412ef6c9eba") || !strings.Contains(out, "9") {
				t.Errorf("%s log lacks the key version and ID:\n%s", name, out)
			}
			for _, b := range secretForms {
				assertNoLeak(t, name+" log", out, b)
			}
		}
	})
}
