package guard

import (
	"bytes"
	"github.com/wardenproject/warden/internal/jsonscan"
	"iter"
	"unicode/utf16"
	"unicode/utf8"
)

// Bodies are inspected and rewritten by splicing: the string values that
// hold text are located by offset, and only those whose text changes are
// replaced, re-encoded as JSON strings. Every other byte (whitespace, key
// order, number spellings, escapes in untouched strings) goes on as it
// came. The navigation below assumes a document that encoding/json.Valid
// accepted; it does not validate.

// span is a half-open range of offsets into a document.
type span struct{ start, end int }

// edit replaces doc[start:end] with text.
type edit struct {
	span
	text []byte
}

// applyEdits returns doc with edits applied. Edits are in document order
// and do not overlap. With no edits, doc itself is returned.
func applyEdits(doc []byte, edits []edit) []byte {
	if len(edits) == 0 {
		return doc
	}
	size := len(doc)
	for _, e := range edits {
		size += len(e.text) - (e.end - e.start)
	}
	out := make([]byte, 0, size)
	at := 0
	for _, e := range edits {
		out = append(out, doc[at:e.start]...)
		out = append(out, e.text...)
		at = e.end
	}
	return append(out, doc[at:]...)
}

// root returns the span of the document's top-level value.
func root(doc []byte) span {
	i := jsonscan.SkipSpace(doc, 0)
	return span{i, jsonscan.SkipValue(doc, i)}
}

// kind returns the first byte of the value at v: '"', '{', '[', 't', 'f',
// 'n' or the start of a number; 0 for an empty span.
func kind(doc []byte, v span) byte {
	if v.start >= v.end {
		return 0
	}
	return doc[v.start]
}

func isString(doc []byte, v span) bool { return kind(doc, v) == '"' }
func isObject(doc []byte, v span) bool { return kind(doc, v) == '{' }
func isArray(doc []byte, v span) bool  { return kind(doc, v) == '[' }
func isNull(doc []byte, v span) bool   { return kind(doc, v) == 'n' }

// members yields the key (quotes included) and value of every member of
// the object at v, in document order, duplicates included.
func members(doc []byte, v span) iter.Seq2[span, span] {
	return func(yield func(span, span) bool) {
		if !isObject(doc, v) {
			return
		}
		i := jsonscan.SkipSpace(doc, v.start+1)
		if i >= len(doc) || doc[i] == '}' {
			return
		}
		for i < len(doc) {
			k := span{i, jsonscan.SkipString(doc, i)}
			i = jsonscan.SkipSpace(doc, k.end)
			i = jsonscan.SkipSpace(doc, i+1) // the colon
			val := span{i, jsonscan.SkipValue(doc, i)}
			if !yield(k, val) {
				return
			}
			i = jsonscan.SkipSpace(doc, val.end)
			if i >= len(doc) || doc[i] == '}' {
				return
			}
			i = jsonscan.SkipSpace(doc, i+1) // the comma
		}
	}
}

// elems yields the index and value of every element of the array at v.
func elems(doc []byte, v span) iter.Seq2[int, span] {
	return func(yield func(int, span) bool) {
		if !isArray(doc, v) {
			return
		}
		i := jsonscan.SkipSpace(doc, v.start+1)
		if i >= len(doc) || doc[i] == ']' {
			return
		}
		for n := 0; i < len(doc); n++ {
			val := span{i, jsonscan.SkipValue(doc, i)}
			if !yield(n, val) {
				return
			}
			i = jsonscan.SkipSpace(doc, val.end)
			if i >= len(doc) || doc[i] == ']' {
				return
			}
			i = jsonscan.SkipSpace(doc, i+1)
		}
	}
}

// lookup returns the value of the member name of the object at v. With
// duplicate keys the last one wins, as in encoding/json, Python and
// JavaScript, which is what an upstream will most likely act on.
func lookup(doc []byte, v span, name string) (span, bool) {
	var found span
	ok := false
	for k, val := range members(doc, v) {
		if stringIs(doc, k, name) {
			found, ok = val, true
		}
	}
	return found, ok
}

// stringIs reports whether the string at v decodes to s.
func stringIs(doc []byte, v span, s string) bool {
	if !isString(doc, v) || v.end-v.start < 2 {
		return false
	}
	raw := doc[v.start+1 : v.end-1]
	if !hasEscape(raw) {
		return string(raw) == s
	}
	return decodeString(doc, v) == s
}

// lookupString returns the decoded string member name of the object at v,
// or "" if there is none or it is not a string.
func lookupString(doc []byte, v span, name string) string {
	s, ok := lookup(doc, v, name)
	if !ok || !isString(doc, s) {
		return ""
	}
	return decodeString(doc, s)
}

// lookupInt returns the member name of the object at v as a non-negative
// int, or def if it is missing or not a plain non-negative integer.
func lookupInt(doc []byte, v span, name string, def int) int {
	s, ok := lookup(doc, v, name)
	if !ok {
		return def
	}
	n, ok := parseUint(doc[s.start:s.end])
	if !ok {
		return def
	}
	return n
}

// parseUint parses a JSON number that is a non-negative integer below
// 2^53 (exponent notation such as 1e3 and 10.0 included, as JSON clients
// may send them).
func parseUint(b []byte) (int, bool) {
	if len(b) == 0 || b[0] == '-' {
		return 0, false
	}
	n := 0
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if n > 1<<53 {
			return 0, false
		}
		n = n*10 + int(b[i]-'0')
	}
	if i == 0 {
		return 0, false
	}
	frac := false
	if i < len(b) && b[i] == '.' {
		// Only a zero fraction is an integer.
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if b[i] != '0' {
				frac = true
			}
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		neg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			neg = b[i] == '-'
			i++
		}
		e := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if e > 100 {
				return 0, false
			}
			e = e*10 + int(b[i]-'0')
		}
		if neg {
			return 0, false
		}
		for ; e > 0; e-- {
			if n > 1<<53 {
				return 0, false
			}
			n *= 10
		}
	}
	if frac || i != len(b) || n > 1<<53 {
		return 0, false
	}
	return n, true
}

func hasEscape(raw []byte) bool { return bytes.IndexByte(raw, '\\') >= 0 }

// decodeString returns the text of the JSON string at v. Escapes are
// decoded as encoding/json does (a lone surrogate becomes U+FFFD); raw
// bytes, invalid UTF-8 included, are kept as they are, so that offsets in
// the result are byte offsets of what the upstream will see.
func decodeString(doc []byte, v span) string {
	raw := doc[v.start+1 : v.end-1]
	if !hasEscape(raw) {
		return string(raw)
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			break
		}
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw, i+1)
			if !ok {
				out = append(out, "\uFFFD"...)
				continue
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2, ok2 = hex4(raw, i+3)
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					i += 6
					r = dec
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, raw[i])
		}
	}
	return string(out)
}

// hex4 decodes the four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does; HTML characters are left alone, and
// U+2028 and U+2029 are escaped so that the result is also valid
// JavaScript.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// allStrings appends every string value (not key) inside the value at v.
func allStrings(doc []byte, v span, dst []span) []span {
	switch kind(doc, v) {
	case '"':
		return append(dst, v)
	case '{':
		for _, val := range members(doc, v) {
			dst = allStrings(doc, val, dst)
		}
	case '[':
		for _, val := range elems(doc, v) {
			dst = allStrings(doc, val, dst)
		}
	}
	return dst
}
