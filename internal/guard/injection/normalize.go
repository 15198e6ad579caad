package injection

import (
	"encoding/binary"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normFlags records what normalisation had to undo. Some of it is evidence
// of obfuscation in its own right (a Latin word with Cyrillic letters in
// it, a zero-width space between two letters), which the scorer adds as a
// bonus when a phrase signal fired too.
type normFlags struct {
	nonASCII    bool // the input had non-ASCII text (enables literal CJK rules)
	mixedScript bool // a word mixed Latin letters with look-alikes from other scripts
	hiddenChars bool // zero-width or bidi controls sat between two letters
}

// normalize writes the canonical form of src to dst and returns it:
// Unicode NFKC (which also folds fullwidth and mathematical letter forms),
// zero-width, bidi and other invisible format characters removed,
// Cyrillic and Greek look-alikes of Latin letters folded in words that
// are (or could pass for) Latin, curly quotes made ASCII, lowercase, and
// whitespace collapsed to one space, or one newline when the run held a
// line break (line starts matter for fake chat turns).
//
// If pos is not nil, pos[i] is set to the byte offset in src that output
// byte i came from, so that spans can be reported against the caller's
// text. Unicode tag characters (U+E0020..U+E007E, invisible "ASCII
// smuggling") are removed from the text and their ASCII payload replaces
// the contents of *tags.
func normalize(dst []byte, src string, pos *[]int32, tags *[]byte) ([]byte, normFlags) {
	var f normFlags
	// Fast path: plain ASCII is already NFKC and has no look-alikes.
	ascii := isASCII(src)
	w := writer{dst: dst[:0], pos: pos}
	if pos != nil {
		*pos = (*pos)[:0]
	}
	if tags != nil {
		*tags = (*tags)[:0]
	}
	if ascii && pos == nil {
		return normalizeASCII(dst, src)
	}
	if ascii {
		for i := 0; i < len(src); i++ {
			w.ascii(src[i], i, &f)
		}
		w.flush()
		return w.dst, f
	}
	f.nonASCII = true
	var word wordBuf
	var seg []byte
	// Text that is already NFKC (QuickSpan) is processed as it stands,
	// with exact offsets. Where it is not, the text up to the next ASCII
	// space or newline (a starter that never composes, so a segment
	// boundary) is normalised as one chunk and its output attributed to
	// the chunk's start: spans stay exact at word edges, and a line of
	// fullwidth text costs one conversion per word, not per letter.
	for base := 0; base < len(src); {
		n := norm.NFKC.QuickSpanString(src[base:])
		w.runes(src[base:base+n], base, true, &word, &f, tags)
		base += n
		if base >= len(src) {
			break
		}
		m := strings.IndexAny(src[base:], " \n")
		if m < 0 {
			m = len(src) - base
		}
		if m == 0 {
			m = norm.NFKC.NextBoundaryInString(src[base:], true)
			if m <= 0 {
				_, m = utf8.DecodeRuneInString(src[base:])
			}
		}
		seg = norm.NFKC.AppendString(seg[:0], src[base:base+m])
		w.runes(string(seg), base, false, &word, &f, tags)
		base += m
	}
	word.flush(&w, &f)
	w.flush()
	return w.dst, f
}

// runes feeds normalised text to the writer. at is the offset of s in the
// caller's text; exact says whether s is that text byte for byte (so each
// rune has its own offset) or the normalisation of one segment.
func (w *writer) runes(s string, at int, exact bool, word *wordBuf, f *normFlags, tags *[]byte) {
	off := func(i int) int {
		if exact {
			return at + i
		}
		return at
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if isLetterByte(c) || '0' <= c && c <= '9' {
				if w.hidden && word.n > 0 {
					f.hiddenChars = true
				}
				w.hidden = false
				word.add(w, f, rune(c), off(i))
			} else {
				word.flush(w, f)
				w.ascii(c, off(i), f)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		o := off(i)
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			// Invalid bytes are dropped, like invisible characters: a
			// stray byte must not split a word an attacker wants read.
			w.hidden = true
		case r >= 0xE0000 && r <= 0xE007F:
			if tags != nil && r >= 0xE0020 && r <= 0xE007E {
				*tags = append(*tags, byte(r-0xE0000))
			}
			w.hidden = true
		case isInvisible(r):
			w.hidden = true
		case unicode.IsSpace(r):
			word.flush(w, f)
			w.spaceAt(r == '\u2028' || r == '\u2029', o)
		default:
			if q, ok := quoteFold(r); ok {
				word.flush(w, f)
				w.ascii(q, o, f)
				continue
			}
			if unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) {
				if w.hidden && word.n > 0 {
					f.hiddenChars = true
				}
				w.hidden = false
				word.add(w, f, r, o)
				continue
			}
			word.flush(w, f)
			w.rune(unicode.ToLower(r), o)
		}
	}
}

