package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// FuzzOpen feeds arbitrary envelopes and associated data to Open, Rewrap and
// EnvelopeKey. None may panic; Open and Rewrap may succeed only on a genuine
// (envelope, ad) pair sealed below, since producing any other that
// authenticates would be a forgery; every failure must wrap one of the
// package's sentinel errors.
func FuzzOpen(f *testing.F) {
	k1 := mustKey(f, 1, katMasterRaw)
	k2 := keyFor(f, 2, "fuzz")
	to := keyFor(f, 3, "fuzz target")
	keys := keyring(k1, k2)

	type sealed struct{ envelope, ad, plaintext []byte }
	var genuine []sealed
	rng := newStream("fuzz open")
	for _, s := range []struct {
		k             *MasterKey
		plaintext, ad string
	}{
		{k1, katPlaintext, katAD},
		{k1, "", ""},
		{k2, "sk-ant-fuzz", "secret:1;name:a;version:1"},
		{k2, strings.Repeat("z", 300), "ad"},
	} {
		env, err := Seal(rng, s.k, []byte(s.plaintext), []byte(s.ad))
		if err != nil {
			f.Fatal(err)
		}
		genuine = append(genuine, sealed{env, []byte(s.ad), []byte(s.plaintext)})
		f.Add(env, []byte(s.ad))
		f.Add(env[:Overhead], []byte(s.ad))
		f.Add(env, []byte(s.ad+"x"))
	}
	f.Add([]byte(nil), []byte(nil))
	f.Add([]byte("WDE\x01"), []byte(nil))
	f.Add(append([]byte("WDE\x02"), make([]byte, 200)...), []byte(nil))

	find := func(envelope, ad []byte) (plaintext []byte, ok bool) {
		for _, g := range genuine {
			if bytes.Equal(g.envelope, envelope) && bytes.Equal(g.ad, ad) {
				return g.plaintext, true
			}
		}
		return nil, false
	}
	sentinel := func(err error) bool {
		return errors.Is(err, ErrMalformed) || errors.Is(err, ErrIntegrity) || errors.Is(err, ErrUnknownKey)
	}

	f.Fuzz(func(t *testing.T, envelope, ad []byte) {
		want, isGenuine := find(envelope, ad)

		got, err := Open(keys, envelope, ad)
		switch {
		case err == nil && !isGenuine:
			t.Fatalf("Open accepted an envelope that was never sealed: %x (ad %q)", envelope, ad)
		case err == nil && !bytes.Equal(got.Reveal(), want):
			t.Fatalf("Open of a genuine envelope gave the wrong plaintext")
		case err != nil && isGenuine:
			t.Fatalf("Open of a genuine envelope failed: %v", err)
		case err != nil && !sentinel(err):
			t.Fatalf("Open error wraps no sentinel: %v", err)
		}

		v, id, herr := EnvelopeKey(envelope)
		if err == nil && (herr != nil || keys(v) == nil || keys(v).ID() != id) {
			t.Fatalf("EnvelopeKey of an envelope that opened = %d, %q, %v", v, id, herr)
		}
		if herr != nil && !errors.Is(herr, ErrMalformed) {
			t.Fatalf("EnvelopeKey error is not ErrMalformed: %v", herr)
		}

		out, rerr := Rewrap(rng, keys, to, envelope, ad)
		if (rerr == nil) != isGenuine {
			t.Fatalf("Rewrap error = %v for an envelope that is genuine: %v", rerr, isGenuine)
		}
		if rerr != nil {
			if !sentinel(rerr) {
				t.Fatalf("Rewrap error wraps no sentinel: %v", rerr)
			}
			return
		}
		back, err := Open(keyring(to), out, ad)
		if err != nil || !bytes.Equal(back.Reveal(), want) {
			t.Fatalf("rewrapped envelope does not open to the plaintext: %v", err)
		}
	})
}

// FuzzParseKey feeds arbitrary text to ParseKey. It must not panic; what it
// accepts must be exactly KeySize bytes that round-trip through standard
// base64; what it refuses must wrap ErrInvalidKey and not echo the input.
func FuzzParseKey(f *testing.F) {
	raw := seq(0xf0, KeySize)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw) + "\n",
		" " + base64.StdEncoding.EncodeToString(raw[:31]) + " ",
		"", "====", "-+/_", "hello world",
		strings.Repeat("A", 44), strings.Repeat("A", 43) + "=",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		input := bytes.Clone(text)
		key, err := ParseKey(text)
		if !bytes.Equal(text, input) {
			t.Fatalf("ParseKey modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error does not wrap ErrInvalidKey: %v", err)
			}
			if !key.IsZero() {
				t.Fatalf("ParseKey returned a key with its error")
			}
			// Short inputs can match words of the message by chance
			// ("key", "bytes"); 16 bytes cannot, short of a fuzzer that
			// reads the message.
			if trimmed := bytes.TrimSpace(text); len(trimmed) >= 16 && strings.Contains(err.Error(), string(trimmed)) {
				t.Fatalf("error echoes the input: %v", err)
			}
			return
		}
		if key.Len() != KeySize {
			t.Fatalf("ParseKey accepted %d bytes, want %d", key.Len(), KeySize)
		}
		again, err := ParseKey([]byte(base64.StdEncoding.EncodeToString(key.Reveal())))
		if err != nil || !again.Equal(key) {
			t.Fatalf("accepted key does not round-trip through standard base64: %v", err)
		}
	})
}
