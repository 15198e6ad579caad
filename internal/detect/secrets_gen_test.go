package detect

import (
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

// Fake secrets for the tests are made here, at run time, from the
// templates in the rule table (see Rule.Positives), so that nothing in the
// repository looks like a live key to a scanner.

// gen expands templates with random values from a seeded source.
type gen struct {
	src *rand.ChaCha8
	rnd *rand.Rand
}

func newGen(seed uint64) *gen {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	src := rand.NewChaCha8(s)
	return &gen{src: src, rnd: rand.New(src)}
}

// alphabets for the {X:n} directive.
var alphabets = map[string]string{
	"A": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	"a": "abcdefghijklmnopqrstuvwxyz0123456789",
	"U": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
	"L": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	"h": "0123456789abcdef",
	"H": "0123456789ABCDEF",
	"d": "0123456789",
	"b": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
	"u": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
}

var directive = regexp.MustCompile(`^\{(?:([AaULhHdbu]):([0-9]+)|(gh|wdn|jwt)|(pem|pemjson):([A-Z ]+))\}`)

// span is a marked secret in an expanded template.
type span struct{ start, end int }

// expand fills tmpl and returns the text and the spans marked « ».
func (g *gen) expand(tb testing.TB, tmpl string) (string, []span) {
	tb.Helper()
	var b strings.Builder
	var spans []span
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
			spans = append(spans, span{open, b.Len()})
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

func (g *gen) fill(tb testing.TB, m []string) string {
	switch {
	case m[1] != "":
		n, _ := strconv.Atoi(m[2])
		return g.chars(alphabets[m[1]], n)
	case m[3] == "gh":
		return g.githubBody()
	case m[3] == "wdn":
		k, err := keys.Generate(g.src)
		if err != nil {
			tb.Fatal(err)
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

func (g *gen) chars(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rnd.IntN(len(alphabet))]
	}
	return string(b)
}

// githubBody is 30 random base62 characters and their CRC32 in base62.
func (g *gen) githubBody() string {
	body := g.chars(alphabets["A"], 30)
	return body + base62Checksum(crc32.ChecksumIEEE([]byte(body)))
}

func base62Checksum(c uint32) string {
	var d [6]byte
	n := uint64(c)
	for i := 5; i >= 0; i-- {
		d[i] = base62[n%62]
		n /= 62
	}
	return string(d[:])
}

func (g *gen) jwt() string {
	enc := base64.RawURLEncoding
	alg := []string{"HS256", "RS256", "ES256"}[g.rnd.IntN(3)]
	header := fmt.Sprintf(`{"alg":%q,"typ":"JWT","kid":%q}`, alg, g.chars(alphabets["a"], 8))
	payload := fmt.Sprintf(`{"sub":%q,"iss":"https://auth.acme.test","iat":%d,"exp":%d}`,
		g.chars(alphabets["a"], 12), 1700000000+g.rnd.IntN(1e8), 1800000000+g.rnd.IntN(1e8))
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
func (g *gen) pem(label string) string {
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
		b.WriteString("=" + g.chars(alphabets["b"], 4) + "\n")
	}
	b.WriteString("-----END " + label + "-----")
	return b.String()
}
