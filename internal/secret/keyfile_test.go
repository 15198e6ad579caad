package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parseRaw is a key whose encodings use every alphabet-specific character:
// it starts with fb ff bf, which is "+/+/" in the standard alphabet and
// "-_-_" in the URL alphabet, so a parser that mixes them up fails.
var parseRaw = append([]byte{0xfb, 0xff, 0xbf}, seq(0x10, KeySize-3)...)

func TestParseKeyAccepts(t *testing.T) {
	std := base64.StdEncoding.EncodeToString(parseRaw)
	if !strings.HasPrefix(std, "+/+/") {
		t.Fatalf("fixture broken: standard encoding %q does not start with +/+/", std)
	}
	cases := []struct {
		name string
		text string
	}{
		{"standard padded", std},
		{"standard unpadded", base64.RawStdEncoding.EncodeToString(parseRaw)},
		{"URL padded", base64.URLEncoding.EncodeToString(parseRaw)},
		{"URL unpadded", base64.RawURLEncoding.EncodeToString(parseRaw)},
		{"trailing newline", std + "\n"},
		{"CRLF", std + "\r\n"},
		{"surrounding whitespace", " \t\n" + std + " \n\n"},
		{"URL unpadded with newline", base64.RawURLEncoding.EncodeToString(parseRaw) + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey([]byte(tc.text))
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tc.text, err)
			}
			if !got.Equal(New(parseRaw)) {
				t.Errorf("ParseKey(%q) = %x, want %x", tc.text, got.Reveal(), parseRaw)
			}
		})
	}
}

func TestParseKeyRejects(t *testing.T) {
	const canary = "CANARYc4n4ryZ9"
	std := base64.StdEncoding.EncodeToString(parseRaw)
	cases := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"whitespace only", " \n\t "},
		{"garbage with canary", "not a key! " + canary + " ###"},
		{"canary base64 of wrong length", canary + canary + "AAAA"},
		{"31 bytes", base64.StdEncoding.EncodeToString(parseRaw[:31])},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(bytes.Clone(parseRaw), 1))},
		{"16 bytes", base64.StdEncoding.EncodeToString(parseRaw[:16])},
		{"64 bytes", base64.StdEncoding.EncodeToString(bytes.Repeat(parseRaw, 2))},
		{"hex instead of base64", "fbffbf101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c"},
		{"mixed alphabets", "-/" + std[2:]},
		{"padding in the middle", std[:20] + "=" + std[21:]},
		{"double padding", std + "="},
		{"interior space", std[:20] + " " + std[20:]},
		{"non-canonical trailing bits", std[:42] + "B="},
		{"truncated", std[:40]},
		{"far too long", strings.Repeat(canary, 400)},
		{"NUL bytes", "\x00\x00\x00\x00" + std},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey([]byte(tc.text))
			if err == nil {
				t.Fatalf("ParseKey(%q) = %x, want an error", tc.text, got.Reveal())
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("error %q does not wrap ErrInvalidKey", err)
			}
			if !got.IsZero() {
				t.Errorf("ParseKey returned a non-empty Secret with its error")
			}
			msg := err.Error()
			if strings.Contains(msg, canary) {
				t.Errorf("error contains the planted canary: %q", msg)
			}
			if trimmed := strings.TrimSpace(tc.text); len(trimmed) >= 8 && strings.Contains(msg, trimmed) {
				t.Errorf("error contains the input: %q", msg)
			}
			if !strings.Contains(msg, "openssl rand -base64 32") {
				t.Errorf("error %q does not say how to make a valid key", msg)
			}
		})
	}
}

// writeFile writes content to name in dir with exactly mode perm (the
// umask does not apply to Chmod).
func writeFile(t *testing.T, dir, name, content string, perm fs.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadKeyFilePermissions(t *testing.T) {
	text := base64.StdEncoding.EncodeToString(parseRaw) + "\n"
	cases := []struct {
		perm    fs.FileMode
		refused bool
	}{
		{0o600, false},
		{0o400, false},
		{0o700, false},
		{0o644, true},
		{0o640, true},
		{0o604, true},
		{0o660, true},
		{0o620, true},
		{0o602, true},
		{0o601, true},
		{0o610, true},
		{0o666, true},
	}
	for _, tc := range cases {
		t.Run(tc.perm.String(), func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "master.key", text, tc.perm)
			got, err := ReadKeyFile(path)
			if !tc.refused || !permsEnforced {
				if err != nil {
					t.Fatalf("ReadKeyFile(mode %04o): %v", tc.perm, err)
				}
				if !got.Equal(New(parseRaw)) {
					t.Errorf("ReadKeyFile(mode %04o) = %x, want %x", tc.perm, got.Reveal(), parseRaw)
				}
				return
			}
			if !errors.Is(err, ErrInsecureKeyFile) {
				t.Fatalf("ReadKeyFile(mode %04o) error = %v, want ErrInsecureKeyFile", tc.perm, err)
			}
			if want := "chmod 600 " + path; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
			if !got.IsZero() {
				t.Errorf("refused file still returned a key")
			}
			assertNoLeak(t, "error", err.Error(), parseRaw)
			if strings.Contains(err.Error(), strings.TrimSpace(text)) {
				t.Errorf("error contains the key text: %q", err)
			}
		})
	}
}

