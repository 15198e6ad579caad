package dotenv

import (
	"regexp"
	"strings"
)

// This file holds a second, deliberately naive implementation of
// python-dotenv's parser and resolve_variables, written as a direct
// transliteration of its regular expressions. Go's regexp package uses the
// same leftmost-first rule as Python's backtracking engine, so each anchored
// match here picks the same text python-dotenv's does, including the
// backtracking corner cases of the quoted-value patterns. FuzzParse checks
// that the hand-written parser agrees with it on arbitrary input.
//
// Python's \s is wider than Go's (it has \v, U+001C..U+001F and the Unicode
// spaces), so the classes are spelled out. Input is already prepared (no
// BOM, newlines as "\n"), as python-dotenv's text-mode file read gives it.

const (
	refSpace  = `\t\n\v\f\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`
	refHSpace = `\t\v\f\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}` // [^\S\r\n]
)

func refRe(expr string) *regexp.Regexp { return regexp.MustCompile(`\A(?:` + expr + `)`) }

var (
	refMultilineWhitespace = refRe(`[` + refSpace + `]*`)
	refWhitespace          = refRe(`[` + refHSpace + `]*`)
	refExport              = refRe(`(?:export[` + refHSpace + `]+)?`)
	refSingleQuotedKey     = refRe(`'([^']+)'`)
	refUnquotedKey         = refRe(`([^=#` + refSpace + `]+)`)
	refEqualSign           = refRe(`(=[` + refHSpace + `]*)`)
	refSingleQuotedValue   = refRe(`'((?:\\'|[^'])*)'`)
	refDoubleQuotedValue   = refRe(`"((?:\\"|[^"])*)"`)
	refUnquotedValue       = refRe(`([^\r\n]*)`)
	refComment             = refRe(`(?:[` + refHSpace + `]*#[^\r\n]*)?`)
	refEndOfLine           = refRe(`[` + refHSpace + `]*(?:\r\n|\n|\r|$)`)
	refRestOfLine          = refRe(`[^\r\n]*(?:\r|\n|\r\n)?`)

	refDoubleQuoteEscapes = regexp.MustCompile(`\\[\\'"abfnrtv]`)
	refSingleQuoteEscapes = regexp.MustCompile(`\\[\\']`)
	refInlineComment      = regexp.MustCompile(`[` + refSpace + `]+#.*`)
	refTrailingSpace      = regexp.MustCompile(`[` + refSpace + `]+\z`)
	refPosixVariable      = regexp.MustCompile(`\$\{([^}:]*)(?::-([^}]*))?\}`)
)

// refReader is python-dotenv's Reader: a string and a position.
type refReader struct {
	s   string
	pos int
}

type refFail struct{}

// read is Reader.read_regex: it panics with refFail where Python raises.
func (r *refReader) read(re *regexp.Regexp) []string {
	m := re.FindStringSubmatch(r.s[r.pos:])
	if m == nil {
		panic(refFail{})
	}
	r.pos += len(m[0])
	return m[1:]
}

func (r *refReader) peek() string {
	if r.pos >= len(r.s) {
		return ""
	}
	return r.s[r.pos : r.pos+1]
}

var refUnicodeEscape = map[string]string{
	`\\`: `\`, `\'`: `'`, `\"`: `"`, `\a`: "\a", `\b`: "\b", `\f`: "\f",
	`\n`: "\n", `\r`: "\r", `\t`: "\t", `\v`: "\v",
}

func refDecode(re *regexp.Regexp, s string) string {
	return re.ReplaceAllStringFunc(s, func(m string) string { return refUnicodeEscape[m] })
}

type refBinding struct {
	key, value       string
	hasKey, hasValue bool
	err              bool
	line             int // line of the first character after leading whitespace
}

// binding is parse_binding.
func (r *refReader) binding() (b refBinding) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(refFail); !ok {
				panic(p)
			}
			r.read(refRestOfLine)
			b = refBinding{err: true, line: b.line}
		}
	}()
	r.read(refMultilineWhitespace)
	b.line = 1 + strings.Count(r.s[:r.pos], "\n")
	if r.pos >= len(r.s) {
		return b
	}
	r.read(refExport)
	switch r.peek() {
	case "#":
	case "'":
		b.key, b.hasKey = r.read(refSingleQuotedKey)[0], true
	default:
		b.key, b.hasKey = r.read(refUnquotedKey)[0], true
	}
	r.read(refWhitespace)
	if r.peek() == "=" {
		r.read(refEqualSign)
		b.hasValue = true
		switch r.peek() {
		case "'":
			b.value = refDecode(refSingleQuoteEscapes, r.read(refSingleQuotedValue)[0])
		case `"`:
			b.value = refDecode(refDoubleQuoteEscapes, r.read(refDoubleQuotedValue)[0])
		case "", "\n", "\r":
		default:
			part := r.read(refUnquotedValue)[0]
			b.value = refTrailingSpace.ReplaceAllString(refInlineComment.ReplaceAllString(part, ""), "")
		}
	}
	r.read(refComment)
	r.read(refEndOfLine)
	return b
}

// refParse is parse_stream followed by resolve_variables(override=True),
// with env standing for os.environ. It returns the entries and the lines
// of the statements python-dotenv would warn about.
func refParse(text string, env map[string]string) (entries []Entry, errLines []int) {
	r := &refReader{s: text}
	values := map[string]*string{} // nil for a bare key, like Python's None
	for r.pos < len(r.s) {
		b := r.binding()
		if b.err {
			errLines = append(errLines, b.line)
			continue
		}
		if !b.hasKey {
			continue
		}
		e := Entry{Key: b.key, Line: b.line, HasValue: b.hasValue}
		if !b.hasValue {
			values[b.key] = nil
		} else {
			e.Value = refResolve(b.value, values, env)
			v := e.Value
			values[b.key] = &v
		}
		entries = append(entries, e)
	}
	return entries, errLines
}

// refResolve is parse_variables plus Variable.resolve.
func refResolve(value string, values map[string]*string, env map[string]string) string {
	return refPosixVariable.ReplaceAllStringFunc(value, func(m string) string {
		sub := refPosixVariable.FindStringSubmatch(m)
		name, def := sub[1], sub[2]
		if v, ok := values[name]; ok {
			if v == nil {
				return ""
			}
			return *v
		}
		if v, ok := env[name]; ok {
			return v
		}
		return def
	})
}
