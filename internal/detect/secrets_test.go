package detect

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/wardenproject/warden/internal/detect/detecttest"
	"github.com/wardenproject/warden/internal/keys"
)

func TestIsPlaceholder(t *testing.T) {
	g := detecttest.NewGen(1)
	tests := []struct {
		s    string
		want bool
	}{
		{"", true},
		{"sk-...xxxx", true},
		{"your-api-key-here", true},
		{"<YOUR_KEY>", true},
		{"YOUR_OPENAI_API_KEY", true},
		{"sk-proj-your-key", true},
		{"xxxxxxxx", true},
		{"XXXXXXXXXXXXXXXXXXXXXXXXX", true},
		{"00000000000000000000000000000000", true},
		{"abcdefghijklmnopqrstuvwxyz", true},
		{"ZYXWVUT", true},
		{"x-123456-y", false},
		{"1234567890", true},
		{"abababababababab", true},
		{"AKIA" + "IOSFODNN7EXAMPLE", true},
		{"my-example-token-1", true},
		{"dummy_secret_value_123", true},
		{"changeme", true},
		{"REPLACE_WITH_YOUR_TOKEN", true},
		{"${OPENAI_API_KEY}", true},
		{"{{ .Values.apiKey }}", true},
		{"fake-token-abc123", true},
		{"sk-" + "*****", true},
		// Random values, and short words inside a word, are not
		// placeholders.
		{g.Chars(detecttest.Base62, 40), false},
		{g.Chars(detecttest.LowerHex, 32), false},
		{"k8sYourwayQ2p9Lm", false},
		{"Tr4ckDemonstr8r", false},
		{"abcde1", false},
	}
	for _, tt := range tests {
		if got := IsPlaceholder(tt.s); got != tt.want {
			t.Errorf("IsPlaceholder(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
	// Random keys of every alphabet and usual length pass.
	for alpha, chars := range detecttest.Alphabets() {
		for _, n := range []int{20, 32, 40, 64, 150} {
			for range 200 {
				if s := g.Chars(chars, n); IsPlaceholder(s) && alpha != "d" {
					t.Errorf("random %s string of %d taken for a placeholder: %q", alpha, n, s)
				}
			}
		}
	}
}

func TestSecretsOptions(t *testing.T) {
	if err := (SecretsOptions{Rules: []string{"openai_key", "jwt"}}).Validate(); err != nil {
		t.Errorf("known rules: %v", err)
	}
	err := SecretsOptions{Rules: []string{"openai_key", "opneai_key"}}.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "detect: unknown secret rule opneai_key;") {
		t.Errorf("unknown rule: got %v, want an error naming only opneai_key", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("NewSecrets with an unknown rule did not panic")
			}
		}()
		NewSecrets(SecretsOptions{Rules: []string{"nope"}})
	}()

	g := detecttest.NewGen(2)
	github, _ := g.Expand(t, "GITHUB_TOKEN=ghp_{gh}")
	generic, _ := g.Expand(t, `db_password = "{A:24}"`)
	text := github + "\n" + generic
	tests := []struct {
		name string
		opts SecretsOptions
		want []string
	}{
		{"default", SecretsOptions{}, []string{"github_token"}},
		{"with generic", SecretsOptions{Generic: true}, []string{"github_token", GenericSecret}},
		{"one rule", SecretsOptions{Rules: []string{"jwt"}}, nil},
		// Alone, generic_secret finds the token too: nothing more
		// specific claims it.
		{"generic only", SecretsOptions{Rules: []string{GenericSecret}}, []string{GenericSecret, GenericSecret}},
		{"rule and generic", SecretsOptions{Rules: []string{"github_token"}, Generic: true}, []string{"github_token", GenericSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range NewSecrets(tt.opts).Detect(nil, text) {
				got = append(got, f.Type)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("found %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGitHubChecksum(t *testing.T) {
	d := NewSecrets(SecretsOptions{Rules: []string{"github_token"}})
	g := detecttest.NewGen(3)
	for range 100 {
		tok, _ := g.Expand(t, "ghp_{gh}")
		fs := d.Detect(nil, tok)
		if len(fs) != 1 || !fs[0].Verified || fs[0].Confidence != VerifiedConfidence {
			t.Fatalf("valid token: %+v", fs)
		}
		// Change one character of the random part: still a token, but
		// the checksum no longer vouches for it.
		b := []byte(tok)
		b[10] = map[bool]byte{true: 'a', false: 'b'}[b[10] != 'a']
		fs = d.Detect(nil, string(b))
		if len(fs) != 1 || fs[0].Verified || fs[0].Confidence >= VerifiedConfidence {
			t.Fatalf("token with a bad checksum: %+v", fs)
		}
	}
	// Fine-grained tokens have no checksum to verify.
	pat, _ := g.Expand(t, "github_pat_{A:22}_{A:59}")
	if fs := d.Detect(nil, pat); len(fs) != 1 || fs[0].Verified {
		t.Fatalf("fine-grained token: %+v", fs)
	}
}

func TestWardenKey(t *testing.T) {
	d := NewSecrets(SecretsOptions{Generic: true})
	for range 50 {
		k, err := keys.Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key := k.RevealString()
		text := "Authorization: Bearer " + key
		fs := d.Detect(nil, text)
		if len(fs) != 1 || fs[0].Type != "warden_key" || !fs[0].Verified || text[fs[0].Start:fs[0].End] != key {
			t.Fatalf("generated key: %+v", fs)
		}
		// Any single change breaks the checksum, and then it is no key
		// at all: not a warden_key, and not a generic secret either.
		for _, i := range []int{4, 20, len(key) - 1} {
			b := []byte(key)
			b[i] = map[bool]byte{true: 'Q', false: 'R'}[b[i] != 'Q']
			tampered := "WARDEN_API_KEY=" + string(b)
			if fs := d.Detect(nil, tampered); len(fs) != 0 {
				t.Fatalf("key with a bad checksum found: %+v", fs)
			}
		}
	}
}

func TestJWT(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	sig := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdefghij-signature-bytes"))
	tests := []struct {
		name     string
		token    string
		found    bool
		verified bool
	}{
		{"header and payload decode", enc(`{"alg":"HS256","typ":"JWT"}`) + "." + enc(`{"sub":"u1","exp":1900000000}`) + "." + sig, true, true},
		{"payload is not JSON", enc(`{"alg":"HS256"}`) + "." + enc("binary payload, not json") + "." + sig, true, false},
		{"header without alg", enc(`{"typ":"JWT","kid":"k1"}`) + "." + enc(`{"sub":"u1"}`) + "." + sig, false, false},
		{"header is not JSON", "eyJ" + enc("not json at all, really") + "." + enc(`{"sub":"u1"}`) + "." + sig, false, false},
		{"signature too short", enc(`{"alg":"HS256"}`) + "." + enc(`{"sub":"u1"}`) + ".abc", false, false},
	}
	d := NewSecrets(SecretsOptions{Rules: []string{"jwt"}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "token=" + tt.token + "; path=/"
			fs := d.Detect(nil, text)
			if !tt.found {
				if len(fs) != 0 {
					t.Fatalf("found %+v", fs)
				}
				return
			}
			if len(fs) != 1 || text[fs[0].Start:fs[0].End] != tt.token || fs[0].Verified != tt.verified {
				t.Fatalf("got %s, want the token, verified %v", describe(fs, text), tt.verified)
			}
		})
	}
}

// Keys made by the standard library and x/crypto, in every PEM flavour
// they write, are found and verified.
func TestPrivateKeyReal(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	openssh, err := ssh.MarshalPrivateKey(edKey, "deploy key")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]*pem.Block{
		"PKCS#1 RSA":     {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)},
		"PKCS#8 RSA":     {Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(rsaKey))},
		"SEC 1 EC":       {Type: "EC PRIVATE KEY", Bytes: must(x509.MarshalECPrivateKey(ecKey))},
		"PKCS#8 EC":      {Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(ecKey))},
		"PKCS#8 Ed25519": {Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(edKey))},
		"OpenSSH":        openssh,
	}
	d := NewSecrets(SecretsOptions{Generic: true})
	for name, b := range blocks {
		t.Run(name, func(t *testing.T) {
			block := strings.TrimSpace(string(pem.EncodeToMemory(b)))
			escaped := strings.ReplaceAll(block, "\n", `\n`)
			crlf := strings.ReplaceAll(block, "\n", "\r\n")
			for _, text := range []string{
				"key:\n" + block + "\n",
				`{"private_key": "` + escaped + `\n"}`,
				"\r\n" + crlf + "\r\n",
			} {
				fs := d.Detect(nil, text)
				if len(fs) != 1 || fs[0].Type != "private_key" || !fs[0].Verified {
					t.Fatalf("got %+v", fs)
				}
				got := text[fs[0].Start:fs[0].End]
				if !strings.HasPrefix(got, "-----BEGIN ") || !strings.HasSuffix(got, "PRIVATE KEY-----") || len(got) < len(block) {
					t.Fatalf("span %q is not the whole block", got)
				}
			}
		})
	}
	// A public key or certificate is not a private key.
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&ecKey.PublicKey))})
	if fs := d.Detect(nil, string(pub)); len(fs) != 0 {
		t.Errorf("public key: %+v", fs)
	}
}