// isASCII reports whether s is all ASCII, eight bytes at a time.
func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if binary.LittleEndian.Uint64([]byte(s[i:i+8]))&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// normalizeASCII is normalize for ASCII text when no offsets are wanted:
// the common case, in one tight loop.
func normalizeASCII(dst []byte, src string) ([]byte, normFlags) {
	var f normFlags
	if cap(dst) < len(src) {
		dst = make([]byte, 0, len(src))
	}
	out := dst[:len(src)]
	n := 0
	var pend byte // pending whitespace: 0, ' ' or '\n'
	hidden, lastLet := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch asciiClass[c] {
		case acSpace:
			if pend == 0 {
				pend = ' '
			}
			hidden, lastLet = false, false
		case acNewline:
			pend = '\n'
			hidden, lastLet = false, false
		case acControl:
			hidden = true
		case acLetter:
			if pend != 0 {
				if n > 0 {
					out[n] = pend
					n++
				}
				pend = 0
			}
			if hidden && lastLet {
				f.hiddenChars = true
			}
			hidden, lastLet = false, true
			out[n] = c | 0x20
			n++
		default:
			if pend != 0 {
				if n > 0 {
					out[n] = pend
					n++
				}
				pend = 0
			}
			hidden, lastLet = false, false
			out[n] = c
			n++
		}
	}
	return out[:n], f
}

// asciiPos maps offsets in the normalised form of the ASCII text src to
// offsets in src, as the position map of normalize would, without
// building that map: want is ascending, and got[k] is where want[k]
// came from (len(src) for an offset past the end).
func asciiPos(src string, want, got []int32) []int32 {
	got = got[:0]
	k, n := 0, int32(0)
	pend, pendAt := false, 0
	for i := 0; i < len(src) && k < len(want); i++ {
		switch asciiClass[src[i]] {
		case acSpace, acNewline:
			if !pend {
				pend, pendAt = true, i
			}
		case acControl:
		default:
			if pend {
				// Whitespace is written only between visible bytes.
				if n > 0 {
					for k < len(want) && want[k] == n {
						got = append(got, int32(pendAt))
						k++
					}
					n++
				}
				pend = false
			}
			for k < len(want) && want[k] == n {
				got = append(got, int32(i))
				k++
			}
			n++
		}
	}
	for ; k < len(want); k++ {
		got = append(got, int32(len(src)))
	}
	return got
}

const (
	acOther = iota
	acLetter
	acSpace
	acNewline
	acControl
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch b := byte(c); {
		case isLetterByte(b):
			t[c] = acLetter
		case b == ' ' || b == '\t' || b == '\v' || b == '\f' || b == '\r':
			t[c] = acSpace
		case b == '\n':
			t[c] = acNewline
		case b < 0x20 || b == 0x7f:
			t[c] = acControl
		}
	}
	return t
}()

// writer appends normalised output and collapses whitespace.
type writer struct {
	dst []byte
	pos *[]int32
	// pending whitespace: 0 none, 1 space, 2 newline
	pend    int
	pendAt  int
	hidden  bool // an invisible character was skipped since the last letter
	lastLet bool // the last byte written was a letter (for hiddenChars)
}

