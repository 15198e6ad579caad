package injection

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one word (or URL) of a normalised text.
type token struct {
	start, end int32 // byte offsets in the view's text
	flags      uint8
	id         uint16 // the matcher's id of the word, 0 if it has none
}

const (
	tLineStart  uint8 = 1 << iota // first token on its line
	tColon                        // followed by ':' (one space allowed)
	tBreak                        // a sentence break (. ! ? ;) precedes it
	tURL                          // an http(s)/ftp/www URL
	tURLQuery                     // a URL with a query string (?k=v)
	tURLPayload                   // a URL whose query looks like a data template
	tEmail                        // an e-mail address
	tIdent                        // a code identifier with '_' inside (send_email)
)

// tokenize splits text into words and URLs. A word is a run of letters,
// digits and '_' (so that code identifiers stay whole), with apostrophes
// inside words kept ("don't"). It reports whether any word looked like
// leetspeak, which decides whether the leet view is worth building.
func tokenize(text []byte, toks []token) ([]token, bool) {
	toks = toks[:0]
	leet := false
	lineStart, brk := true, false
	for i := 0; i < len(text); {
		c := text[i]
		switch byteClass[c] {
		case bcNewline:
			lineStart = true
			i++
			continue
		case bcBreak:
			// A dot inside a word (os.environ, example.com, v1.2) does
			// not end a sentence.
			if c != '.' || i+1 >= len(text) || !isWordByte(text[i+1]) {
				brk = true
			}
			i++
			continue
		case bcHigh:
			r, size := utf8.DecodeRune(text[i:])
			if !isWordRune(r) {
				if r == '。' || r == '！' || r == '？' {
					brk = true
				}
				i += size
				continue
			}
		case bcLetter, bcDigit, bcLeetDigit, bcUnderscore:
		default:
			i++
			continue
		}
		start := i
		var flags uint8
		if n := urlLenAt(text, i); n > 0 {
			i += n
			flags = tURL | urlFlags(text[start:i])
		} else {
			letters, digits := 0, 0
		word:
			for i < len(text) {
				switch byteClass[text[i]] {
				case bcLetter:
					letters++
				case bcLeetDigit:
					digits++
				case bcDigit, bcUnderscore:
				case bcApos:
					if i == start || i+1 >= len(text) || !isLetterByte(text[i+1]) {
						break word
					}
				case bcHigh:
					r, size := utf8.DecodeRune(text[i:])
					if !isWordRune(r) {
						break word
					}
					letters++
					i += size
					continue
				default:
					break word
				}
				i++
			}
			if letters > 0 && (digits > 0 ||
				i < len(text) && (text[i] == '@' || text[i] == '$') ||
				start > 0 && (text[start-1] == '@' || text[start-1] == '$')) {
				if n := emailDomainLen(text, i); n > 0 {
					// An address: where a message is sent, not leetspeak.
					i += n
					flags |= tEmail
				} else {
					leet = true
				}
			}
		}
		if lineStart {
			flags |= tLineStart
		}
		if brk {
			flags |= tBreak
		}
		j := i
		if j < len(text) && text[j] == ' ' {
			j++
		}
		if j < len(text) && text[j] == ':' {
			flags |= tColon
		}
		toks = append(toks, token{start: int32(start), end: int32(i), flags: flags})
		lineStart, brk = false, false
	}
	return toks, leet
}

// Byte classes for tokenize. Digits that stand for letters in leetspeak
// (0 1 3 4 5 7) are told apart from the others.
const (
	bcOther = iota
	bcLetter
	bcDigit
	bcLeetDigit
	bcUnderscore
	bcApos
	bcNewline
	bcBreak
	bcHigh
)

var byteClass = func() (t [256]uint8) {
	for c := range t {
		switch b := byte(c); {
		case b >= utf8.RuneSelf:
			t[c] = bcHigh
		case isLetterByte(b):
			t[c] = bcLetter
		case b == '0' || b == '1' || b == '3' || b == '4' || b == '5' || b == '7':
			t[c] = bcLeetDigit
		case '0' <= b && b <= '9':
			t[c] = bcDigit
		case b == '_':
			t[c] = bcUnderscore
		case b == '\'':
			t[c] = bcApos
		case b == '\n':
			t[c] = bcNewline
		case b == '.' || b == '!' || b == '?' || b == ';':
			t[c] = bcBreak
		}
	}
	return t
}()