// A specific finding hides a generic one over the same value.
func TestGenericYieldsToSpecific(t *testing.T) {
	d := NewSecrets(SecretsOptions{Generic: true})
	g := detecttest.NewGen(4)
	for _, tmpl := range []string{
		`OPENAI_API_KEY="«sk-proj-{u:74}T3BlbkFJ{u:74}»"`,
		`stripe_secret_key: «sk_live_{A:24}»`,
		`{"SecretAccessKey": "«{b:40}»"}`,
		`auth_token = '«{jwt}»'`,
	} {
		text, spans := g.Expand(t, tmpl)
		fs := d.Detect(nil, text)
		if len(fs) != 1 || fs[0].Type == GenericSecret || fs[0].Start != spans[0].Start || fs[0].End != spans[0].End {
			t.Errorf("%q: got %s, want one specific finding", text, describe(fs, text))
		}
	}
}

// Detect appends to dst and leaves what was there alone.
func TestDetectAppends(t *testing.T) {
	d := NewSecrets(SecretsOptions{Generic: true})
	g := detecttest.NewGen(5)
	text, _ := g.Expand(t, "a=ghp_{gh} b=sk-ant-api03-{u:93}AA")
	prior := Finding{Type: "email", Class: PII, Start: 1, End: 2, Confidence: 1}
	dst := append(make([]Finding, 0, 8), prior)
	dst = d.Detect(dst, text)
	if len(dst) != 3 || dst[0] != prior {
		t.Fatalf("got %+v", dst)
	}
	if dst = d.Detect(dst[:0], "nothing to see here"); len(dst) != 0 {
		t.Fatalf("clean text: %+v", dst)
	}
}