func (w *writer) emit(b byte, at int) {
	if w.pend != 0 {
		if len(w.dst) > 0 {
			c := byte(' ')
			if w.pend == 2 {
				c = '\n'
			}
			w.dst = append(w.dst, c)
			if w.pos != nil {
				*w.pos = append(*w.pos, int32(w.pendAt))
			}
		}
		w.pend = 0
	}
	w.dst = append(w.dst, b)
	if w.pos != nil {
		*w.pos = append(*w.pos, int32(at))
	}
}

func (w *writer) ascii(c byte, at int, f *normFlags) {
	switch {
	case c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r':
		w.spaceAt(false, at)
		return
	case c == '\n':
		w.spaceAt(true, at)
		return
	case c < 0x20 || c == 0x7f:
		// Control bytes are invisible in most renderings: drop them so
		// that "ign\x00ore" reads as the word it shows.
		w.hidden = true
		return
	case 'A' <= c && c <= 'Z':
		c += 'a' - 'A'
	}
	letter := 'a' <= c && c <= 'z'
	if letter && w.hidden && w.lastLet {
		f.hiddenChars = true
	}
	w.hidden = false
	w.lastLet = letter
	w.emit(c, at)
}

func (w *writer) spaceAt(newline bool, at int) {
	if w.pend == 0 {
		w.pendAt = at
	}
	if newline {
		w.pend = 2
	} else if w.pend == 0 {
		w.pend = 1
	}
	w.hidden = false
	w.lastLet = false
}

func (w *writer) rune(r rune, at int) {
	var b [utf8.UTFMax]byte
	n := utf8.EncodeRune(b[:], r)
	for i := 0; i < n; i++ {
		w.emit(b[i], at)
	}
	w.lastLet = false
}

// flush drops trailing whitespace: it carries no signal.
func (w *writer) flush() { w.pend = 0 }

// wordBuf holds one word of non-ASCII text until its end, because
// whether a Cyrillic "о" is folded to Latin "o" depends on the rest of
// the word: "ignоre" is a disguise, "слово" is Russian.
type wordBuf struct {
	r        [64]rune
	at       [64]int
	n        int
	nonASCII bool
}

func (b *wordBuf) add(w *writer, f *normFlags, r rune, at int) {
	if b.n == len(b.r) {
		// A very long word is written in pieces; injections are phrases
		// of ordinary words, so a 64-letter word is not worth more care.
		b.flush(w, f)
	}
	b.r[b.n] = r
	b.at[b.n] = at
	b.n++
	if r >= utf8.RuneSelf {
		b.nonASCII = true
	}
}

func (b *wordBuf) flush(w *writer, f *normFlags) {
	if b.n == 0 {
		return
	}
	if !b.nonASCII {
		for i, r := range b.r[:b.n] {
			c := byte(r)
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			w.emit(c, b.at[i])
		}
		w.lastLet = true
		b.n = 0
		return
	}
	// The word has non-ASCII letters: fold look-alikes if it passes for
	// Latin.
	latin, foreign, foldable := 0, 0, 0
	for _, r := range b.r[:b.n] {
		switch {
		case r < utf8.RuneSelf:
			if isLetterByte(byte(r)) {
				latin++
			}
		case unicode.IsLetter(r):
			foreign++
			if _, ok := homoglyph[r]; ok {
				foldable++
			}
		}
	}
	// Fold when the word already has Latin letters or is made entirely of
	// look-alikes; a word with a letter that has no Latin twin is text in
	// its own script and is left alone.
	fold := foldable > 0 && (latin > 0 || foldable == foreign)
	if fold && latin > 0 {
		f.mixedScript = true
	}
	for i, r := range b.r[:b.n] {
		if fold {
			if l, ok := homoglyph[r]; ok {
				r = l
			}
		}
		if r < utf8.RuneSelf {
			c := byte(r)
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			w.emit(c, b.at[i])
			w.lastLet = true
			continue
		}
		w.rune(unicode.ToLower(r), b.at[i])
		w.lastLet = true
	}
	b.n = 0
}

