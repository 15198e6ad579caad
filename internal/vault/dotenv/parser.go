package dotenv

import (
	"strings"
	"unicode/utf8"
)

// The parser below is a hand-written equivalent of python-dotenv's
// parser.py, which reads a statement as a chain of anchored regular
// expressions. Each step names the regex it stands for, so the two can be
// compared line by line. Equivalence is checked by a regexp-based reference
// in the tests (see reference_test.go and FuzzParse).

// Messages of SyntaxError. They are fixed texts on purpose: nothing from the
// input may appear in them, because the input holds secrets.
const (
	msgNoKey            = "missing variable name before '='; write KEY=VALUE"
	msgNoKeyAfterExport = `missing variable name after "export"; write export KEY=VALUE`
	msgQuotedKey        = "single-quoted variable name is empty or has no closing quote (')"
	msgUnterminated1    = "single-quoted value has no closing quote ('); a quoted value may span lines, but it must be closed"
	msgUnterminated2    = `double-quoted value has no closing quote ("); a quoted value may span lines, but it must be closed`
	msgAfterQuote       = "unexpected text after the closing quote; only spaces and a # comment may follow a quoted value"
	msgAfterKey         = "unexpected text after the variable name; write KEY=VALUE, or KEY alone for a key without a value"
	msgNotUTF8          = "the file is not valid UTF-8; save it as UTF-8 and try again"
)

// statement is one binding as python-dotenv's parser yields it: escapes
// decoded, ${...} not yet expanded.
type statement struct {
	key      string
	value    string
	hasValue bool
	line     int
}

// parser holds the text and a cursor into it. Like python-dotenv's Reader,
// a step that fails leaves pos where that step started, which decides where
// parsing resumes after a bad statement.
type parser struct {
	s   string
	pos int

	// lineOff and line cache the line number of offset lineOff, so that
	// numbering statements costs one pass over the text in all.
	lineOff, line int
}

// lineOf returns the 1-based line of offset off. Offsets must not decrease
// from one call to the next.
func (p *parser) lineOf(off int) int {
	p.line += strings.Count(p.s[p.lineOff:off], "\n")
	p.lineOff = off
	return p.line
}

// parseStatements splits the text into statements the way parse_stream
// does, turning each statement python-dotenv would skip with a warning into
// a *SyntaxError.
func parseStatements(s string) ([]statement, []error) {
	p := &parser{s: s, line: 1}
	var stmts []statement
	var errs []error
	for {
		// _multiline_whitespace: \s* before every statement, newlines
		// included, so blank lines never form statements.
		p.pos = skipSpace(s, p.pos, true)
		if p.pos >= len(s) {
			return stmts, errs
		}
		line := p.lineOf(p.pos)
		st, ok, err := p.statement()
		if err != nil {
			err.Line = line
			errs = append(errs, err)
			// _rest_of_line: skip what is left of the line on which the
			// failing step started and go on with the next one. After an
			// unterminated quote that is the very next line, which
			// python-dotenv then reads as a statement of its own.
			p.pos = nextLine(s, p.pos)
			continue
		}
		if ok {
			st.line = line
			stmts = append(stmts, st)
		}
	}
}

// statement reads one statement starting at a non-space character, as
// parse_binding does. ok is false for a comment line, which yields nothing.
func (p *parser) statement() (st statement, ok bool, err *SyntaxError) {
	s := p.s
	// _export: (?:export[^\S\r\n]+)? — the word counts as a prefix only
	// when followed by spaces; "export=1" assigns the key "export".
	exported := false
	if strings.HasPrefix(s[p.pos:], "export") {
		if end := skipSpace(s, p.pos+len("export"), false); end > p.pos+len("export") {
			p.pos = end
			exported = true
		}
	}

	// parse_key: '#' means the rest is a comment (no key), a single quote
	// starts _single_quoted_key '([^']+)', anything else _unquoted_key
	// ([^=\#\s]+).
	switch {
	case p.pos < len(s) && s[p.pos] == '#':
		ok = false
	case p.pos < len(s) && s[p.pos] == '\'':
		n := strings.IndexByte(s[p.pos+1:], '\'')
		if n <= 0 {
			return st, false, &SyntaxError{Msg: msgQuotedKey}
		}
		st.key = s[p.pos+1 : p.pos+1+n]
		p.pos += n + 2
		ok = true
	default:
		end := p.pos
		for end < len(s) {
			r, size := utf8.DecodeRuneInString(s[end:])
			if r == '=' || r == '#' || isSpace(r) {
				break
			}
			end += size
		}
		if end == p.pos {
			if exported {
				return st, false, &SyntaxError{Msg: msgNoKeyAfterExport}
			}
			return st, false, &SyntaxError{Msg: msgNoKey}
		}
		st.key = s[p.pos:end]
		p.pos = end
		ok = true
	}

	// _whitespace, then '=' and _equal_sign (=[^\S\r\n]*), then the value.
	p.pos = skipSpace(s, p.pos, false)
	quoted := false
	if p.pos < len(s) && s[p.pos] == '=' {
		p.pos = skipSpace(s, p.pos+1, false)
		st.hasValue = true
		st.value, quoted, err = p.value()
		if err != nil {
			err.Key = st.key
			return st, false, err
		}
	}

	// _comment: (?:[^\S\r\n]*#[^\r\n]*)? — a '#' directly after a closing
	// quote or a key starts a comment too; no space is needed here.
	if q := skipSpace(s, p.pos, false); q < len(s) && s[q] == '#' {
		p.pos = lineEnd(s, q)
	}
	// _end_of_line: [^\S\r\n]*(?:\r\n|\n|\r|$)
	q := skipSpace(s, p.pos, false)
	switch {
	case q == len(s):
		p.pos = q
	case s[q] == '\n':
		p.pos = q + 1
	default:
		if quoted {
			return st, false, &SyntaxError{Key: st.key, Msg: msgAfterQuote}
		}
		// No key in this error: a line that is not an assignment may be
		// the second line of a broken multi-line value, and then its
		// first word is part of a secret, not a variable name.
		return st, false, &SyntaxError{Msg: msgAfterKey}
	}
	return st, ok, nil
}