// Detection is byte-wise: a zero-width space (or any non-ASCII byte) inside
// a key splits it, and no finding spans the split. Non-ASCII text around a
// key does not hide it.
func TestUnicode(t *testing.T) {
	d := NewSecrets(SecretsOptions{Generic: true})
	for _, r := range Rules() {
		for i, tmpl := range r.Positives {
			g := detecttest.NewGen(seedFor(r.ID, "unicode", tmpl))
			text, spans := g.Expand(t, tmpl)
			s := spans[0]
			mid := s.Start + (s.End-s.Start)/2
			for _, sep := range []string{"\u200b", "\u00a0", "é"} {
				split := text[:mid] + sep + text[mid:]
				for _, f := range d.Detect(nil, split) {
					if f.Start <= mid && f.End >= mid+len(sep) {
						t.Errorf("%s/%d: %q inside the key, yet %s", r.ID, i, sep, describe([]Finding{f}, split))
					}
				}
			}
			// Wrapped in non-ASCII text, the key is found where it is.
			wrapped := "秘密: «" + text + "» — ok"
			off := len("秘密: «")
			want := detecttest.Span{Start: s.Start + off, End: s.End + off}
			if fs := d.Detect(nil, wrapped); !hasFinding(fs, r.ID, want) {
				t.Errorf("%s/%d: not found in non-ASCII text: %s", r.ID, i, describe(fs, wrapped))
			}
		}
	}
}