func isWordByte(c byte) bool {
	switch byteClass[c] {
	case bcLetter, bcDigit, bcLeetDigit:
		return true
	}
	return false
}

// emailDomainLen returns the length of "@domain.tld" at text[i:], or 0:
// one or more dot-separated labels of letters, digits and '-', the last
// of at least two letters.
func emailDomainLen(text []byte, i int) int {
	if i >= len(text) || text[i] != '@' {
		return 0
	}
	n, dots, label, alpha := i+1, 0, 0, true
scan:
	for ; n < len(text); n++ {
		c := text[n]
		switch {
		case isLetterByte(c):
			label++
		case '0' <= c && c <= '9' || c == '-':
			label++
			alpha = false
		case c == '.' && label > 0 && n+1 < len(text) && isWordByte(text[n+1]):
			dots++
			label, alpha = 0, true
		default:
			break scan
		}
	}
	if dots == 0 || label < 2 || !alpha {
		return 0
	}
	return n - i
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r)
}

// urlLenAt returns the length of the URL at text[i:], or 0.
func urlLenAt(text []byte, i int) int {
	switch text[i] {
	case 'h', 'f', 'w':
		return urlLen(text[i:])
	}
	return 0
}

// urlLen returns the length of the URL at the start of b, or 0.
func urlLen(b []byte) int {
	var n int
	switch {
	case hasPrefix(b, "https://"):
		n = 8
	case hasPrefix(b, "http://"):
		n = 7
	case hasPrefix(b, "ftp://"):
		n = 6
	case hasPrefix(b, "www."):
		n = 4
	default:
		return 0
	}
	for n < len(b) {
		switch b[n] {
		case ' ', '\n', '"', '\'', '`', ')', '|':
			return n
		}
		n++
	}
	return n
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// urlFlags classifies a URL's query string. A query that carries a
// template ({data}, <secret>, $VAR, [HISTORY]) or names what it carries
// (?conversation=, ?secret=) is how a model is made to leak data through
// a link or an image it renders.
func urlFlags(u []byte) uint8 {
	q := strings.IndexByte(string(u), '?')
	if q < 0 {
		return 0
	}
	query := string(u[q+1:])
	if !strings.Contains(query, "=") {
		return 0
	}
	flags := tURLQuery
	if strings.ContainsAny(query, "{[<$") || strings.Contains(query, "%s") {
		return flags | tURLPayload
	}
	for _, k := range payloadKeys {
		if strings.Contains(query, k) {
			return flags | tURLPayload
		}
	}
	return flags
}

// payloadKeys are query names or values that say the link carries the
// conversation or a secret. Lowercase: the text is normalised.
var payloadKeys = []string{
	"secret", "convers", "history", "prompt", "password", "passwd",
	"token=", "apikey", "api_key", "memory", "summary=", "chat=", "pii",
	"ssn", "creditcard", "cookie", "exfil", "leak", "insert", "base64",
}

// A pattern is a word-sequence matcher compiled from a small language:
//
//	ignore|disregard ~3 previous|prior ~2 instructions|rules
//
// Elements are separated by spaces; an element is a set of words joined
// by '|'. A word written "set+aside" is a phrase: those words in a row.
// "%name" stands for every word and phrase of a word class (classes.go),
// inflections included. "~N" lets up to N other words come before the
// next element. A leading '?' makes an element optional, a leading '!'
// makes it a negative look-ahead (the next word must not be one of
// these), a leading '^' requires the word to start a line, a leading '_'
// requires it not to (a speaker label "User:" is not a header) and a
// trailing ':' requires a colon after it. "@url", "@urlq" and "@urlp" match a URL,
// a URL with a query, and a URL whose query looks like a data template;
// "@email" an e-mail address, "@ident" a code identifier with an
// underscore (a tool name such as send_email) and "@colon" any word
// followed by a colon. An element written "<words" is a look-behind:
// look-behinds come first, and the pattern is keyed on the element after
// them and matched backwards from it, so that a pattern is looked up by
// its rarest word rather than by "show" or "you". Matches never cross a
// sentence break. A pattern may list words after " unless " that,
// anywhere in the match, reject it; a word written "<word" also rejects
// it when it comes shortly before.
type pattern struct {
	rule  int
	elems []elem
	// key is the index of the element the matcher looks words up by; the
	// elements before it are look-behinds, matched backwards from it.
	key int
	// needs are the elements other than the key that a match cannot do
	// without, as the test of matcher.possible reads them, so that a
	// text lacking all the words of one skips the pattern.
	needs []needReq
	// unless rejects a match that contains one of its words; a word
	// marked true rejects it also when it comes shortly before.
	unless      map[uint16]bool
	unlessWords map[string]bool
}

type elem struct {
	words     []string   // as written (folded), until the matcher assigns ids
	phrases   [][]string // multi-word alternatives, folded
	set       []uint64   // bitset over the matcher's word ids
	phr       [][]uint16 // phrases as word ids, sorted by their first word
	phead     []uint64   // bitset of the first words of phr
	any       []uint64   // set | phead: a word that may start this element
	longest   int        // words of the longest phrase
	req       []reqWord  // set | phead, without its zero words
	gap       int
	opt, neg  bool
	back      bool // a look-behind, written "<words"
	lineStart bool
	midLine   bool // written "_words": the word must not start a line
	colon     bool
	url       uint8 // token flags of which one is required: tURL, tURLQuery, tURLPayload, tEmail, tIdent, tColon
}

// compilePattern parses one pattern. fold is applied to every word so
// that the same table can be compiled for the leetspeak view.
func compilePattern(src string, rule int, fold func(string) string) (pattern, error) {
	p := pattern{rule: rule}
	body, unless, hasUnless := strings.Cut(src, " unless ")
	if hasUnless {
		p.unlessWords = make(map[string]bool)
		for _, w := range strings.FieldsFunc(unless, func(r rune) bool { return r == ' ' || r == '|' }) {
			near := strings.HasPrefix(w, "<")
			p.unlessWords[fold(strings.TrimPrefix(w, "<"))] = near
		}
	}
	gap := 0
	for _, f := range strings.Fields(body) {
		if strings.HasPrefix(f, "~") {
			n, err := strconv.Atoi(f[1:])
			if err != nil || n < 0 || n > 12 {
				return p, fmt.Errorf("pattern %q: bad gap %q", src, f)
			}
			gap = n
			continue
		}
		e := elem{gap: gap}
		gap = 0
		for len(f) > 1 && strings.ContainsRune("?!^<_", rune(f[0])) {
			switch f[0] {
			case '?':
				e.opt = true
			case '!':
				e.neg = true
			case '^':
				e.lineStart = true
			case '<':
				e.back = true
			case '_':
				e.midLine = true
			}
			f = f[1:]
		}
		if e.back && (e.opt || e.neg || len(p.elems) > p.key) {
			return p, fmt.Errorf("pattern %q: look-behind %q must be plain words before all others", src, f)
		}
		if e.back {
			p.key++
		}
		colons := 0
		alts := strings.Split(f, "|")
		for _, w := range alts {
			if len(w) > 1 && strings.HasSuffix(w, ":") {
				colons++
				w = w[:len(w)-1]
			}
			switch {
			case w == "":
				return p, fmt.Errorf("pattern %q: empty word in %q", src, f)
			case strings.ContainsAny(w, "?!^~"):
				// Tokens never hold these; "been?" was meant as an
				// optional element and would silently never match.
				return p, fmt.Errorf("pattern %q: operator inside word %q", src, w)
			case w == "@url":
				e.url |= tURL
			case w == "@urlq":
				e.url |= tURLQuery
			case w == "@urlp":
				e.url |= tURLPayload
			case w == "@email":
				e.url |= tEmail
			case w == "@ident":
				e.url |= tIdent
			case w == "@colon":
				e.url |= tColon
			case w[0] == '%':
				members, ok := wordClasses[w[1:]]
				if !ok {
					return p, fmt.Errorf("pattern %q: no word class %q", src, w)
				}
				for _, m := range members {
					if err := e.addWord(m, fold); err != nil {
						return p, fmt.Errorf("pattern %q: class %s: %w", src, w, err)
					}
				}
			default:
				if err := e.addWord(w, fold); err != nil {
					return p, fmt.Errorf("pattern %q: %w", src, err)
				}
			}
		}
		switch {
		case colons == 0:
		case colons == len(alts) || colons == 1 && strings.HasSuffix(f, ":"):
			// "a|b|c:" puts the colon on the element, as does "a:|b:|c:".
			e.colon = true
		default:
			return p, fmt.Errorf("pattern %q: ':' on some words of %q only", src, f)
		}
		p.elems = append(p.elems, e)
	}
	if len(p.elems) <= p.key {
		return p, fmt.Errorf("pattern %q: no elements after the look-behinds", src)
	}
	// The key may be a URL, address or identifier only behind a
	// look-behind: a pattern tried at every URL would cost every text.
	key := p.elems[p.key]
	if key.opt || key.neg || len(key.words)+len(key.phrases) == 0 && (key.url == 0 || p.key == 0) {
		return p, fmt.Errorf("pattern %q: the first element after the look-behinds must be plain words (it is the index key)", src)
	}
	return p, nil
}

// addWord adds one alternative, a word or a '+'-joined phrase.
func (e *elem) addWord(w string, fold func(string) string) error {
	if !strings.Contains(w, "+") {
		e.words = append(e.words, fold(w))
		return nil
	}
	parts := strings.Split(w, "+")
	for k, pw := range parts {
		if pw == "" {
			return fmt.Errorf("empty word in phrase %q", w)
		}
		parts[k] = fold(pw)
	}
	e.phrases = append(e.phrases, parts)
	return nil
}

func (e *elem) accept(t token) bool {
	if e.lineStart && t.flags&tLineStart == 0 || e.midLine && t.flags&tLineStart != 0 ||
		e.colon && t.flags&tColon == 0 {
		return false
	}
	if t.flags&(tURL|tEmail) != 0 {
		return t.flags&e.url != 0
	}
	if t.flags&e.url&(tIdent|tColon) != 0 {
		return true
	}
	return t.id != 0 && int(t.id>>6) < len(e.set) && e.set[t.id>>6]&(1<<(t.id&63)) != 0
}

// phrasesFrom returns the phrases of e that start with the word of t:
// none, for most tokens, after one bit test.
func (e *elem) phrasesFrom(t token) [][]uint16 {
	id := t.id
	if id == 0 || int(id>>6) >= len(e.phead) || e.phead[id>>6]&(1<<(id&63)) == 0 {
		return nil
	}
	lo, _ := slices.BinarySearchFunc(e.phr, id, func(ph []uint16, id uint16) int { return int(ph[0]) - int(id) })
	hi := lo
	for hi < len(e.phr) && e.phr[hi][0] == id {
		hi++
	}
	return e.phr[lo:hi]
}

// phraseAt returns the length of phrase ph if it starts at toks[j], or 0.
// A phrase is words in a row within one sentence; the colon and
// line-start requirements apply to its last and first word.
func (e *elem) phraseAt(toks []token, j int, ph []uint16) int {
	if j+len(ph) > len(toks) || e.lineStart && toks[j].flags&tLineStart == 0 ||
		e.midLine && toks[j].flags&tLineStart != 0 {
		return 0
	}
	for n, id := range ph {
		t := toks[j+n]
		if t.id != id || n > 0 && t.flags&tBreak != 0 {
			return 0
		}
	}
	if e.colon && toks[j+len(ph)-1].flags&tColon == 0 {
		return 0
	}
	return len(ph)
}

// unlessReach is how many words before a match the context words of a
// pattern's unless list are looked for.
const unlessReach = 6

// matchBudget bounds the backtracking of one pattern attempt, so that a
// crafted text of repeated trigger words costs linear time.
const matchBudget = 256

// match tries p with its key element at token i and returns the index of
// the first matched token (a look-behind's, if p has any) and one past the
// last.
func (p *pattern) match(toks []token, i int) (int, int, bool) {
	budget := matchBudget
	end, ok := p.step(toks, p.key, i, &budget)
	if !ok {
		return 0, 0, false
	}
	if p.key > 0 {
		if i, ok = p.back(toks, p.key-1, i, p.elems[p.key].gap, &budget); !ok {
			return 0, 0, false
		}
	}
	if p.unless != nil {
		for _, t := range toks[i:end] {
			if _, bad := p.unless[t.id]; bad && t.id != 0 {
				return 0, 0, false
			}
		}
		// Context words in the same sentence just before the match:
		// "my eslint config should ignore all rules in ..." is about a
		// linter, not about the model's instructions.
		for j := i - 1; j >= 0 && j >= i-unlessReach; j-- {
			t := toks[j]
			if near := p.unless[t.id]; near && t.id != 0 {
				return 0, 0, false
			}
			if t.flags&tBreak != 0 {
				break
			}
		}
	}
	return i, end, true
}

// back matches look-behind element k so that it ends before toks[pos]
// with at most gap words between, then the look-behinds before it, and
// returns where the first of them starts. Look-behinds stay within the
// sentence of the key.
func (p *pattern) back(toks []token, k, pos, gap int, budget *int) (int, bool) {
	if k < 0 {
		return pos, true
	}
	if *budget--; *budget < 0 {
		return 0, false
	}
	e := &p.elems[k]
	for j := pos - 1; j >= 0 && j >= pos-gap-max(e.longest, 1); j-- {
		if toks[j+1].flags&tBreak != 0 {
			break
		}
		if !e.maybe(toks[j]) {
			continue
		}
		if pos-1-j <= gap && e.accept(toks[j]) {
			if start, ok := p.back(toks, k-1, j, e.gap, budget); ok {
				return start, true
			}
		}
		for _, ph := range e.phrasesFrom(toks[j]) {
			if l := e.phraseAt(toks, j, ph); l > 0 && j+l <= pos && pos-(j+l) <= gap {
				if start, ok := p.back(toks, k-1, j, e.gap, budget); ok {
					return start, true
				}
			}
		}
	}
	return 0, false
}

// maybe is a quick test that rules out most tokens before accept and the
// phrase table are consulted.
func (e *elem) maybe(t token) bool {
	if t.flags&e.url != 0 {
		return true
	}
	id := t.id
	return id != 0 && int(id>>6) < len(e.any) && e.any[id>>6]&(1<<(id&63)) != 0
}

func (p *pattern) rest(toks []token, k, pos int, budget *int) (int, bool) {
	if k == len(p.elems) {
		return pos, true
	}
	if *budget--; *budget < 0 {
		return 0, false
	}
	e := &p.elems[k]
	if e.neg {
		if pos < len(toks) && toks[pos].flags&tBreak == 0 && e.accept(toks[pos]) {
			return 0, false
		}
		return p.rest(toks, k+1, pos, budget)
	}
	for s := 0; s <= e.gap; s++ {
		j := pos + s
		if j >= len(toks) || toks[j].flags&tBreak != 0 {
			break
		}
		if !e.maybe(toks[j]) {
			continue
		}
		if end, ok := p.step(toks, k, j, budget); ok {
			return end, true
		}
	}
	if e.opt {
		return p.rest(toks, k+1, pos, budget)
	}
	return 0, false
}

// step matches element k at toks[j] exactly, as a phrase or a word, and
// the elements after it from there.
func (p *pattern) step(toks []token, k, j int, budget *int) (int, bool) {
	e := &p.elems[k]
	if id := toks[j].id; int(id>>6) < len(e.phead) && e.phead[id>>6]&(1<<(id&63)) != 0 {
		for _, ph := range e.phrasesFrom(toks[j]) {
			if l := e.phraseAt(toks, j, ph); l > 0 {
				if end, ok := p.rest(toks, k+1, j+l, budget); ok {
					return end, true
				}
			}
		}
	}
	if e.accept(toks[j]) {
		return p.rest(toks, k+1, j+1, budget)
	}
	return 0, false
}

// wordInfo is what the matcher knows about one word of its vocabulary.
type wordInfo struct {
	id    uint16
	pats  []int32 // patterns whose first element holds the word
	class uint8   // wRot13 | wEnglish | wMeta | wCue | ...
}

const (
	wRot13    uint8 = 1 << iota // a common English word after rot13 ("gur", "lbh")
	wEnglish                    // a common English word
	wMeta                       // talks about attacks (a quoted phrase is then a mention)
	wCue                        // introduces an example or a quote: "like", "typed"
	wTemplate                   // talks about chat templates and tokenizers
	wRotName                    // "rot13", or "rot" before "13"
)

// matcher runs a set of patterns over a token stream. Every word any
// pattern mentions gets a small id; a scan looks each token up once (a
// bit filter on length, first two and last bytes turns most words away
// before the map) and patterns then test ids against per-element
// bitsets.
type matcher struct {
	pats   []pattern
	index  map[string]*wordInfo
	byID   []*wordInfo // byID[id] is the word with that id; byID[0] is nil
	filter [2048]uint64
	// reqs are the distinct word sets that patterns need (elem.reqID).
	reqs [][]reqWord
	// urlPats are the patterns keyed on URLs, addresses or identifiers.
	urlPats []int32
	// ids maps a word to its id: the lookup map of a scan, smaller than
	// index.
	ids map[string]uint16
	// class[id] and keyed[id] copy wordInfo.class and wordInfo.pats into
	// flat slices that a scan reads without chasing pointers.
	class []uint8
	keyed [][]int32
}

// filterKey is the bit of a word in matcher.filter: its length and its
// first two and last bytes.
func filterKey(w []byte) uint {
	k := uint(len(w)&15) << 13
	if len(w) > 0 {
		k |= uint(w[0]&31)<<8 | uint(w[len(w)-1]&7)
	}
	if len(w) > 1 {
		k |= uint(w[1]&31) << 3
	}
	return k
}

func (m *matcher) info(w string) *wordInfo {
	if m.index == nil {
		m.index = make(map[string]*wordInfo)
		m.byID = []*wordInfo{nil}
	}
	wi := m.index[w]
	if wi == nil {
		wi = &wordInfo{id: uint16(len(m.byID))}
		m.index[w] = wi
		m.byID = append(m.byID, wi)
		k := filterKey([]byte(w))
		m.filter[k>>6] |= 1 << (k & 63)
	}
	return wi
}

// add registers p; finish must be called once all patterns are added.
func (m *matcher) add(p pattern) {
	id := int32(len(m.pats))
	first := p.elems[p.key]
	if first.url != 0 {
		m.urlPats = append(m.urlPats, id)
	}
	for _, w := range first.words {
		wi := m.info(w)
		if !slices.Contains(wi.pats, id) {
			wi.pats = append(wi.pats, id)
		}
	}
	for _, ph := range first.phrases {
		wi := m.info(ph[0])
		if !slices.Contains(wi.pats, id) {
			wi.pats = append(wi.pats, id)
		}
	}
	for k := range p.elems {
		for _, w := range p.elems[k].words {
			m.info(w)
		}
		for _, ph := range p.elems[k].phrases {
			for _, w := range ph {
				m.info(w)
			}
		}
	}
	for w := range p.unlessWords {
		m.info(w)
	}
	m.pats = append(m.pats, p)
}

// finish turns the patterns' word lists into bitsets over word ids.
func (m *matcher) finish() error {
	if len(m.index) >= 1<<16-1 {
		return fmt.Errorf("matcher vocabulary of %d words does not fit 16-bit ids", len(m.index))
	}
	m.ids = make(map[string]uint16, len(m.index))
	m.class = make([]uint8, len(m.byID))
	m.keyed = make([][]int32, len(m.byID))
	for w, wi := range m.index {
		m.ids[w] = wi.id
		m.class[wi.id] = wi.class
		m.keyed[wi.id] = wi.pats
	}
	reqIDs := make(map[string]int32)
	for pi := range m.pats {
		p := &m.pats[pi]
		var need []int
		for k := range p.elems {
			e := &p.elems[k]
			for _, ph := range e.phrases {
				ids := make([]uint16, len(ph))
				for n, w := range ph {
					ids[n] = m.index[w].id
				}
				e.phr = append(e.phr, ids)
				for len(e.phead) <= int(ids[0]>>6) {
					e.phead = append(e.phead, 0)
				}
				e.phead[ids[0]>>6] |= 1 << (ids[0] & 63)
			}
			slices.SortStableFunc(e.phr, func(a, b []uint16) int { return int(a[0]) - int(b[0]) })
			if k != p.key && !e.opt && !e.neg {
				need = append(need, k)
			}
			for _, ph := range e.phr {
				e.longest = max(e.longest, len(ph))
			}
			if len(e.words) == 0 {
				e.req = sparse(e.phead, nil)
				e.any = e.phead
				continue
			}
			// The set ends at the highest id it holds: most elements
			// are small and their ids close together.
			top := uint16(0)
			for _, w := range e.words {
				top = max(top, m.index[w].id)
			}
			e.set = make([]uint64, int(top)/64+1)
			for _, w := range e.words {
				id := m.index[w].id
				e.set[id>>6] |= 1 << (id & 63)
			}
			e.req = sparse(e.set, e.phead)
			e.any = make([]uint64, max(len(e.set), len(e.phead)))
			for n := range e.any {
				if n < len(e.set) {
					e.any[n] |= e.set[n]
				}
				if n < len(e.phead) {
					e.any[n] |= e.phead[n]
				}
			}
		}
		// Test the smallest word sets first: they are the rarest.
		slices.SortStableFunc(need, func(a, b int) int { return len(p.elems[a].req) - len(p.elems[b].req) })
		// Many elements are the same class: a text is tested once per
		// distinct word set, not once per element.
		for _, k := range need {
			e := &p.elems[k]
			key := fmt.Sprint(e.req)
			id, ok := reqIDs[key]
			if !ok {
				id = int32(len(m.reqs))
				reqIDs[key] = id
				m.reqs = append(m.reqs, e.req)
			}
			p.needs = append(p.needs, needReq{reqID: id, url: e.url})
		}
		if p.unlessWords != nil {
			p.unless = make(map[uint16]bool, len(p.unlessWords))
			for w, near := range p.unlessWords {
				p.unless[m.index[w].id] = near
			}
		}
	}
	return nil
}

// sparse returns the non-zero words of the union of two bitsets.
func sparse(a, b []uint64) []reqWord {
	var out []reqWord
	for n := range max(len(a), len(b)) {
		var w uint64
		if n < len(a) {
			w |= a[n]
		}
		if n < len(b) {
			w |= b[n]
		}
		if w != 0 {
			out = append(out, reqWord{n, w})
		}
	}
	return out
}

// lookup returns the id of word w, or 0.
func (m *matcher) lookup(w []byte) uint16 {
	k := filterKey(w)
	if m.filter[k>>6]&(1<<(k&63)) == 0 {
		return 0
	}
	return m.ids[string(w)]
}

// needReq is one requirement of a pattern: a word set, or a token flag.
type needReq struct {
	reqID int32
	url   uint8
}

// reqWord is one non-zero word of a bitset over word ids.
type reqWord struct {
	n    int
	mask uint64
}

// matchScratch is per-call memory of collect, reused across calls.
type matchScratch struct {
	present []uint64 // bitset of the word ids in the text
	// The memos below are valid for the call whose gen they carry, so
	// that a call need not clear them: gen<<2 | state.
	gen     uint16
	memo    []uint16 // per pattern: 1 possible, 2 impossible
	end     []int32  // per pattern: end of its last match in this call
	reqMemo []uint16 // per word set of matcher.reqs: 1 present, 2 absent
	dead    []uint16 // per word id: gen when none of its patterns can match
}

// maxGen bounds the generation, which shares 16 bits with a 2-bit state.
const maxGen = 1<<14 - 1

// memoGet reads a generation-stamped memo entry: 0 if it is stale.
func (sc *matchScratch) memoGet(v uint16) uint16 {
	if v>>2 != sc.gen {
		return 0
	}
	return v & 3
}

// possible reports whether every element that p needs has a word (or a
// URL, address or identifier) somewhere in the text.
func (m *matcher) possible(p *pattern, present []uint64, seen uint8, sc *matchScratch) bool {
	for _, n := range p.needs {
		if n.url&seen != 0 {
			continue
		}
		switch sc.memoGet(sc.reqMemo[n.reqID]) {
		case 1:
			continue
		case 2:
			return false
		}
		found := false
		for _, r := range m.reqs[n.reqID] {
			if r.mask&present[r.n] != 0 {
				found = true
				break
			}
		}
		if !found {
			sc.reqMemo[n.reqID] = sc.gen<<2 | 2
			return false
		}
		sc.reqMemo[n.reqID] = sc.gen<<2 | 1
	}
	return true
}

// try matches the patterns ids keyed at toks[i], skipping those the text
// cannot satisfy, and appends their matches to dst.
func (m *matcher) try(toks []token, i int, ids []int32, dst []rawHit, sc *matchScratch, present []uint64, seen uint8) []rawHit {
	for _, id := range ids {
		p := &m.pats[id]
		switch sc.memoGet(sc.memo[id]) {
		case 0:
			if !m.possible(p, present, seen, sc) {
				sc.memo[id] = sc.gen<<2 | 2
				continue
			}
			sc.memo[id] = sc.gen<<2 | 1
			sc.end[id] = 0
		case 2:
			continue
		}
		if start, end, ok := p.match(toks, i); ok && int32(start) >= sc.end[id] {
			// A later key inside the same stretch (the "prompt" of
			// "ignore previous instructions in prompt") is the same
			// match, longer: keep the first.
			dst = append(dst, rawHit{rule: p.rule, i: start, end: end})
			sc.end[id] = int32(end)
		}
	}
	return dst
}

// allImpossible reports whether none of the patterns ids can match the
// current text.
func (m *matcher) allImpossible(ids []int32, sc *matchScratch) bool {
	for _, id := range ids {
		if sc.memoGet(sc.memo[id]) != 2 {
			return false
		}
	}
	return true
}

// viewStats are word counts a scan gathers on the way.
type viewStats struct {
	rot13, english, meta, template int
	mentionsRot13                  bool
}

// collect sets the word id of every token, runs every pattern over toks,
// appends a rawHit per match to dst and counts the word classes on the
// way. toks is modified (ids) and belongs to this matcher afterwards. sc
// may be nil.
func (m *matcher) collect(text []byte, toks []token, dst []rawHit, sc *matchScratch) ([]rawHit, viewStats) {
	var st viewStats
	if sc == nil {
		sc = new(matchScratch)
	}
	words := (len(m.byID) + 63) / 64
	sc.present = slices.Grow(sc.present[:0], words)[:words]
	clear(sc.present)
	sc.gen++
	switch {
	case len(sc.memo) != len(m.pats) || len(sc.reqMemo) != len(m.reqs) || len(sc.dead) != len(m.byID):
		// First use with this matcher.
		sc.gen = 1
		sc.memo = make([]uint16, len(m.pats))
		sc.end = make([]int32, len(m.pats))
		sc.reqMemo = make([]uint16, len(m.reqs))
		sc.dead = make([]uint16, len(m.byID))
	case sc.gen > maxGen:
		// The stamps wrapped: forget them all.
		sc.gen = 1
		clear(sc.memo)
		clear(sc.reqMemo)
		clear(sc.dead)
	}
	present := sc.present
	var seen uint8
	for i := range toks {
		t := &toks[i]
		t.id = 0
		if t.flags&(tURL|tEmail) != 0 {
			seen |= t.flags
			continue
		}
		w := text[t.start:t.end]
		id := m.lookup(w)
		if id == 0 && len(w) > 2 {
			if w[len(w)-2] == '\'' && w[len(w)-1] == 's' {
				// A possessive: "Anthropic's" is "Anthropic" to the patterns.
				id = m.lookup(w[:len(w)-2])
			} else if k := bytes.IndexByte(w[1:len(w)-1], '_'); k >= 0 {
				// A code identifier, such as a tool name.
				t.flags |= tIdent
			}
		}
		if id != 0 {
			t.id = id
			present[id>>6] |= 1 << (id & 63)
		}
		seen |= t.flags
	}
	for i, t := range toks {
		if t.flags&(tURL|tEmail|tIdent) != 0 && seen&(tURL|tEmail|tIdent) != 0 {
			dst = m.try(toks, i, m.urlPats, dst, sc, present, seen)
		}
		if t.id == 0 {
			continue
		}
		if c := m.class[t.id]; c != 0 {
			w := text[t.start:t.end]
			if c&wRot13 != 0 {
				st.rot13++
			}
			if c&wEnglish != 0 {
				st.english++
			}
			if c&wMeta != 0 {
				st.meta++
			}
			if c&wTemplate != 0 {
				st.template++
			}
			if c&wRotName != 0 && (len(w) == 5 || i+1 < len(toks) &&
				string(text[toks[i+1].start:toks[i+1].end]) == "13") {
				st.mentionsRot13 = true
			}
		}
		if sc.dead[t.id] == sc.gen {
			continue
		}
		n := len(dst)
		dst = m.try(toks, i, m.keyed[t.id], dst, sc, present, seen)
		if len(dst) == n && m.allImpossible(m.keyed[t.id], sc) {
			// Later occurrences of this word need not look again.
			sc.dead[t.id] = sc.gen
		}
	}
	return dst, st
}
