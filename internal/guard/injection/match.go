package injection

import (
	"fmt"
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
			brk = true
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
				leet = true
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
// by '|'. "~N" lets up to N other words come before the next element. A
// leading '?' makes an element optional, a leading '!' makes it a
// negative look-ahead (the next word must not be one of these), a leading
// '^' requires the word to start a line and a trailing ':' requires a
// colon after it. "@url", "@urlq" and "@urlp" match a URL, a URL with a
// query, and a URL whose query looks like a data template. Matches never
// cross a sentence break. A pattern may list words after " unless " that,
// anywhere in the match, reject it; a word written "<word" also rejects
// it when it comes shortly before.
type pattern struct {
	rule  int
	elems []elem
	// unless rejects a match that contains one of its words; a word
	// marked true rejects it also when it comes shortly before.
	unless      map[uint16]bool
	unlessWords map[string]bool
}

type elem struct {
	words     []string // as written (folded), until the matcher assigns ids
	set       []uint64 // bitset over the matcher's word ids
	gap       int
	opt, neg  bool
	lineStart bool
	colon     bool
	url       uint8 // token flags of which one is required: tURL, tURLQuery, tURLPayload
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
		for len(f) > 1 && strings.ContainsRune("?!^", rune(f[0])) {
			switch f[0] {
			case '?':
				e.opt = true
			case '!':
				e.neg = true
			case '^':
				e.lineStart = true
			}
			f = f[1:]
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
			case w == "@url":
				e.url |= tURL
			case w == "@urlq":
				e.url |= tURLQuery
			case w == "@urlp":
				e.url |= tURLPayload
			default:
				e.words = append(e.words, fold(w))
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
	if len(p.elems) == 0 {
		return p, fmt.Errorf("pattern %q: no elements", src)
	}
	first := p.elems[0]
	if first.opt || first.neg || first.url != 0 || len(first.words) == 0 {
		return p, fmt.Errorf("pattern %q: the first element must be plain words (it is the index key)", src)
	}
	return p, nil
}

func (e *elem) accept(t token) bool {
	if e.lineStart && t.flags&tLineStart == 0 || e.colon && t.flags&tColon == 0 {
		return false
	}
	if t.flags&tURL != 0 {
		return t.flags&e.url != 0
	}
	return t.id != 0 && int(t.id>>6) < len(e.set) && e.set[t.id>>6]&(1<<(t.id&63)) != 0
}

// unlessReach is how many words before a match the context words of a
// pattern's unless list are looked for.
const unlessReach = 6

// matchBudget bounds the backtracking of one pattern attempt, so that a
// crafted text of repeated trigger words costs linear time.
const matchBudget = 256

// match tries p with its first element at token i and returns the index
// one past the last matched token.
func (p *pattern) match(toks []token, i int) (int, bool) {
	if !p.elems[0].accept(toks[i]) {
		return 0, false
	}
	budget := matchBudget
	end, ok := p.rest(toks, 1, i+1, &budget)
	if !ok {
		return 0, false
	}
	if p.unless != nil {
		for _, t := range toks[i:end] {
			if _, bad := p.unless[t.id]; bad && t.id != 0 {
				return 0, false
			}
		}
		// Context words in the same sentence just before the match:
		// "my eslint config should ignore all rules in ..." is about a
		// linter, not about the model's instructions.
		for j := i - 1; j >= 0 && j >= i-unlessReach; j-- {
			t := toks[j]
			if near := p.unless[t.id]; near && t.id != 0 {
				return 0, false
			}
			if t.flags&tBreak != 0 {
				break
			}
		}
	}
	return end, true
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
		if e.accept(toks[j]) {
			if end, ok := p.rest(toks, k+1, j+1, budget); ok {
				return end, true
			}
		}
	}
	if e.opt {
		return p.rest(toks, k+1, pos, budget)
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
// bit filter on length and first two bytes turns most words away before
// the map) and patterns then test ids against per-element bitsets.
type matcher struct {
	pats   []pattern
	index  map[string]*wordInfo
	byID   []*wordInfo // byID[id] is the word with that id; byID[0] is nil
	filter [256]uint64
}

func filterKey(w []byte) uint {
	k := uint(len(w)&15) << 10
	if len(w) > 0 {
		k |= uint(w[0]&31) << 5
	}
	if len(w) > 1 {
		k |= uint(w[1] & 31)
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
	for _, w := range p.elems[0].words {
		wi := m.info(w)
		wi.pats = append(wi.pats, id)
	}
	for k := range p.elems {
		for _, w := range p.elems[k].words {
			m.info(w)
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
	words := (len(m.byID) + 63) / 64
	for pi := range m.pats {
		p := &m.pats[pi]
		for k := range p.elems {
			e := &p.elems[k]
			if len(e.words) == 0 {
				continue
			}
			e.set = make([]uint64, words)
			for _, w := range e.words {
				id := m.index[w].id
				e.set[id>>6] |= 1 << (id & 63)
			}
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

func (m *matcher) lookup(w []byte) *wordInfo {
	k := filterKey(w)
	if m.filter[k>>6]&(1<<(k&63)) == 0 {
		return nil
	}
	return m.index[string(w)]
}

// viewStats are word counts a scan gathers on the way.
type viewStats struct {
	rot13, english, meta, template int
	mentionsRot13                  bool
}

// collect sets the word id of every token, runs every pattern over toks,
// appends a rawHit per match to dst and counts the word classes on the
// way. toks is modified (ids) and belongs to this matcher afterwards.
func (m *matcher) collect(text []byte, toks []token, dst []rawHit) ([]rawHit, viewStats) {
	var st viewStats
	for i := range toks {
		t := &toks[i]
		t.id = 0
		if t.flags&tURL != 0 {
			continue
		}
		if wi := m.lookup(text[t.start:t.end]); wi != nil {
			t.id = wi.id
		}
	}
	for i, t := range toks {
		if t.id == 0 {
			continue
		}
		wi := m.byID[t.id]
		if c := wi.class; c != 0 {
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
		for _, id := range wi.pats {
			p := &m.pats[id]
			if end, ok := p.match(toks, i); ok {
				dst = append(dst, rawHit{rule: p.rule, i: i, end: end})
			}
		}
	}
	return dst, st
}
