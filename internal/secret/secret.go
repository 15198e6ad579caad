package secret

import (
	"crypto/subtle"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unsafe"
)

// Redacted is what a [Secret] prints, logs and marshals to instead of its
// bytes.
const Redacted = "[REDACTED]"

// ErrNotSerializable is returned by [Secret.MarshalBinary], and through it
// by encoding/gob and other binary encoders, so that a Secret is never
// written out by accident. To store a secret, encrypt it with [Seal].
var ErrNotSerializable = errors.New("secret: a Secret cannot be serialized; encrypt it with secret.Seal or call Reveal deliberately")

// Secret holds secret bytes in memory and never prints itself.
//
// The zero value is an empty secret. Copies of a Secret share the same bytes,
// so [Secret.Destroy] on one copy empties all of them. Compare with
// [Secret.Equal], not ==, which compares identity.
type Secret struct {
	// p is a *buffer, stored as an unsafe.Pointer on purpose. fmt cannot
	// call methods on unexported struct fields, so a Secret held in an
	// unexported field of another struct is printed by reflection. A typed
	// pointer is not enough: for a verb that does not suit pointers (%s,
	// %q, ...) fmt prints the value again at depth 0 and follows the
	// pointer, and reflective dumpers such as go-spew follow every pointer.
	// Nothing follows an unsafe.Pointer; it prints as an address.
	p unsafe.Pointer
}

// buffer is the shared storage of a Secret.
type buffer struct {
	b []byte
}

// New returns a Secret holding a copy of b. The caller may zero b afterwards.
func New(b []byte) Secret {
	if len(b) == 0 {
		return Secret{}
	}
	return own(append(make([]byte, 0, len(b)), b...))
}

// own wraps b without copying it. The Secret takes ownership: the caller
// must not use b afterwards except through the Secret.
func own(b []byte) Secret {
	if len(b) == 0 {
		return Secret{}
	}
	return Secret{p: unsafe.Pointer(&buffer{b: b})}
}

// FromString returns a Secret holding a copy of s. The string itself cannot
// be zeroed, so prefer [New] when the secret is already in a byte slice.
func FromString(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return own([]byte(s))
}

// Reveal returns the underlying bytes. The caller must not retain or modify
// them: they are shared with every copy of the Secret and zeroed by
// [Secret.Destroy]. It returns nil for an empty or destroyed Secret.
func (s Secret) Reveal() []byte {
	if s.p == nil {
		return nil
	}
	return s.buf().b
}

// buf returns the shared storage, or nil for the zero Secret.
func (s Secret) buf() *buffer { return (*buffer)(s.p) }

// RevealString returns the bytes as a string. The string is a copy that
// cannot be zeroed, so use it only where an API demands a string (an HTTP
// header, say) and prefer [Secret.Reveal] elsewhere.
func (s Secret) RevealString() string {
	return string(s.Reveal())
}

// Len returns the number of secret bytes.
func (s Secret) Len() int {
	return len(s.Reveal())
}

// IsZero reports whether the Secret holds no bytes (the zero value, an empty
// input, or a destroyed Secret).
func (s Secret) IsZero() bool {
	return s.Len() == 0
}

// Equal reports whether s and o hold the same bytes, in time that depends
// only on their lengths, not on their contents, so that comparing a guess
// against a secret does not reveal how much of the guess was right.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare(s.Reveal(), o.Reveal()) == 1
}

// Destroy zeroes the bytes in place and empties the Secret. Every copy of
// the Secret shares the bytes, so all of them become empty. It must not be
// called while another goroutine is using the Secret. Destroying an empty
// Secret does nothing.
func (s Secret) Destroy() {
	if s.p == nil {
		return
	}
	b := s.buf()
	clear(b.b)
	b.b = nil
}

// String returns [Redacted].
func (s Secret) String() string { return Redacted }

// GoString returns [Redacted], so %#v does not print the bytes either.
func (s Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %q,
// %x, %X, %d, ...) prints [Redacted]. Without it, verbs such as %x or %d
// would bypass String and format the bytes. A width pads the output, so
// redacted values still line up in tables; precision is ignored.
func (s Secret) Format(f fmt.State, verb rune) {
	writePadded(f, Redacted)
}

// writePadded writes text to f honouring the width and '-' flag of the verb.
func writePadded(f fmt.State, text string) {
	if w, ok := f.Width(); ok && w > len(text) {
		pad := strings.Repeat(" ", w-len(text))
		if f.Flag('-') {
			text += pad
		} else {
			text = pad + text
		}
	}
	_, _ = io.WriteString(f, text)
}

// MarshalJSON returns the JSON string "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(`"` + Redacted + `"`), nil
}

// MarshalText returns [Redacted]. It covers encoding/xml, YAML encoders and
// anything else that uses encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) {
	return []byte(Redacted), nil
}

// MarshalBinary always fails with [ErrNotSerializable]. A binary encoding
// could not be told apart from real data, so instead of writing a
// placeholder it stops encoders such as encoding/gob outright.
func (s Secret) MarshalBinary() ([]byte, error) {
	return nil, ErrNotSerializable
}

// LogValue implements slog.LogValuer so that log/slog handlers record
// [Redacted].
func (s Secret) LogValue() slog.Value {
	return slog.StringValue(Redacted)
}

// The interfaces through which a Secret could otherwise leak.
var (
	_ fmt.Stringer             = Secret{}
	_ fmt.GoStringer           = Secret{}
	_ fmt.Formatter            = Secret{}
	_ slog.LogValuer           = Secret{}
	_ encoding.TextMarshaler   = Secret{}
	_ encoding.BinaryMarshaler = Secret{}
	_ json.Marshaler           = Secret{}
)
