package injection

import (
	"encoding/base64"
	"unicode"
	"unicode/utf8"
)

// minBase64Run is the shortest run of base64 characters worth decoding:
// 16 characters are 12 bytes, two or three words.
const minBase64Run = 16

// base64Runs calls fn with the byte range of every run of base64
// characters in text that is at least minBase64Run long (not counting
// padding). The caller's text is scanned, not the normalised one:
// lowercasing would destroy the encoding.
func base64Runs(text string, fn func(start, end int) bool) {
	for i := 0; i < len(text); {
		if !isBase64Byte(text[i]) {
			i++
			continue
		}
		start := i
		for i < len(text) && isBase64Byte(text[i]) {
			i++
		}
		end := i
		for i < len(text) && text[i] == '=' {
			i++
		}
		if end-start >= minBase64Run && !fn(start, end) {
			return
		}
	}
}

func isBase64Byte(c byte) bool { return base64Byte[c] }

var base64Byte = func() (t [256]bool) {
	for c := range t {
		b := byte(c)
		t[c] = 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' ||
			b == '+' || b == '/' || b == '-' || b == '_'
	}
	return t
}()

// decodeBase64 decodes run (standard or URL alphabet, padding stripped)
// into dst and reports whether the result is text worth scanning: valid
// UTF-8, mostly printable, mostly letters and spaces. A run that is an
// identifier, a hash or binary data fails that test and costs one decode
// of at most max bytes.
func decodeBase64(dst []byte, run string, max int) ([]byte, bool) {
	enc := base64.RawStdEncoding
	for i := 0; i < len(run); i++ {
		if run[i] == '-' || run[i] == '_' {
			enc = base64.RawURLEncoding
			break
		}
	}
	// A run may hold characters of both alphabets only if it is not base64.
	for i := 0; i < len(run); i++ {
		c := run[i]
		if enc == base64.RawURLEncoding && (c == '+' || c == '/') {
			return dst, false
		}
	}
	// Decode in whole quanta: a trailing partial one is usually a word
	// glued to the end of the run.
	n := len(run) / 4 * 4
	if rem := len(run) % 4; rem >= 2 {
		n += rem
	}
	if enc.DecodedLen(n) > max {
		n = max / 3 * 4
	}
	run = run[:n]
	need := enc.DecodedLen(len(run))
	if cap(dst) < need {
		dst = make([]byte, need)
	}
	dst = dst[:need]
	m, err := enc.Decode(dst, []byte(run))
	if err != nil {
		return dst[:0], false
	}
	dst = dst[:m]
	return dst, isMostlyText(dst)
}

// isMostlyText reports whether b reads as text: valid UTF-8, at least 90%
// printable runes and at least 60% letters, digits and spaces.
func isMostlyText(b []byte) bool {
	if len(b) < 8 || !utf8.Valid(b) {
		return false
	}
	total, printable, wordy := 0, 0, 0
	for _, r := range string(b) {
		total++
		switch {
		case r == '\n' || r == '\t' || r == '\r' || r == ' ':
			printable++
			wordy++
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			printable++
			wordy++
		case unicode.IsPrint(r):
			printable++
		}
	}
	return printable*10 >= total*9 && wordy*10 >= total*6
}

// leetFold maps a normalised text to its leetspeak skeleton in place of
// dst: 1→i, 3→e, 4→a, 0→o, 5→s, 7→t, @→a, $→s. Because '1' stands for
// both 'i' and 'l', every 'l' becomes 'i' too, and the leet matcher's
// patterns are folded the same way (see skeleton). The mapping is byte
// for byte, so offsets in the view are offsets in the normalised text.
func leetFold(dst, text []byte) []byte {
	dst = append(dst[:0], text...)
	for i, c := range dst {
		if c < utf8.RuneSelf {
			dst[i] = leetTable[c]
		}
	}
	return dst
}

var leetTable = func() (t [utf8.RuneSelf]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for from, to := range map[byte]byte{
		'1': 'i', '3': 'e', '4': 'a', '0': 'o', '5': 's', '7': 't', '@': 'a', '$': 's', 'l': 'i',
	} {
		t[from] = to
	}
	return t
}()

// skeleton folds a pattern word the way leetFold folds text.
func skeleton(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < utf8.RuneSelf {
			b[i] = leetTable[c]
		}
	}
	return string(b)
}

// rot13 rotates the ASCII letters of text into dst, byte for byte.
func rot13(dst, text []byte) []byte {
	dst = append(dst[:0], text...)
	for i, c := range dst {
		switch {
		case 'a' <= c && c <= 'z':
			dst[i] = 'a' + (c-'a'+13)%26
		case 'A' <= c && c <= 'Z':
			dst[i] = 'A' + (c-'A'+13)%26
		}
	}
	return dst
}

// rot13Words are common English words after rot13, and englishWords the
// same words in clear. A text with several of the first and few of the
// second is rot13 of English, and gets a decoded view.
var (
	englishWords = []string{
		"the", "and", "you", "is", "of", "to", "it", "this", "your", "that", "in", "are",
		"with", "all", "what", "for", "not",
	}
	rot13Words = func() []string {
		extra := []string{"ignore", "previous", "instructions", "system", "prompt", "reveal", "rules"}
		var out []string
		for _, w := range append(append([]string(nil), englishWords...), extra...) {
			out = append(out, string(rot13(nil, []byte(w))))
		}
		return out
	}()
)