func isLetterByte(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isInvisible reports format and control characters that render as
// nothing and so can split a word without the reader seeing it.
func isInvisible(r rune) bool {
	switch r {
	case '\u00ad', // soft hyphen
		'\u034f',           // combining grapheme joiner
		'\u061c',           // Arabic letter mark
		'\u115f', '\u1160', // Hangul fillers
		'\u17b4', '\u17b5',
		'\u180e',                                         // Mongolian vowel separator
		'\u200b', '\u200c', '\u200d', '\u200e', '\u200f', // zero-width, LRM, RLM
		'\u202a', '\u202b', '\u202c', '\u202d', '\u202e', // bidi embeddings and overrides
		'\u2060', '\u2061', '\u2062', '\u2063', '\u2064', // word joiner, invisible operators
		'\u2066', '\u2067', '\u2068', '\u2069', // bidi isolates
		'\u206a', '\u206b', '\u206c', '\u206d', '\u206e', '\u206f',
		'\u3164', '\ufeff', '\uffa0':
		return true
	}
	if r >= 0xFE00 && r <= 0xFE0F { // variation selectors
		return true
	}
	if r >= 0xE0100 && r <= 0xE01EF {
		return true
	}
	return unicode.Is(unicode.Cc, r)
}

// quoteFold maps typographic quotes to ASCII so that the quoting check
// (a phrase quoted in a discussion is a mention, not a command) sees them.
func quoteFold(r rune) (byte, bool) {
	switch r {
	case '\u201c', '\u201d', '\u201e', '\u201f', '\u2033', '\u00ab', '\u00bb', '\u300c', '\u300d':
		return '"', true
	case '\u2018', '\u2019', '\u201a', '\u201b', '\u2032':
		return '\'', true
	}
	return 0, false
}

// homoglyph maps Cyrillic and Greek letters that look like Latin ones (in
// common fonts) to the Latin letter, lowercase. Only shapes a reader would
// take for the Latin letter are listed.
var homoglyph = map[rune]rune{
	// Cyrillic
	'а': 'a', 'А': 'a', 'в': 'b', 'В': 'b', 'с': 'c', 'С': 'c', 'ԁ': 'd',
	'е': 'e', 'Е': 'e', 'ё': 'e', 'Ё': 'e', 'һ': 'h', 'Н': 'h', 'і': 'i',
	'І': 'i', 'ї': 'i', 'Ї': 'i', 'ј': 'j', 'Ј': 'j', 'к': 'k', 'К': 'k',
	'ӏ': 'l', 'Ӏ': 'l', 'м': 'm', 'М': 'm', 'п': 'n', 'о': 'o', 'О': 'o',
	'р': 'p', 'Р': 'p', 'ԛ': 'q', 'ѕ': 's', 'Ѕ': 's', 'т': 't', 'Т': 't',
	'у': 'y', 'У': 'y', 'ү': 'y', 'х': 'x', 'Х': 'x', 'ԝ': 'w', 'Ԝ': 'w',
	'ь': 'b', 'Ь': 'b', 'г': 'r', 'ɡ': 'g', 'ո': 'n', 'ս': 'u',
	// Greek
	'α': 'a', 'Α': 'a', 'β': 'b', 'Β': 'b', 'ε': 'e', 'Ε': 'e', 'Ζ': 'z',
	'Η': 'h', 'ι': 'i', 'Ι': 'i', 'κ': 'k', 'Κ': 'k', 'Μ': 'm', 'ν': 'v',
	'Ν': 'n', 'ο': 'o', 'Ο': 'o', 'ρ': 'p', 'Ρ': 'p', 'τ': 't', 'Τ': 't',
	'υ': 'u', 'Υ': 'y', 'χ': 'x', 'Χ': 'x', 'ϲ': 'c', 'Ϲ': 'c', 'ϳ': 'j',
	// Latin letters from other blocks that NFKC leaves alone
	'ı': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɩ': 'i', 'ʀ': 'r', 'ʏ': 'y', 'ᴀ': 'a',
	'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ᴊ': 'j',
	'ᴋ': 'k', 'ʟ': 'l', 'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ꜱ': 's',
	'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ᴢ': 'z',
}
