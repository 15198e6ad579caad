package detect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
	"strings"

	"github.com/wardenproject/warden/internal/keys"
)

// base62 is the digit order of the checksums in GitHub tokens: digits,
// then upper case, then lower case.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// checkGitHubToken verifies the checksum of a classic token: its last six
// characters are the CRC32 (IEEE) of the 30 random characters before them,
// in base62, zero-padded. A classic token whose checksum does not match is
// kept unverified (it may be mistyped or truncated and padded, and still
// worth a look); fine-grained tokens carry no checksum that is documented.
func checkGitHubToken(s string) (ok, verified bool) {
	if len(s) != 40 || s[3] != '_' {
		return true, false
	}
	body := s[4:]
	c := uint64(crc32.ChecksumIEEE([]byte(body[:30])))
	for i := 35; i >= 30; i-- {
		if body[i] != base62[c%62] {
			return true, false
		}
		c /= 62
	}
	return true, true
}

// checkWardenKey accepts a Warden key only when its checksum matches: a
// wdn_ string with a bad checksum is not a key, whatever it looks like.
func checkWardenKey(s string) (ok, verified bool) {
	v := keys.Valid(s)
	return v, v
}

// checkJWT requires the header to decode to a JSON object with an "alg"
// member; the token is verified when the payload decodes to JSON too.
func checkJWT(s string) (ok, verified bool) {
	header, rest, _ := strings.Cut(s, ".")
	payload, _, _ := strings.Cut(rest, ".")
	h, err := decodeB64URL(header)
	if err != nil {
		return false, false
	}
	var hdr struct {
		Alg *string `json:"alg"`
	}
	if json.Unmarshal(h, &hdr) != nil || hdr.Alg == nil {
		return false, false
	}
	p, err := decodeB64URL(payload)
	if err != nil {
		return true, false
	}
	return true, json.Valid(p) && bytes.HasPrefix(bytes.TrimLeft(p, " \t\r\n"), []byte("{"))
}

// decodeB64URL decodes base64url with or without padding.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// checkPrivateKey looks inside a PEM block. A body too short to hold a key,
// or one with "..." or <...> in it, is documentation and is dropped. The
// block is verified when its base64 decodes to what the label promises: a
// DER SEQUENCE of exactly the decoded length (PKCS#1, SEC 1, PKCS#8), the
// openssh-key-v1 magic, or an OpenPGP secret-key packet.
//
// The body may be JSON- or code-escaped (\n), carry RFC 1421 headers
// (Proc-Type: ...) and, for PGP, an armor checksum line (=XXXX).
func checkPrivateKey(block string) (ok, verified bool) {
	// The BEGIN line ends at the second run of five dashes.
	open := strings.Index(block[5:], "-----")
	end := strings.LastIndex(block, "-----END")
	if open < 0 || end < 0 {
		return false, false
	}
	label := block[len("-----BEGIN ") : 5+open]
	body := block[5+open+5 : end]
	if strings.Contains(body, "...") || strings.ContainsAny(body, "<>") || strings.Contains(body, "xxxxx") || strings.Contains(body, "XXXXX") {
		return false, false
	}
	b64 := make([]byte, 0, len(body))
	for line := range strings.SplitSeq(unescapeNewlines(body), "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, ":") || strings.HasPrefix(line, "=") {
			continue // a header, or the PGP armor checksum
		}
		for i := 0; i < len(line); i++ {
			if base64Chars[line[i]] {
				b64 = append(b64, line[i])
			}
		}
	}
	if len(b64) < 40 {
		return false, false
	}
	der, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(string(b64), "="))
	if err != nil || len(der) == 0 {
		return true, false
	}
	switch {
	case strings.HasPrefix(label, "OPENSSH"):
		return true, bytes.HasPrefix(der, []byte("openssh-key-v1\x00"))
	case strings.HasPrefix(label, "PGP"):
		return true, pgpSecretKeyPacket(der[0])
	default:
		return true, derSequenceLen(der) == len(der)
	}
}

// unescapeNewlines turns the two-character escapes \n and \r into line
// breaks, so that a PEM block inside a JSON or source string splits into
// its lines.
func unescapeNewlines(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.NewReplacer(`\n`, "\n", `\r`, "\n").Replace(s)
}

// derSequenceLen returns the total length (header included) of the DER
// SEQUENCE that starts der, or -1 if der does not start with one.
func derSequenceLen(der []byte) int {
	if len(der) < 2 || der[0] != 0x30 {
		return -1
	}
	if der[1] < 0x80 {
		return 2 + int(der[1])
	}
	n := int(der[1] & 0x7f)
	if n == 0 || n > 3 || len(der) < 2+n {
		return -1
	}
	l := 0
	for _, b := range der[2 : 2+n] {
		l = l<<8 | int(b)
	}
	return 2 + n + l
}

