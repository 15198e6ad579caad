// Package jsonscan moves through JSON text by byte offset without decoding
// it, for the places that splice a document (rewrite a few values and
// keep every other byte as sent). The functions never index out of range;
// on a document that is not valid JSON they return some offset within it.
package jsonscan

import "bytes"

// SkipSpace returns the offset of the first byte at or after i that is
// not JSON whitespace.
func SkipSpace(doc []byte, i int) int {
	for i < len(doc) {
		switch doc[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// SkipString returns the offset just past the string whose quote is at i.
// It jumps from quote to quote with bytes.IndexByte, which is vectorised,
// and counts the backslashes before a quote to tell whether it is escaped.
func SkipString(doc []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(doc[j:], '"')
		if k < 0 {
			return len(doc)
		}
		j += k
		n := 0
		for b := j - 1; b > i && doc[b] == '\\'; b-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// SkipValue returns the offset just past the value that starts at i.
func SkipValue(doc []byte, i int) int {
	if i >= len(doc) {
		return i
	}
	switch doc[i] {
	case '"':
		return SkipString(doc, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(doc); j++ {
			switch doc[j] {
			case '"':
				j = SkipString(doc, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(doc)
	}
	j := i
	for j < len(doc) {
		switch doc[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}
