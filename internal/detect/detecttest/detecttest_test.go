package detecttest_test

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/detect"
	"github.com/wardenproject/warden/internal/detect/detecttest"
	"github.com/wardenproject/warden/internal/keys"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		tmpl  string
		want  *regexp.Regexp // the whole text
		spans int
	}{
		{"plain text", regexp.MustCompile(`^plain text$`), 0},
		{"k=«{A:40}»", regexp.MustCompile(`^k=[A-Za-z0-9]{40}$`), 1},
		{"{a:5}{U:5}{L:5}{h:5}{H:5}{d:5}", regexp.MustCompile(`^[a-z0-9]{5}[A-Z0-9]{5}[A-Za-z]{5}[0-9a-f]{5}[0-9A-F]{5}[0-9]{5}$`), 0},
		{"«{b:8}» and «{u:8}»", regexp.MustCompile(`^[A-Za-z0-9+/]{8} and [A-Za-z0-9_-]{8}$`), 2},
		{"{not a directive} {A:} {Z:3}", regexp.MustCompile(`^\{not a directive\} \{A:\} \{Z:3\}$`), 0},
		{"«ghp_{gh}»", regexp.MustCompile(`^ghp_[A-Za-z0-9]{36}$`), 1},
		{"«{wdn}»", regexp.MustCompile(`^wdn_[A-Za-z0-9]{40}$`), 1},
		{"«{jwt}»", regexp.MustCompile(`^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`), 1},
		{"«{pem:RSA PRIVATE KEY}»", regexp.MustCompile(`^-----BEGIN RSA PRIVATE KEY-----\n(?s:.+)\n-----END RSA PRIVATE KEY-----$`), 1},
		{`"«{pemjson:PRIVATE KEY}»"`, regexp.MustCompile(`^"-----BEGIN PRIVATE KEY-----\\n[^\n]+\\n-----END PRIVATE KEY-----"$`), 1},
		{"«é»", regexp.MustCompile(`^é$`), 1},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			text, spans := detecttest.NewGen(1).Expand(t, tt.tmpl)
			if !tt.want.MatchString(text) {
				t.Errorf("Expand = %q, want a match of %s", text, tt.want)
			}
			if len(spans) != tt.spans {
				t.Fatalf("%d spans %v, want %d", len(spans), spans, tt.spans)
			}
			for _, s := range spans {
				if s.Start < 0 || s.Start >= s.End || s.End > len(text) {
					t.Errorf("span %+v out of %d bytes", s, len(text))
				}
			}
		})
	}
}

// The same seed gives the same text; another seed, another.
func TestExpandIsSeeded(t *testing.T) {
	const tmpl = "{A:20} {gh} {wdn} {jwt} {pem:EC PRIVATE KEY}"
	a, _ := detecttest.NewGen(7).Expand(t, tmpl)
	b, _ := detecttest.NewGen(7).Expand(t, tmpl)
	c, _ := detecttest.NewGen(8).Expand(t, tmpl)
	if a != b {
		t.Error("seed 7 gave two different texts")
	}
	if a == c {
		t.Error("seeds 7 and 8 gave the same text")
	}
}

// Spans mark exactly the text between the marks.
func TestExpandSpans(t *testing.T) {
	g := detecttest.NewGen(2)
	text, spans := g.Expand(t, "a «{d:3}» b «{L:4}»")
	if len(spans) != 2 {
		t.Fatalf("spans %v", spans)
	}
	if got := text[spans[0].Start:spans[0].End]; len(got) != 3 || strings.Trim(got, detecttest.Digits) != "" {
		t.Errorf("first span %q", got)
	}
	if spans[1].End != len(text) || spans[1].End-spans[1].Start != 4 {
		t.Errorf("second span %+v of %q", spans[1], text)
	}
}

// fatalTB records a failure and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestExpandUnbalanced(t *testing.T) {
	for _, tmpl := range []string{"«{A:4}", "{A:4}»", "««x»»"} {
		tb := &fatalTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			detecttest.NewGen(1).Expand(tb, tmpl)
		}()
		<-done
		if tb.msg == "" {
			t.Errorf("Expand(%q) did not fail", tmpl)
		}
	}
}

// The structured values pass the checks the rules and the key package
// make of them.
func TestExpandStructured(t *testing.T) {
	g := detecttest.NewGen(3)
	d := detect.NewSecrets(detect.SecretsOptions{})
	for range 20 {
		tok, _ := g.Expand(t, "ghp_{gh}")
		if fs := d.Detect(nil, tok); len(fs) != 1 || !fs[0].Verified {
			t.Errorf("%q: checksum not verified: %+v", tok, fs)
		}
		wdn, _ := g.Expand(t, "{wdn}")
		if !keys.Valid(wdn) {
			t.Errorf("%q is not a valid Warden key", wdn)
		}
		jwt, _ := g.Expand(t, "{jwt}")
		for _, part := range strings.Split(jwt, ".")[:2] {
			raw, err := base64.RawURLEncoding.DecodeString(part)
			if err != nil || !json.Valid(raw) {
				t.Errorf("JWT part %q: not base64url JSON (%v)", part, err)
			}
		}
		for _, label := range []string{"RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK"} {
			text, _ := g.Expand(t, "{pem:"+label+"}")
			if label == "PGP PRIVATE KEY BLOCK" {
				continue // armour with a checksum line, not PEM
			}
			b, rest := pem.Decode([]byte(text))
			if b == nil || b.Type != label || len(rest) != 0 {
				t.Errorf("%s: not one PEM block: %q", label, text)
			}
		}
	}
}

func TestAlphabets(t *testing.T) {
	a := detecttest.Alphabets()
	if len(a) != 9 {
		t.Errorf("%d alphabets, want 9", len(a))
	}
	delete(a, "A")
	if _, ok := detecttest.Alphabets()["A"]; !ok {
		t.Error("changing the returned map changed the next one")
	}
	g := detecttest.NewGen(4)
	for x, chars := range detecttest.Alphabets() {
		s, _ := g.Expand(t, "{"+x+":200}")
		if strings.Trim(s, chars) != "" {
			t.Errorf("{%s:200} = %q, outside %q", x, s, chars)
		}
	}
}
