package secret

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// canary is planted in Secrets; no output below may contain it in any form.
const canary = "sk-CANARY-9f3b2c7e1d-do-not-print"

func TestSecretBasics(t *testing.T) {
	t.Run("New copies its input", func(t *testing.T) {
		in := []byte(canary)
		s := New(in)
		in[0] = 'X'
		if got := s.RevealString(); got != canary {
			t.Fatalf("RevealString() = %q after caller modified its slice, want %q", got, canary)
		}
	})

	cases := []struct {
		name    string
		s       Secret
		want    string
		wantLen int
	}{
		{"New", New([]byte(canary)), canary, len(canary)},
		{"FromString", FromString(canary), canary, len(canary)},
		{"New empty", New([]byte{}), "", 0},
		{"New nil", New(nil), "", 0},
		{"FromString empty", FromString(""), "", 0},
		{"zero value", Secret{}, "", 0},
		{"binary bytes", New([]byte{0, 0xff, 0x80}), "\x00\xff\x80", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.RevealString(); got != tc.want {
				t.Errorf("RevealString() = %q, want %q", got, tc.want)
			}
			if got := string(tc.s.Reveal()); got != tc.want {
				t.Errorf("Reveal() = %q, want %q", got, tc.want)
			}
			if got := tc.s.Len(); got != tc.wantLen {
				t.Errorf("Len() = %d, want %d", got, tc.wantLen)
			}
			if got := tc.s.IsZero(); got != (tc.wantLen == 0) {
				t.Errorf("IsZero() = %v, want %v", got, tc.wantLen == 0)
			}
		})
	}
}