// pgpSecretKeyPacket reports whether b starts an OpenPGP secret-key packet
// (tag 5), in the old or the new packet format.
func pgpSecretKeyPacket(b byte) bool {
	if b&0x80 == 0 {
		return false
	}
	if b&0x40 != 0 {
		return b&0x3f == 5
	}
	return (b>>2)&0x0f == 5
}

// acceptGeneric judges a value assigned to a secret-sounding name. It is
// the noise control of generic_secret, and deliberately conservative:
//
//   - names that describe a secret rather than hold one (api_key_id,
//     token_url, secret_name, public_key) do not count;
//   - wdn_ values are Warden keys or nothing, which warden_key decides;
//   - an unquoted value followed by "(", ",", "[" or "{" is code (a call,
//     an object field), and a dotted path of identifiers is a reference
//     (process.env.API_KEY, config.auth.token);
//   - URLs, file paths, placeholders, and values made only of words
//     (production-database-password) are not secrets;
//   - the value must mix at least two of upper case, lower case, digits
//     and symbols, and have a Shannon entropy of at least 3.1 bits per
//     byte (2.6 for hex-only values, whose alphabet caps them at 4.0).
//     Fewer than one random 20-character value in a thousand falls below
//     that (lower-case letters and digits average 3.9 bits, hex 3.4);
//     the entropy check mostly removes repetitive values, since the
//     checks above are what tell words and code from keys.
func acceptGeneric(c candidate) bool {
	n, v := strings.ToLower(c.name), c.secret
	// "author" holds "auth" ("authorization" is a credential); PASS:
	// starts a test result line.
	if strings.Contains(n, "public") || strings.Contains(n, "publishable") || c.name == "PASS" ||
		(strings.Contains(n, "author") && !strings.Contains(n, "authoriz")) {
		return false
	}
	for _, suffix := range descriptiveSuffixes {
		if strings.HasSuffix(n, suffix) {
			return false
		}
	}
	switch c.next {
	case '(', ',', '[', '{':
		return false
	}
	// A wdn_ value is a Warden key exactly when its checksum matches, and
	// warden_key has already judged it.
	if strings.HasPrefix(v, "wdn_") {
		return false
	}
	if IsPlaceholder(v) || strings.Contains(v, "://") || isPath(v) || isDottedPath(v) || isWords(v) || isIdentifiers(v) || isEmail(v) {
		return false
	}
	classes := 0
	for _, has := range []bool{hasUpper(v), hasLower(v), hasDigit(v), hasSymbol(v)} {
		if has {
			classes++
		}
	}
	if classes < 2 {
		return false
	}
	min := 3.1
	if isHex(v) {
		min = 2.6
	}
	return ShannonEntropy(v) >= min
}

// notDigestOrID rejects a value that its line labels as something other
// than a key: a hash, a checksum or a commit (md5: ..., sha256 ...), or an
// identifier (tenant_id: ..., subscription ...). Context rules match bare
// hex and base64 runs, which digests and IDs share with keys.
func notDigestOrID(c candidate) bool {
	// A run of letters and digits between base64's + and / is a piece
	// of a longer encoded value (a go.sum h1: hash, a lockfile's
	// sha512- integrity), not a key that ends there.
	if strings.HasSuffix(c.before, "+") || strings.HasSuffix(c.before, "/") || c.next == '+' || c.next == '/' {
		return false
	}
	b := strings.ToLower(c.before)
	for _, w := range otherValueWords {
		if strings.Contains(b, w) {
			return false
		}
	}
	return true
}

var otherValueWords = []string{
	"md5", "sha", "digest", "checksum", "hash", "commit", "etag", "fingerprint", "integrity", "crc", "h1:",
	"uuid", "guid", "tenant", "subscription", "_id", "-id", " id", "id:", "id=",
}

// descriptiveSuffixes end names of things about a secret (its id, where it
// lives, how long it is) rather than the secret itself.
var descriptiveSuffixes = []string{
	"id", "ids", "name", "names", "type", "url", "uri", "path", "file", "dir",
	"len", "length", "size", "count", "header", "prefix", "format", "version",
	"field", "env", "var", "endpoint", "host", "ttl", "expiry", "expires",
	"hash", "hint", "label",
}

// isPath reports whether s is a file path: rooted, relative or in a home
// directory, with at least two slashes, no base64 padding or plus signs,
// and a file extension or only words. (Base64 values start with a slash
// one time in 64, so a leading slash alone proves nothing.)
func isPath(s string) bool {
	if !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "./") && !strings.HasPrefix(s, "~/") {
		return false
	}
	if strings.Count(s, "/") < 2 || strings.ContainsAny(s, "+=") {
		return false
	}
	return strings.Contains(s[strings.LastIndexByte(s, '/'):], ".") || isWords(s)
}