// fullScan runs each rule's regular expression over the whole text, with
// the same checks: the detector without its pre-filter.
func fullScan(rs []*Rule, text string) []Finding {
	var fs []Finding
	for _, r := range rs {
		fs = r.find(fs, text, window{0, len(text)})
	}
	return tidy(fs, 0)
}

// The pre-filter and the windows change nothing: on documents mixing
// secrets and ordinary text, the detector finds what running every
// regular expression over the whole text finds. (Rules whose keywords are
// context, not part of the secret, are left out: without the keyword
// their regular expressions alone match far more.)
func TestPrefilterLosesNothing(t *testing.T) {
	var ids []string
	var rs []*Rule
	for _, r := range rules {
		if !r.near {
			ids = append(ids, r.ID)
			rs = append(rs, r)
		}
	}
	d := NewSecrets(SecretsOptions{Rules: ids})
	g := detecttest.NewGen(6)
	fillers := []string{
		"The quick brown fox jumps over the lazy dog.",
		"func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {",
		"task-force, desk-top, ask-me, risk_level, key := range m",
		"token = next(tokens)",
		"eyJust kidding.",
		"-----BEGIN CERTIFICATE-----",
		"",
	}
	found := 0
	for i := range 300 {
		var b strings.Builder
		for range 1 + g.IntN(8) {
			if g.IntN(2) == 0 {
				r := rs[g.IntN(len(rs))]
				text, _ := g.Expand(t, r.Positives[g.IntN(len(r.Positives))])
				b.WriteString(text)
			} else {
				b.WriteString(fillers[g.IntN(len(fillers))])
			}
			b.WriteString([]string{"\n", " ", "", "\t", "\r\n"}[g.IntN(5)])
		}
		text := b.String()
		got := d.Detect(nil, text)
		want := fullScan(rs, text)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("document %d: with pre-filter %s\nwithout %s\ntext %q", i, describe(got, text), describe(want, text), text)
		}
		found += len(got)
	}
	if found < 300 {
		t.Fatalf("only %d findings in 300 documents: the comparison proves little", found)
	}
}

// One detector serves many goroutines (run with -race).
func TestDetectConcurrent(t *testing.T) {
	d := NewSecrets(SecretsOptions{Generic: true})
	g := detecttest.NewGen(7)
	texts := make([]string, 16)
	wants := make([]string, 16)
	for i := range texts {
		texts[i], _ = g.Expand(t, "x=ghp_{gh}\npassword: {A:30}\n"+strings.Repeat("filler text ", i))
		wants[i] = fmt.Sprint(d.Detect(nil, texts[i]))
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				j := (i + w) % len(texts)
				if got := fmt.Sprint(d.Detect(nil, texts[j])); got != wants[j] {
					t.Errorf("text %d: got %s, want %s", j, got, wants[j])
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzSecrets checks that detection never panics and that every finding
// is a well-formed span of the text with a known type.
func FuzzSecrets(f *testing.F) {
	g := detecttest.NewGen(8)
	for _, r := range rules {
		for _, tmpl := range append(slices.Clone(r.Positives), r.Negatives...) {
			text, _ := g.Expand(f, tmpl)
			f.Add(text)
		}
	}
	f.Add("")
	f.Add("sk-proj-\x00\xff")
	f.Add(strings.Repeat("key=", 100))
	d := NewSecrets(SecretsOptions{Generic: true})
	f.Fuzz(func(t *testing.T, text string) {
		for _, f := range d.Detect(nil, text) {
			if f.Start < 0 || f.End > len(text) || f.Start >= f.End {
				t.Fatalf("bad span %+v in %d bytes", f, len(text))
			}
			if f.Class != Secret || ruleByID(f.Type) == nil || f.Confidence <= 0 || f.Confidence > 1 {
				t.Fatalf("bad finding %+v", f)
			}
		}
	})
}