func TestSecretEqual(t *testing.T) {
	cases := []struct {
		name string
		a, b Secret
		want bool
	}{
		{"same bytes", FromString("abc"), New([]byte("abc")), true},
		{"same Secret", FromString("abc"), FromString("abc"), true},
		{"differ in last byte", FromString("abc"), FromString("abd"), false},
		{"differ in first byte", FromString("abc"), FromString("xbc"), false},
		{"prefix", FromString("abc"), FromString("ab"), false},
		{"empty vs non-empty", Secret{}, FromString("a"), false},
		{"zero vs empty", Secret{}, New([]byte{}), true},
		{"zero vs zero", Secret{}, Secret{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Equal(tc.b); got != tc.want {
				t.Errorf("a.Equal(b) = %v, want %v", got, tc.want)
			}
			if got := tc.b.Equal(tc.a); got != tc.want {
				t.Errorf("b.Equal(a) = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSecretDestroy(t *testing.T) {
	s := FromString(canary)
	shared := s // copies share the bytes
	raw := s.Reveal()
	s.Destroy()

	if !bytes.Equal(raw, make([]byte, len(canary))) {
		t.Errorf("bytes after Destroy = %q, want all zeros", raw)
	}
	for name, c := range map[string]Secret{"destroyed": s, "copy": shared} {
		if !c.IsZero() || c.Len() != 0 || c.Reveal() != nil || c.RevealString() != "" {
			t.Errorf("%s Secret after Destroy: IsZero=%v Len=%d, want empty", name, c.IsZero(), c.Len())
		}
	}
	// Destroying twice, or destroying the zero value, is harmless.
	s.Destroy()
	Secret{}.Destroy()
	if !s.IsZero() {
		t.Errorf("Secret not empty after second Destroy")
	}
}

// leakStructs hold a Secret every way another package might.
type exportedField struct {
	Name string
	Key  Secret
}

type unexportedField struct {
	name string
	key  Secret
}

type pointerField struct {
	Key *Secret
	key *Secret
}

type nested struct {
	Inner exportedField
	inner unexportedField
	List  []Secret
	Map   map[string]Secret
}

func TestSecretFormatNeverLeaks(t *testing.T) {
	s := FromString(canary)
	verbs := []string{
		"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%O", "%b",
		"%c", "%U", "%e", "%f", "%g", "%t", "%p", "%10v", "%-14s|", "%.3s", "%#x", "% x", "%+q", "%#q",
	}
	values := map[string]any{
		"value":   s,
		"pointer": &s,
		"exported field": exportedField{
			Name: "openai", Key: s,
		},
		"pointer to exported field struct": &exportedField{Name: "openai", Key: s},
		"unexported field":                 unexportedField{name: "openai", key: s},
		"pointer to unexported field":      &unexportedField{name: "openai", key: s},
		"pointer fields":                   pointerField{Key: &s, key: &s},
		"nested": nested{
			Inner: exportedField{Key: s},
			inner: unexportedField{key: s},
			List:  []Secret{s, s},
			Map:   map[string]Secret{"k": s},
		},
		"slice":     []Secret{s},
		"map value": map[string]Secret{"openai": s},
		"any slice": []any{s, &s},
	}
	for name, v := range values {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, v)
			assertNoLeak(t, fmt.Sprintf("Sprintf(%q, %s)", verb, name), out, []byte(canary))
		}
	}
}

func TestSecretFormatOutput(t *testing.T) {
	s := FromString(canary)
	cases := []struct {
		format string
		arg    any
		want   string
	}{
		{"%v", s, Redacted},
		{"%+v", s, Redacted},
		{"%#v", s, Redacted},
		{"%s", s, Redacted},
		{"%q", s, Redacted},
		{"%x", s, Redacted},
		{"%X", s, Redacted},
		{"%d", s, Redacted},
		{"%v", &s, Redacted},
		{"%s", &s, Redacted},
		{"%14s", s, "    " + Redacted},
		{"%-14s|", s, Redacted + "    |"},
		{"%.3s", s, Redacted},
		{"%T", s, "secret.Secret"},
		{"%v", exportedField{Name: "openai", Key: s}, "{openai " + Redacted + "}"},
		{"%+v", exportedField{Name: "openai", Key: s}, "{Name:openai Key:" + Redacted + "}"},
		{"%#v", exportedField{Name: "openai", Key: s}, `secret.exportedField{Name:"openai", Key:` + Redacted + "}"},
		{"%v", []Secret{s, {}}, "[" + Redacted + " " + Redacted + "]"},
		{"%v", Secret{}, Redacted}, // even an empty secret does not reveal that it is empty
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			if got := fmt.Sprintf(tc.format, tc.arg); got != tc.want {
				t.Errorf("Sprintf(%q) = %q, want %q", tc.format, got, tc.want)
			}
		})
	}

	// %p is not valid for a struct; fmt reports the misuse and prints the
	// value with its methods switched off, which shows only an address.
	if got := fmt.Sprintf("%p", s); !strings.HasPrefix(got, "%!p(secret.Secret={0x") {
		t.Errorf("Sprintf(%%p) = %q, want a bad-verb report showing only an address", got)
	}

	printers := map[string]string{
		"String":   s.String(),
		"GoString": s.GoString(),
		"Sprint":   fmt.Sprint(s),
		"Sprintln": fmt.Sprintln(s),
		"Sprint *": fmt.Sprint(&s),
	}
	for name, got := range printers {
		if strings.TrimSpace(got) != Redacted {
			t.Errorf("%s = %q, want %q", name, got, Redacted)
		}
	}

	var buf bytes.Buffer
	log.New(&buf, "", 0).Printf("key=%v key=%s key=%x", s, s, s)
	if got, want := buf.String(), "key=[REDACTED] key=[REDACTED] key=[REDACTED]\n"; got != want {
		t.Errorf("log.Printf wrote %q, want %q", got, want)
	}
}

func TestSecretMarshalNeverLeaks(t *testing.T) {
	s := FromString(canary)
	cases := []struct {
		name    string
		marshal func() ([]byte, error)
		want    string
	}{
		{"json value", func() ([]byte, error) { return json.Marshal(s) }, `"[REDACTED]"`},
		{"json pointer", func() ([]byte, error) { return json.Marshal(&s) }, `"[REDACTED]"`},
		{"json struct field", func() ([]byte, error) { return json.Marshal(exportedField{Name: "n", Key: s}) }, `{"Name":"n","Key":"[REDACTED]"}`},
		{"json unexported field", func() ([]byte, error) {
			return json.Marshal(struct{ Client unexportedField }{unexportedField{name: "n", key: s}})
		}, `{"Client":{}}`},
		{"json pointer field", func() ([]byte, error) { return json.Marshal(pointerField{Key: &s, key: &s}) }, `{"Key":"[REDACTED]"}`},
		{"json slice", func() ([]byte, error) { return json.Marshal([]Secret{s}) }, `["[REDACTED]"]`},
		{"json map", func() ([]byte, error) { return json.Marshal(map[string]Secret{"k": s}) }, `{"k":"[REDACTED]"}`},
		{"json indent", func() ([]byte, error) { return json.MarshalIndent(exportedField{Key: s}, "", " ") }, "{\n \"Name\": \"\",\n \"Key\": \"[REDACTED]\"\n}"},
		{"text", s.MarshalText, Redacted},
		{"xml struct field", func() ([]byte, error) {
			return xml.Marshal(struct {
				XMLName xml.Name `xml:"cred"`
				Key     Secret   `xml:"key"`
				Attr    Secret   `xml:"attr,attr"`
			}{Key: s, Attr: s})
		}, `<cred attr="[REDACTED]"><key>[REDACTED]</key></cred>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.marshal()
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			assertNoLeak(t, tc.name, string(got), []byte(canary))
		})
	}
}

func TestSecretBinaryEncodersRefused(t *testing.T) {
	s := FromString(canary)
	if b, err := s.MarshalBinary(); !errors.Is(err, ErrNotSerializable) || b != nil {
		t.Errorf("MarshalBinary() = %q, %v; want nil, ErrNotSerializable", b, err)
	}

	cases := map[string]any{
		"gob value":        s,
		"gob struct field": exportedField{Name: "n", Key: s},
		"gob pointer":      &exportedField{Name: "n", Key: s},
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			err := gob.NewEncoder(&buf).Encode(v)
			if err == nil {
				t.Fatalf("gob encoded a Secret without error")
			}
			if !strings.Contains(err.Error(), ErrNotSerializable.Error()) {
				t.Errorf("gob error = %q, want it to explain that a Secret cannot be serialized", err)
			}
			assertNoLeak(t, name+" output", buf.String(), []byte(canary))
			assertNoLeak(t, name+" error", err.Error(), []byte(canary))
		})
	}
}

func TestSecretSlogNeverLeaks(t *testing.T) {
	s := FromString(canary)
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	}
	logs := []struct {
		name string
		log  func(*slog.Logger)
		// wantRedacted is whether the output must show the placeholder
		// (it cannot for unexported fields, which JSON drops).
		wantRedacted bool
	}{
		{"Any value", func(l *slog.Logger) { l.Info("m", "key", s) }, true},
		{"Any pointer", func(l *slog.Logger) { l.Info("m", slog.Any("key", &s)) }, true},
		{"With", func(l *slog.Logger) { l.With("key", s).Info("m") }, true},
		{"Group", func(l *slog.Logger) { l.Info("m", slog.Group("cred", slog.Any("key", s))) }, true},
		{"struct with exported field", func(l *slog.Logger) { l.Info("m", "cred", exportedField{Name: "n", Key: s}) }, true},
		{"struct with unexported field", func(l *slog.Logger) { l.Info("m", "cred", unexportedField{name: "n", key: s}) }, false},
		{"nested", func(l *slog.Logger) {
			l.Info("m", "v", nested{Inner: exportedField{Key: s}, inner: unexportedField{key: s}, List: []Secret{s}, Map: map[string]Secret{"k": s}})
		}, true},
		{"error attr", func(l *slog.Logger) { l.Error("m", "err", fmt.Errorf("bad key %v", s)) }, true},
		{"message", func(l *slog.Logger) { l.Info(fmt.Sprintf("key is %s", s)) }, true},
	}
	for hname, newHandler := range handlers {
		for _, tc := range logs {
			t.Run(hname+"/"+tc.name, func(t *testing.T) {
				var buf bytes.Buffer
				tc.log(slog.New(newHandler(&buf)))
				out := buf.String()
				if out == "" {
					t.Fatal("handler wrote nothing")
				}
				if tc.wantRedacted && !strings.Contains(out, Redacted) {
					t.Errorf("log output lacks %s:\n%s", Redacted, out)
				}
				assertNoLeak(t, "log output", out, []byte(canary))
			})
		}
	}
}

func TestSecretInErrorsNeverLeaks(t *testing.T) {
	s := FromString(canary)
	base := fmt.Errorf("upstream rejected key %v", s)
	errs := map[string]error{
		"Errorf %v":        base,
		"Errorf %s %q %x":  fmt.Errorf("key %s %q %x", s, s, s),
		"Errorf %+v":       fmt.Errorf("cred %+v", exportedField{Key: s}),
		"wrapped %w":       fmt.Errorf("call provider: %w", base),
		"double wrapped":   fmt.Errorf("request: %w", fmt.Errorf("call provider: %w", base)),
		"errors.Join":      errors.Join(base, fmt.Errorf("second: %v", &s)),
		"unexported field": fmt.Errorf("client %+v", unexportedField{key: s}),
	}
	for name, err := range errs {
		t.Run(name, func(t *testing.T) {
			for _, out := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				assertNoLeak(t, name, out, []byte(canary))
			}
			if name != "unexported field" && !strings.Contains(err.Error(), Redacted) {
				t.Errorf("error %q lacks %s", err, Redacted)
			}
		})
	}
	if !errors.Is(fmt.Errorf("call provider: %w", base), base) {
		t.Errorf("wrapping an error that mentions a Secret broke errors.Is")
	}
}

// reflectDump walks v the way deep dumpers do (go-spew, the diffs testify
// prints on a failed assertion): it follows every pointer, interface, slice,
// map and struct field, exported or not, and writes out every string and
// byte it reaches. It stops only at what no dumper can follow: unsafe
// pointers and funcs.
func reflectDump(v reflect.Value, seen map[uintptr]bool, out *bytes.Buffer) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		reflectDump(v.Elem(), seen, out)
	case reflect.Interface:
		if !v.IsNil() {
			reflectDump(v.Elem(), seen, out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			reflectDump(v.Field(i), seen, out)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			for i := range v.Len() {
				out.WriteByte(byte(v.Index(i).Uint()))
			}
			return
		}
		for i := range v.Len() {
			reflectDump(v.Index(i), seen, out)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			reflectDump(iter.Key(), seen, out)
			reflectDump(iter.Value(), seen, out)
		}
	case reflect.String:
		out.WriteString(v.String())
	}
}

func TestSecretUnreachableByReflection(t *testing.T) {
	s := FromString(canary)
	values := map[string]any{
		"value":            s,
		"pointer":          &s,
		"unexported field": &unexportedField{name: "visible-name", key: s},
		"nested": nested{
			inner: unexportedField{key: s},
			List:  []Secret{s},
			Map:   map[string]Secret{"k": s},
		},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			reflectDump(reflect.ValueOf(v), map[uintptr]bool{}, &out)
			// The walker must have seen the other fields, or it proves nothing.
			if name == "unexported field" && !strings.Contains(out.String(), "visible-name") {
				t.Fatalf("walker did not reach the struct's fields: %q", out.String())
			}
			assertNoLeak(t, "reflective dump", out.String(), []byte(canary))
		})
	}
}