// isDottedPath reports whether s is a dotted path of identifiers such as
// config.providers.openai.apiKey.
func isDottedPath(s string) bool {
	if !strings.Contains(s, ".") {
		return false
	}
	for seg := range strings.SplitSeq(s, ".") {
		if seg == "" || isDigit(seg[0]) {
			return false
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !isLetter(c) && !isDigit(c) && c != '_' && c != '$' {
				return false
			}
		}
	}
	return true
}

// isWords reports whether s is words or numbers joined by separators
// (production-database-password, us_east_1): every part is all letters or
// all digits.
func isWords(s string) bool {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' || r == '.' || r == '/' })
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		letters, digits := 0, 0
		for i := 0; i < len(p); i++ {
			switch {
			case isLetter(p[i]):
				letters++
			case isDigit(p[i]):
				digits++
			}
		}
		if letters != len(p) && digits != len(p) {
			return false
		}
	}
	return true
}

// isIdentifiers reports whether s is made of program identifiers rather
// than random characters (RequireAndVerifyClientCert,
// kernelThreadName+pid+tid, testRSAPSS2048PrivateKey): split into
// camel-case words and acronyms, it has three or more words averaging four
// letters or more, at most one group of digits, a third or more vowels
// among its letters, and a vowel in every word of three or more letters
// that is not an acronym. Measured on random strings, about one base62 or
// base64 value of 20 characters in 4000 passes for identifiers (one in
// 10,000 at 24); hex and single-case values never do.
func isIdentifiers(s string) bool {
	words, letters, vowels, digitRuns := 0, 0, 0, 0
	for i := 0; i < len(s); {
		c := s[i]
		j := i + 1
		switch {
		case isDigit(c):
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if digitRuns++; digitRuns > 1 {
				return false
			}
			i = j
			continue
		case isLower(c):
			for j < len(s) && isLower(s[j]) {
				j++
			}
		case isLetter(c): // upper case: an acronym, or a capitalised word
			for j < len(s) && isLetter(s[j]) && !isLower(s[j]) {
				j++
			}
			if j-i == 1 {
				for j < len(s) && isLower(s[j]) {
					j++
				}
			} else if j < len(s) && isLower(s[j]) {
				j-- // the last capital starts the next word
			}
		default:
			i++
			continue
		}
		w := s[i:j]
		v := 0
		for k := 0; k < len(w); k++ {
			if strings.IndexByte("aeiouyAEIOUY", w[k]) >= 0 {
				v++
			}
		}
		if v == 0 && len(w) >= 3 && isLower(w[len(w)-1]) {
			return false
		}
		words++
		letters += len(w)
		vowels += v
		i = j
	}
	return words >= 3 && letters >= 4*words && 3*vowels >= letters
}

// isEmail reports whether s is an email address.
func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && strings.Contains(s[at:], ".") && !strings.ContainsAny(s, "/+=:")
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLower(c byte) bool  { return c >= 'a' && c <= 'z' }

func hasUpper(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' })
}
func hasLower(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' })
}
func hasDigit(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= '0' && r <= '9' })
}
func hasLetter(s string) bool { return hasUpper(s) || hasLower(s) }

// hasSymbol reports whether s has a byte that is not an ASCII letter or
// digit.
func hasSymbol(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) && !isDigit(s[i]) {
			return true
		}
	}
	return false
}

// isHex reports whether s is made only of hex digits.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && (c|0x20 < 'a' || c|0x20 > 'f') {
			return false
		}
	}
	return true
}

// maxPEM is the longest PEM block looked for: an armored PGP key with
// subkeys runs to a few kilobytes, and RSA-8192 in PKCS#8 to 6.4.
const maxPEM = 32 << 10

// pemSpan stretches a private_key window from the BEGIN line to the end of
// the next END line, or skips the keyword when no END line follows.
func pemSpan(text string, start, end int) (window, bool) {
	i := strings.Index(text[end:min(len(text), end+maxPEM)], "-----END")
	if i < 0 {
		return window{}, false
	}
	// The END line: its label and closing dashes.
	return window{start, min(len(text), end+i+len("-----END")+48)}, true
}

// jwtSpan covers the token that starts at the keyword: base64url
// characters up to its third dot or the end of the run, if that is long
// enough to be a token. Stopping at the third dot keeps windows from
// sliding along a long dotted run, one per "eyJ" in it.
func jwtSpan(text string, start, end int) (window, bool) {
	const maxJWT = 16 << 10
	i, dots := end, 0
	for limit := min(len(text), start+maxJWT); i < limit; i++ {
		if c := text[i]; c == '.' {
			if dots++; dots == 3 {
				break
			}
		} else if !base64URLChars[c] {
			break
		}
	}
	// eyJ, 10 characters, a dot, 10 more, a dot and 16.
	return window{start, i}, dots >= 2 && i-start >= 41
}

