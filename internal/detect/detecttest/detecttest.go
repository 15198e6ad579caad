// Package detecttest makes fake secrets for tests. It is test support:
// only _test.go files should import it.
//
// Tests write no key-shaped literal into the repository. They hold
// templates instead (see detect.Rule.Positives) and expand them at run
// time with random values from a seeded source, so that every run of a
// test sees the same fake keys and nothing in the source looks like a live
// key to a scanner.
//
// A template is text in which {X:n} stands for n random characters of
// alphabet X (see [Alphabets]), {gh} for a GitHub token body with its
// CRC32 tail, {wdn} for a Warden key, {jwt} for a signed JSON Web Token,
// {pem:LABEL} for a PEM block and {pemjson:LABEL} for the same block as a
// JSON string. « and » mark the secret. Everything else, including a {
// that starts none of these, is literal.
package detecttest

import (
	cryptorand "crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/keys"
)

// The alphabets of the {X:n} directive; the comment after each is its
// letter X.
const (
	Base62     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"   // A
	LowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"                             // a
	UpperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"                             // U
	Letters    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"             // L
	LowerHex   = "0123456789abcdef"                                                 // h
	UpperHex   = "0123456789ABCDEF"                                                 // H
	Digits     = "0123456789"                                                       // d
	Base64     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" // b
	Base64URL  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" // u
)

// Alphabets returns the alphabets of the {X:n} directive by their letter
// X. The map is new on every call and the caller's to change.
func Alphabets() map[string]string {
	m := map[string]string{}
	for _, x := range "AaULhHdbu" {
		m[string(x)] = alphabet(byte(x))
	}
	return m
}

// alphabet returns the alphabet of letter x, or "" if there is none.
func alphabet(x byte) string {
	switch x {
	case 'A':
		return Base62
	case 'a':
		return LowerAlnum
	case 'U':
		return UpperAlnum
	case 'L':
		return Letters
	case 'h':
		return LowerHex
	case 'H':
		return UpperHex
	case 'd':
		return Digits
	case 'b':
		return Base64
	case 'u':
		return Base64URL
	}
	return ""
}

// checksumDigits is the digit order GitHub uses for the base62 checksum
// at the end of its tokens; it differs from [Base62].
const checksumDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var directive = regexp.MustCompile(`^\{(?:([AaULhHdbu]):([0-9]+)|(gh|wdn|jwt)|(pem|pemjson):([A-Z ]+))\}`)

// Span is the byte range text[Start:End] of a secret marked in a
// template.
type Span struct{ Start, End int }

// Gen expands templates with random values from a seeded source. A Gen is
// not safe for concurrent use.
type Gen struct {
	src *rand.ChaCha8
	rnd *rand.Rand
}

// NewGen returns a generator whose output is determined by seed.
func NewGen(seed uint64) *Gen {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	src := rand.NewChaCha8(s)
	return &Gen{src: src, rnd: rand.New(src)}
}

// IntN returns a random int in [0, n). It panics if n <= 0, as
// rand.IntN does.
func (g *Gen) IntN(n int) int { return g.rnd.IntN(n) }

// Shuffle shuffles n elements with swap, as rand.Shuffle does.
func (g *Gen) Shuffle(n int, swap func(i, j int)) { g.rnd.Shuffle(n, swap) }

// Chars returns n random bytes of alphabet.
func (g *Gen) Chars(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rnd.IntN(len(alphabet))]
	}
	return string(b)
}

// Expand fills tmpl and returns the text and the spans marked « » in it,
// in order. A template with unbalanced marks fails the test.
func (g *Gen) Expand(tb testing.TB, tmpl string) (text string, spans []Span) {
	tb.Helper()
	var b strings.Builder
	open := -1
	for i := 0; i < len(tmpl); {
		switch {
		case strings.HasPrefix(tmpl[i:], "«"):
			open = b.Len()
			i += len("«")
			continue
		case strings.HasPrefix(tmpl[i:], "»"):
			if open < 0 {
				tb.Fatalf("template %q: » without «", tmpl)
			}
			spans = append(spans, Span{open, b.Len()})
			open = -1
			i += len("»")
			continue
		case tmpl[i] == '{':
			if m := directive.FindStringSubmatch(tmpl[i:]); m != nil {
				b.WriteString(g.fill(tb, m))
				i += len(m[0])
				continue
			}
		}
		b.WriteByte(tmpl[i])
		i++
	}
	if open >= 0 {
		tb.Fatalf("template %q: « without »", tmpl)
	}
	return b.String(), spans
}