func TestReadKeyFileErrors(t *testing.T) {
	const canary = "CANARYkeyfile7Q"
	dir := t.TempDir()
	cases := []struct {
		name    string
		path    string
		wantErr error
	}{
		{"missing", filepath.Join(dir, "missing.key"), fs.ErrNotExist},
		{"directory", dir, ErrInvalidKey},
		{"empty", writeFile(t, dir, "empty.key", "", 0o600), ErrInvalidKey},
		{"garbage with canary", writeFile(t, dir, "garbage.key", "password="+canary+"\n", 0o600), ErrInvalidKey},
		{"wrong length", writeFile(t, dir, "short.key", base64.StdEncoding.EncodeToString(parseRaw[:20]), 0o600), ErrInvalidKey},
		{"too large", writeFile(t, dir, "big.key", strings.Repeat("A", maxKeyFileSize+1), 0o600), ErrInvalidKey},
		{"key followed by junk", writeFile(t, dir, "junk.key", base64.StdEncoding.EncodeToString(parseRaw)+"\n"+canary+"\n", 0o600), ErrInvalidKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadKeyFile(tc.path)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ReadKeyFile() error = %v, want %v", err, tc.wantErr)
			}
			if !got.IsZero() {
				t.Errorf("ReadKeyFile returned a key with its error")
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error contains the file's content: %q", err)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestWriteKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	k, err := GenerateMasterKey(newStream("write key file"), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(path, k.Encode()); err != nil {
		t.Fatalf("WriteKeyFile: %v", err)
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if permsEnforced && info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", info.Mode().Perm())
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := k.Encode().RevealString() + "\n"; string(content) != want {
		t.Errorf("file content = %q, want the encoded key and a newline", content)
	}

	got, err := ReadKeyFile(path)
	if err != nil {
		t.Fatalf("ReadKeyFile: %v", err)
	}
	back, err := NewMasterKey(2, got.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if back.ID() != k.ID() {
		t.Errorf("key read back has ID %s, want %s", back.ID(), k.ID())
	}
	assertOnlyFiles(t, dir, "master.key")
}

func TestWriteKeyFileOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "master.key", "old content, world-readable\n", 0o644)
	k := mustKey(t, 1, parseRaw)
	if err := WriteKeyFile(path, k.Encode()); err != nil {
		t.Fatalf("WriteKeyFile over an existing file: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if permsEnforced && info.Mode().Perm() != 0o600 {
		t.Errorf("overwritten key file mode = %04o, want 0600", info.Mode().Perm())
	}
	got, err := ReadKeyFile(path)
	if err != nil {
		t.Fatalf("ReadKeyFile after overwrite: %v", err)
	}
	if !got.Equal(New(parseRaw)) {
		t.Errorf("overwritten file holds %x, want %x", got.Reveal(), parseRaw)
	}
	assertOnlyFiles(t, dir, "master.key")
}

func TestWriteKeyFileRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := WriteKeyFile("rel.key", mustKey(t, 1, parseRaw).Encode()); err != nil {
		t.Fatalf("WriteKeyFile(relative path): %v", err)
	}
	got, err := ReadKeyFile(filepath.Join(dir, "rel.key"))
	if err != nil || !got.Equal(New(parseRaw)) {
		t.Errorf("ReadKeyFile after relative write = %x, %v", got.Reveal(), err)
	}
}

func TestWriteKeyFileRefuses(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		path    string
		key     Secret
		wantErr error
	}{
		{"raw key bytes instead of text", filepath.Join(dir, "raw.key"), New(parseRaw), ErrInvalidKey},
		{"empty secret", filepath.Join(dir, "empty.key"), Secret{}, ErrInvalidKey},
		{"text of the wrong length", filepath.Join(dir, "short.key"), FromString(base64.StdEncoding.EncodeToString(parseRaw[:16])), ErrInvalidKey},
		{"missing directory", filepath.Join(dir, "no", "such", "dir.key"), mustKey(t, 1, parseRaw).Encode(), fs.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteKeyFile(tc.path, tc.key)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("WriteKeyFile() error = %v, want %v", err, tc.wantErr)
			}
			assertNoLeak(t, "error", err.Error(), parseRaw)
			if _, statErr := os.Stat(tc.path); !errors.Is(statErr, fs.ErrNotExist) {
				t.Errorf("a refused write left a file at %s", tc.path)
			}
		})
	}
	assertOnlyFiles(t, dir)
}

// assertOnlyFiles fails if dir holds anything but the named files (such as
// a temporary file left behind).
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("directory holds %q, want exactly %q", got, names)
	}
}
