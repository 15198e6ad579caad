package detect

import "net/netip"

// Byte classes shared by the PII scanners.
const (
	clsDigit uint8 = 1 << iota
	clsUpper
	clsLower
	clsHex
	clsLocal  // may appear in the local part of an email address
	clsDomain // may appear in a domain label
	clsV6     // may appear in an IPv6 literal
)

var piiClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= clsDigit | clsHex | clsLocal | clsDomain | clsV6
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= clsLower | clsLocal | clsDomain
		t[c-'a'+'A'] |= clsUpper | clsLocal | clsDomain
	}
	for _, c := range "abcdefABCDEF" {
		t[c] |= clsHex | clsV6
	}
	for _, c := range "._%+-'" {
		t[c] |= clsLocal
	}
	t['-'] |= clsDomain
	t[':'] |= clsV6
	t['.'] |= clsV6
	return t
}()

func piiIs(c byte, cls uint8) bool { return piiClass[c]&cls != 0 }

func piiDigit(c byte) bool { return c-'0' < 10 }

func piiLetter(c byte) bool { return piiClass[c]&(clsUpper|clsLower) != 0 }

func piiAlnum(c byte) bool { return piiClass[c]&(clsUpper|clsLower|clsDigit) != 0 }

// email reads the address around the '@' at at and returns where the scan
// continues.
func (s *piiScan) email(at int) int {
	text := s.text
	const maxLocal, maxDomain = 64, 253
	// Local part: walk left over allowed bytes, at most maxLocal of them;
	// a longer run is not an address (and not the tail of one either).
	j := at
	for j > 0 && at-j <= maxLocal && piiIs(text[j-1], clsLocal) {
		j--
	}
	if at-j > maxLocal {
		return at + 1
	}
	// Quotes and dots that only wrap the address ('alice@x.org', …alice@)
	// are punctuation, not part of it.
	for j < at && (text[j] == '.' || text[j] == '\'') {
		j++
	}
	if j == at || text[at-1] == '.' || hasDoubleDot(text[j:at]) {
		return at + 1
	}
	// Domain: dot-separated labels of letters, digits and inner hyphens.
	k := at + 1
	labels, lastStart, end := 0, 0, 0
	for {
		ls := k
		for k < len(text) && piiIs(text[k], clsDomain) {
			k++
		}
		if k == ls || k-ls > 63 || text[ls] == '-' || text[k-1] == '-' {
			break
		}
		labels++
		lastStart, end = ls, k
		if k+1 < len(text) && text[k] == '.' && piiIs(text[k+1], clsDomain) {
			k++
			continue
		}
		break
	}
	if labels < 2 || end-at-1 > maxDomain || !tldOK(text[lastStart:end]) {
		return at + 1
	}
	if end < len(text) && text[end] == '@' {
		return at + 1
	}
	if s.want(maskEmail) {
		s.add(TypeEmail, j, end, 0.9, false)
	}
	return end
}

func hasDoubleDot(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] == '.' && s[i-1] == '.' {
			return true
		}
	}
	return false
}

// tldOK accepts an alphabetic top-level label of two or more letters, or
// an IDN label in punycode (xn--…).
func tldOK(l string) bool {
	if len(l) < 2 {
		return false
	}
	if len(l) > 4 && (l[:4] == "xn--" || l[:4] == "XN--") {
		return true
	}
	for i := 0; i < len(l); i++ {
		if !piiLetter(l[i]) {
			return false
		}
	}
	return true
}