// value reads what follows '=' and the spaces after it, as parse_value
// does. quoted reports a quoted value, for the error message that may
// follow it.
func (p *parser) value() (v string, quoted bool, err *SyntaxError) {
	s := p.s
	if p.pos >= len(s) || s[p.pos] == '\n' {
		return "", false, nil
	}
	switch s[p.pos] {
	case '\'':
		body, next, ok := scanQuoted(s, p.pos)
		if !ok {
			return "", true, &SyntaxError{Msg: msgUnterminated1}
		}
		p.pos = next
		return decodeSingle(body), true, nil
	case '"':
		body, next, ok := scanQuoted(s, p.pos)
		if !ok {
			return "", true, &SyntaxError{Msg: msgUnterminated2}
		}
		p.pos = next
		return decodeDouble(body), true, nil
	}
	// _unquoted_value ([^\r\n]*), then re.sub(r"\s+#.*", "", part).rstrip().
	end := lineEnd(s, p.pos)
	part := s[p.pos:end]
	p.pos = end
	return rstripSpace(cutComment(part)), false, nil
}

// scanQuoted matches _single_quoted_value '((?:\\'|[^'])*)' or its
// double-quoted twin at s[open], returning the text between the quotes and
// the offset after the closing one.
//
// A quote preceded by a backslash does not close the value, but it is not
// a true escape either: when no unescaped quote follows, the regex
// backtracks and lets the last backslash-quote pair close the value after
// all. So A='abc\' is a complete statement whose value is `abc\`, and
// 'a\\'b' is `a\'b` (the first backslash escapes nothing, the second pair
// does not close). This function reproduces that exactly.
func scanQuoted(s string, open int) (body string, next int, ok bool) {
	q := s[open]
	lastPair := -1
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case q:
			return s[open+1 : i], i + 1, true
		case '\\':
			if i+1 < len(s) && s[i+1] == q {
				lastPair = i
				i++
			}
		}
	}
	if lastPair >= 0 {
		return s[open+1 : lastPair+1], lastPair + 2, true
	}
	return "", open, false
}

// decodeDouble decodes the escapes python-dotenv decodes in double-quoted
// values: \\ \' \" \a \b \f \n \r \t \v (_double_quote_escapes, each pair
// run through the unicode-escape codec). Every other backslash is kept as
// it is: "\x41", "\u00e9", "\$" and "\z" stay four, six, two and two
// characters long, because the regex never hands them to the codec.
func decodeDouble(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			if d, ok := doubleEscape(s[i+1]); ok {
				b.WriteByte(d)
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func doubleEscape(c byte) (byte, bool) {
	switch c {
	case '\\', '\'', '"':
		return c, true
	case 'a':
		return '\a', true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'v':
		return '\v', true
	}
	return 0, false
}

// decodeSingle decodes the only escapes python-dotenv decodes in
// single-quoted values, \\ and \' (_single_quote_escapes).
func decodeSingle(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '\'') {
			c = s[i+1]
			i++
		}
		b.WriteByte(c)
	}
	return b.String()
}

// cutComment removes an inline comment from an unquoted value, as
// re.sub(r"\s+#.*", "", part) does: the comment starts at the first '#'
// that follows whitespace, and the whole run of whitespace before it goes
// too. A '#' glued to the text before it (a#b) is part of the value.
func cutComment(part string) string {
	from := 0
	for {
		i := strings.IndexByte(part[from:], '#')
		if i < 0 {
			return part
		}
		i += from
		cut := i
		for cut > 0 {
			r, size := utf8.DecodeLastRuneInString(part[:cut])
			if !isSpace(r) {
				break
			}
			cut -= size
		}
		if cut < i {
			return part[:cut]
		}
		from = i + 1
	}
}

// rstripSpace is Python's str.rstrip() with no argument.
func rstripSpace(s string) string {
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if !isSpace(r) {
			break
		}
		s = s[:len(s)-size]
	}
	return s
}

// skipSpace returns the offset of the first character at or after i that
// is not whitespace. With newlines false it stops at '\n', like the
// [^\S\r\n] class python-dotenv uses within a line.
func skipSpace(s string, i int, newlines bool) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isSpace(r) || (r == '\n' && !newlines) {
			break
		}
		i += size
	}
	return i
}

// isSpace reports whether r matches \s in a Python str regex (the same set
// as str.isspace). It is wider than unicode.IsSpace: it includes the
// information separators U+001C..U+001F, which Python treats as
// whitespace, so "KEY\x1f=v" has the key "KEY" in python-dotenv.
func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x1c, 0x1d, 0x1e, 0x1f,
		0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// lineEnd returns the offset of the '\n' ending the line that contains i,
// or len(s).
func lineEnd(s string, i int) int {
	if n := strings.IndexByte(s[i:], '\n'); n >= 0 {
		return i + n
	}
	return len(s)
}

// nextLine returns the offset just after the line that contains i.
func nextLine(s string, i int) int {
	if e := lineEnd(s, i); e < len(s) {
		return e + 1
	}
	return len(s)
}