// assignmentSpan looks around a generic_secret keyword for the shape of an
// assignment, NAME = value, without a regular expression: the name the
// keyword is in, an optional closing quote, an operator, an optional
// opening quote or auth scheme, and at least 20 value bytes. Most keyword
// occurrences in prose and code (keys[i], the token, password == "")
// fail here.
func assignmentSpan(text string, start, end int) (window, bool) {
	const maxName = 64
	ws := start
	for ws > 0 && start-ws < maxName && nameChars[text[ws-1]] {
		ws--
	}
	i := end
	for i < len(text) && i-ws < 2*maxName && nameChars[text[i]] {
		i++
	}
	if i < len(text) && (text[i] == '"' || text[i] == '\'') {
		i++
	} else if j := escapedQuote(text, i); j > 0 {
		i = j // a name quoted inside a JSON string
	}
	i = skipBlanks(text, i)
	switch {
	case strings.HasPrefix(text[i:], ":="), strings.HasPrefix(text[i:], "=>"):
		i += 2
	case strings.HasPrefix(text[i:], "=="):
		return window{}, false
	case i < len(text) && text[i] == ':':
		i++
		if j := typeAnnotationEnd(text, i); j > 0 {
			i = j
		}
	case i < len(text) && text[i] == '=':
		i++
	default:
		return window{}, false
	}
	i = skipBlanks(text, i)
	if i < len(text) && (text[i] == '"' || text[i] == '\'' || text[i] == '`') {
		i++
	} else if j := escapedQuote(text, i); j > 0 {
		i = j
	} else if j := strings.IndexAny(text[i:min(len(text), i+7)], " \t"); j > 0 {
		i = skipBlanks(text, i+j) // Bearer, Token or Basic, maybe
	}
	v := i
	for v < len(text) && v-i < 257 && text[v] > ' ' && text[v] < 0x7f {
		v++
	}
	if v-i < 20 {
		return window{}, false
	}
	return window{ws, min(len(text), v+1)}, true
}

// escapedQuote returns the offset after a double quote escaped with one
// to three backslashes at text[i:] (JSON inside JSON, as notebooks and
// serialized settings hold it), and 0 if there is none.
func escapedQuote(text string, i int) int {
	j := i
	for j < len(text) && j-i < 3 && text[j] == '\\' {
		j++
	}
	if j > i && j < len(text) && text[j] == '"' {
		return j + 1
	}
	return 0
}

// typeAnnotationEnd returns the offset after "Type =" when text[i:]
// continues a name's colon with a type annotation and an assignment
// (apiKey: string = "..."), and 0 otherwise.
func typeAnnotationEnd(text string, i int) int {
	i = skipBlanks(text, i)
	j := i
	for j < len(text) && j-i < 64 && typeChars[text[j]] {
		j++
	}
	if j == i || isDigit(text[i]) {
		return 0
	}
	j = skipBlanks(text, j)
	if j < len(text) && text[j] == '=' && (j+1 == len(text) || text[j+1] != '=') {
		return j + 1
	}
	return 0
}

// typeChars may appear in a type annotation: string, Record<string>, []byte.
var typeChars = charset("A-Za-z0-9_.<>[]")

// nameChars may appear in a variable name for generic_secret.
var nameChars = charset("A-Za-z0-9_.-")

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// serviceAccountSpan accepts the keyword only as the value of a "type"
// member ("type": "service_account") and covers the object's private_key
// member, looked for within 8 KiB after the keyword and then before it, up
// to the END line of its PEM block.
func serviceAccountSpan(text string, start, end int) (window, bool) {
	if start == 0 || text[start-1] != '"' || end >= len(text) || text[end] != '"' {
		return window{}, false
	}
	before := strings.TrimRight(text[max(0, start-64):start-1], " \t\r\n")
	before, colon := strings.CutSuffix(before, ":")
	if !colon || !strings.HasSuffix(strings.TrimRight(before, " \t\r\n"), `"type"`) {
		return window{}, false
	}
	const reach = 8 << 10
	k := strings.Index(text[end:min(len(text), end+reach)], `"private_key"`)
	if k >= 0 {
		k += end
	} else {
		lo := max(0, start-reach)
		if k = strings.LastIndex(text[lo:start], `"private_key"`); k < 0 {
			return window{}, false
		}
		k += lo
	}
	e := strings.Index(text[k:min(len(text), k+reach)], "-----END")
	if e < 0 {
		return window{}, false
	}
	return window{k, min(len(text), k+e+len("-----END")+48)}, true
}