// colon reads a possible IPv6 literal around the ':' at i and returns
// where the scan continues.
func (s *piiScan) colon(i int) int {
	text := s.text
	if i < s.v6End {
		return i + 1
	}
	const maxV6 = 45 // the longest textual form, with an embedded IPv4
	a := i
	for a > 0 && i-a <= maxV6 && piiIs(text[a-1], clsV6) {
		a--
	}
	b := i + 1
	for b < len(text) && b-a <= maxV6+1 && piiIs(text[b], clsV6) {
		b++
	}
	s.v6End = b
	if b-a > maxV6+1 || (a > 0 && piiIs(text[a-1], clsV6)) {
		// Too long for an address: skip the whole run.
		for b < len(text) && piiIs(text[b], clsV6) {
			b++
		}
		s.v6End = b
		return i + 1
	}
	// A single leading colon belongs to a label ("ip:fe80::1"); a single
	// trailing colon or dot to the sentence.
	if b-a >= 2 && text[a] == ':' && text[a+1] != ':' {
		a++
	}
	for b-a >= 2 && (text[b-1] == '.' || (text[b-1] == ':' && text[b-2] != ':')) {
		b--
	}
	if a > 0 && (piiAlnum(text[a-1]) || text[a-1] == '_') {
		return i + 1
	}
	if b < len(text) && (piiAlnum(text[b]) || text[b] == '_') {
		return i + 1
	}
	cand := text[a:b]
	colons, digit := 0, false
	for j := 0; j < len(cand); j++ {
		switch c := cand[j]; {
		case c == ':':
			colons++
		case piiDigit(c):
			digit = true
		}
	}
	// Two colons at least, and a digit: "std::" or "dead::beef" in code
	// and prose are not addresses anyone writes.
	if colons < 2 || !digit {
		return i + 1
	}
	addr, err := netip.ParseAddr(cand)
	if err != nil || !addr.Is6() {
		return i + 1
	}
	if s.want(maskIPv6) {
		s.add(TypeIPv6, a, b, 0.9, true)
	}
	return b
}

// piiWord is a context word. A prefix word also matches longer words
// ("birth" in "birthday"); others must end at a non-letter.
type piiWord struct {
	w      string
	prefix bool
}

// piiWords is a set of context words with a first-byte filter.
type piiWords struct {
	words []piiWord
	first [256]bool
}

func newPIIWords(ws ...piiWord) *piiWords {
	p := &piiWords{words: ws}
	for _, w := range ws {
		c := w.w[0]
		p.first[c] = true
		if c >= 'a' && c <= 'z' {
			p.first[c-'a'+'A'] = true
		}
	}
	return p
}

var (
	dobWords = newPIIWords(
		piiWord{"born", false}, piiWord{"birth", true}, piiWord{"dob", false},
		piiWord{"d.o.b", true}, piiWord{"geboren", false}, piiWord{"geb.", true},
		piiWord{"geburt", true}, piiWord{"né", false}, piiWord{"née", false},
		piiWord{"nee", false}, piiWord{"naissance", false}, piiWord{"nacimiento", false},
	)
	ssnWords = newPIIWords(
		piiWord{"ssn", true}, piiWord{"social security", true}, piiWord{"ss#", true},
		piiWord{"ss no", true}, piiWord{"soc. sec", true}, piiWord{"soc sec", true},
	)
	phoneWords = newPIIWords(
		piiWord{"phone", true}, piiWord{"tel", false}, piiWord{"tel.", true},
		piiWord{"telephone", false}, piiWord{"call", false}, piiWord{"mobile", false},
		piiWord{"cell", true}, piiWord{"fax", false}, piiWord{"whatsapp", false},
		piiWord{"sms", false}, piiWord{"text me", false}, piiWord{"contact", true},
		piiWord{"mob", false}, piiWord{"ph", false}, piiWord{"tél", false},
		piiWord{"handy", false}, piiWord{"telefon", true},
	)
)

// in reports whether one of the words occurs in w, case-insensitively for
// ASCII, starting at a word boundary.
func (p *piiWords) in(w string) bool {
	for i := 0; i < len(w); i++ {
		if !p.first[w[i]] || (i > 0 && piiLetter(w[i-1])) {
			continue
		}
		for _, kw := range p.words {
			if hasFoldPrefix(w[i:], kw.w) {
				e := i + len(kw.w)
				if kw.prefix || e == len(w) || !piiLetter(w[e]) {
					return true
				}
			}
		}
	}
	return false
}

// hasFoldPrefix reports whether s starts with lower-case word, folding
// ASCII letters of s.
func hasFoldPrefix(s, word string) bool {
	if len(s) < len(word) {
		return false
	}
	for i := 0; i < len(word); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}

// near reports whether a context word lies within before bytes ahead of
// text[start:end] or after bytes behind it.
func (p *piiWords) near(text string, start, end, before, after int) bool {
	return p.in(text[max(0, start-before):start]) || p.in(text[end:min(len(text), end+after)])
}