// fill returns the value of the directive that m, a submatch of
// directive, matched.
func (g *Gen) fill(tb testing.TB, m []string) string {
	tb.Helper()
	switch {
	case m[1] != "":
		n, err := strconv.Atoi(m[2])
		if err != nil {
			tb.Fatalf("directive %s: bad length: %v", m[0], err)
		}
		return g.Chars(alphabet(m[1][0]), n)
	case m[3] == "gh":
		return g.githubBody()
	case m[3] == "wdn":
		k, err := keys.Generate(g.src)
		if err != nil {
			tb.Fatalf("directive {wdn}: generate a Warden key: %v", err)
		}
		return k.RevealString()
	case m[3] == "jwt":
		return g.jwt()
	case m[4] == "pem":
		return g.pem(m[5])
	default: // pemjson
		return strings.ReplaceAll(g.pem(m[5]), "\n", `\n`)
	}
}

// githubBody is 30 random base62 characters and their CRC32 in base62.
func (g *Gen) githubBody() string {
	body := g.Chars(Base62, 30)
	return body + githubChecksum(crc32.ChecksumIEEE([]byte(body)))
}

// githubChecksum writes c as six base62 digits, zero-padded.
func githubChecksum(c uint32) string {
	var d [6]byte
	n := uint64(c)
	for i := 5; i >= 0; i-- {
		d[i] = checksumDigits[n%62]
		n /= 62
	}
	return string(d[:])
}

// jwt returns a token whose header and payload are real JSON, so that
// checks which decode them pass, with a random signature of the length
// its algorithm gives.
func (g *Gen) jwt() string {
	enc := base64.RawURLEncoding
	alg := []string{"HS256", "RS256", "ES256"}[g.rnd.IntN(3)]
	header := fmt.Sprintf(`{"alg":%q,"typ":"JWT","kid":%q}`, alg, g.Chars(LowerAlnum, 8))
	payload := fmt.Sprintf(`{"sub":%q,"iss":"https://auth.acme.test","iat":%d,"exp":%d}`,
		g.Chars(LowerAlnum, 12), 1700000000+g.rnd.IntN(1e8), 1800000000+g.rnd.IntN(1e8))
	sigLen := map[string]int{"HS256": 32, "RS256": 256, "ES256": 64}[alg]
	sig := make([]byte, sigLen)
	for i := range sig {
		sig[i] = byte(g.rnd.Uint32())
	}
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(sig)
}

// pem returns a block with the given label whose body decodes to what the
// label promises (a DER SEQUENCE, the OpenSSH magic, a PGP secret-key
// packet) followed by random bytes.
func (g *Gen) pem(label string) string {
	n := 300 + g.rnd.IntN(900)
	var body []byte
	switch {
	case strings.HasPrefix(label, "OPENSSH"):
		body = append([]byte("openssh-key-v1\x00"), make([]byte, n)...)
	case strings.HasPrefix(label, "PGP"):
		body = append([]byte{0x95, byte(n >> 8), byte(n)}, make([]byte, n)...)
	default:
		body = append([]byte{0x30, 0x82, byte(n >> 8), byte(n)}, make([]byte, n)...)
	}
	for i := len(body) - n; i < len(body); i++ {
		body[i] = byte(g.rnd.Uint32())
	}
	b64 := base64.StdEncoding.EncodeToString(body)
	var b strings.Builder
	b.WriteString("-----BEGIN " + label + "-----\n")
	if strings.HasPrefix(label, "PGP") {
		b.WriteString("Version: GnuPG v2\n\n")
	}
	for len(b64) > 64 {
		b.WriteString(b64[:64] + "\n")
		b64 = b64[64:]
	}
	b.WriteString(b64 + "\n")
	if strings.HasPrefix(label, "PGP") {
		b.WriteString("=" + g.Chars(Base64, 4) + "\n")
	}
	b.WriteString("-----END " + label + "-----")
	return b.String()
}

// Fake expands tmpl with a seed of its own, so that the fake key it makes
// is unique to the run: a canary whose appearance anywhere means it
// leaked.
func Fake(tb testing.TB, tmpl string) string {
	tb.Helper()
	var seed [8]byte
	if _, err := cryptorand.Read(seed[:]); err != nil {
		tb.Fatal(err)
	}
	text, _ := NewGen(binary.LittleEndian.Uint64(seed[:])).Expand(tb, tmpl)
	return text
}
