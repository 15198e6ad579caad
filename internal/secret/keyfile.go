package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// ErrInsecureKeyFile is wrapped by the error [ReadKeyFile] returns when group
// or other users have any permission on the key file.
var ErrInsecureKeyFile = errors.New("key file is accessible to other users")

// maxKeyFileSize bounds how much of a key file is read. A key is 44 bytes of
// text; the slack allows for surrounding whitespace, and the bound stops a
// misconfigured path (a log file, a device) from being slurped into memory.
const maxKeyFileSize = 4096

// keyHint tells an operator how to make a valid key.
const keyHint = "want 32 random bytes in base64, e.g. from `openssl rand -base64 32`"

// ParseKey decodes a master key from base64 text: the standard or URL-safe
// alphabet, with or without padding, with surrounding whitespace (such as a
// trailing newline) ignored. It must decode to exactly [KeySize] bytes.
//
// Errors wrap [ErrInvalidKey] and never contain the input, so they can be
// logged even when the input was a real key with a typo.
func ParseKey(text []byte) (Secret, error) {
	text = bytes.TrimSpace(text)
	if len(text) == 0 {
		return Secret{}, fmt.Errorf("secret: parse key: %w: key text is empty; %s", ErrInvalidKey, keyHint)
	}
	if len(text) > maxKeyFileSize {
		return Secret{}, fmt.Errorf("secret: parse key: %w: key text is %d bytes long, far too long for a key; %s", ErrInvalidKey, len(text), keyHint)
	}
	enc := base64.StdEncoding
	if bytes.ContainsAny(text, "-_") {
		enc = base64.URLEncoding
	}
	// Padding is optional: accept it when the length says it is complete,
	// otherwise decode without it. A stray '=' elsewhere still fails.
	if len(text)%4 != 0 || !bytes.HasSuffix(text, []byte("=")) {
		enc = enc.WithPadding(base64.NoPadding)
	}
	// Strict refuses non-zero trailing bits, so each key has exactly one
	// text form per alphabet and padding choice.
	enc = enc.Strict()

	buf := make([]byte, enc.DecodedLen(len(text)))
	n, err := enc.Decode(buf, text)
	if err != nil {
		clear(buf)
		// The decoder's error names a byte offset, not the byte, so it
		// is not wrapped: the message below is all the caller needs.
		return Secret{}, fmt.Errorf("secret: parse key: %w: key text is not valid base64 (mixed alphabets, stray characters or bad padding); %s", ErrInvalidKey, keyHint)
	}
	if n != KeySize {
		clear(buf)
		return Secret{}, fmt.Errorf("secret: parse key: %w: key text decodes to %d bytes; %s", ErrInvalidKey, n, keyHint)
	}
	return own(buf[:n:n]), nil
}

// permsEnforced reports whether file permission bits mean anything here.
// Windows reports synthetic modes (0666 or 0444) and protects files with
// ACLs instead, so the check would refuse every key file there.
const permsEnforced = runtime.GOOS != "windows"

// ReadKeyFile reads a master key written as base64 text (see [ParseKey]) from
// the file at path. It refuses, wrapping [ErrInsecureKeyFile], a file that
// grants any permission to group or other users, and says to run
// "chmod 600 <path>". It also refuses anything but a regular file.
func ReadKeyFile(path string) (Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return Secret{}, fmt.Errorf("secret: read key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the mode checked is the mode of
	// the file read even if the path is swapped in between.
	info, err := f.Stat()
	if err != nil {
		return Secret{}, fmt.Errorf("secret: read key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return Secret{}, fmt.Errorf("secret: read key file %s: %w: not a regular file (mode %s); point it at the key file itself", path, ErrInvalidKey, info.Mode())
	}
	if perm := info.Mode().Perm(); permsEnforced && perm&0o077 != 0 {
		return Secret{}, fmt.Errorf("secret: read key file %s: %w (mode %04o); run: chmod 600 %s", path, ErrInsecureKeyFile, perm, path)
	}

	// Read into one fixed buffer, which is zeroed afterwards; io.ReadAll
	// would leave the key in the discarded buffers it grows through.
	buf := make([]byte, maxKeyFileSize+1)
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// A short file is the normal case.
	case err != nil:
		return Secret{}, fmt.Errorf("secret: read key file %s: %w", path, err)
	default:
		return Secret{}, fmt.Errorf("secret: read key file %s: %w: file is larger than %d bytes, which no key file is; check the path", path, ErrInvalidKey, maxKeyFileSize)
	}
	key, err := ParseKey(buf[:n])
	if err != nil {
		return Secret{}, fmt.Errorf("secret: read key file %s: %w", path, err)
	}
	return key, nil
}

// WriteKeyFile writes key, which must be key text as returned by
// [MasterKey.Encode] (it is checked with [ParseKey]), and a newline to the
// file at path, replacing any file there.
//
// The write is atomic: the key goes to a temporary file created with mode
// 0600 in the same directory, which is synced, renamed over path, and the
// directory synced, so that a crash leaves either the old file or the
// complete new one, never a truncated key. If path is a symbolic link, the
// link itself is replaced.
func WriteKeyFile(path string, key Secret) error {
	check, err := ParseKey(key.Reveal())
	if err != nil {
		return fmt.Errorf("secret: write key file %s: refusing to write a key that could not be read back (pass MasterKey.Encode()): %w", path, err)
	}
	check.Destroy()

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// os.CreateTemp creates the file with mode 0600 and a random name, so no
	// other user can open it while the key is being written.
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("secret: write key file %s: %w", path, err)
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()

	// Set the mode explicitly as well: it documents the intent and holds
	// even if CreateTemp's default ever changed.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("secret: write key file %s: %w", path, err)
	}
	if _, err := tmp.Write(key.Reveal()); err != nil {
		return fmt.Errorf("secret: write key file %s: %w", path, err)
	}
	if _, err := tmp.Write([]byte{'\n'}); err != nil {
		return fmt.Errorf("secret: write key file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("secret: write key file %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("secret: write key file %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("secret: write key file %s: %w", path, err)
	}
	committed = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("secret: write key file %s: the key was written but the directory could not be synced, so a crash may lose it: %w", path, err)
	}
	return nil
}

// syncDir flushes a directory entry (the rename) to disk. Windows cannot
// open a directory for syncing and its rename is already durable enough.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
