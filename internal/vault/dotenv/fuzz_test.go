package dotenv

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzLookup = map[string]string{"HOME": "/home/ada", "EMPTY": "", "A": "outside"}

// knownMsgs is every text a SyntaxError may carry. FuzzParse checks that
// no error ever carries anything else, which is what keeps input text (and
// so secrets) out of messages.
var knownMsgs = []string{
	msgNoKey, msgNoKeyAfterExport, msgQuotedKey, msgUnterminated1,
	msgUnterminated2, msgAfterQuote, msgAfterKey, msgNotUTF8,
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"", "A=1", "export A=1\nB='x'\nC=\"y\\n\"", "A='abc\\'", "A=\"x\nB=\"y\"\nC=1",
		"A= # c\nB=b#c d #e", "'A B'=1", "A\x1f=1", "\ufeffA=1\r\nB=2\r", "A=${B:-c}${}${:-d}${x",
		"HOME\nB=${HOME:-d}", "=1\nexport =2\n''=3\n'x", "A=\"\\a\\b\\f\\n\\r\\t\\v\\x41\"",
		"A=\xff", "A=1\u2028B=2", "A b c\n\t# c\n  \n", "export\texport export=1",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := Parse(strings.NewReader(in), mapLookup(fuzzLookup))
		// Determinism.
		again, err2 := Parse(strings.NewReader(in), mapLookup(fuzzLookup))
		if !slices.Equal(entries, again) || errText(err) != errText(err2) {
			t.Fatalf("two parses of %q differ", in)
		}
		if errors.Is(err, ErrTooLarge) {
			return
		}
		text := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(strings.TrimPrefix(in, "\ufeff"))
		lines := 1 + strings.Count(text, "\n")

		var errLines []int
		for _, se := range syntaxErrors(t, err) {
			if !slices.Contains(knownMsgs, se.Msg) {
				t.Fatalf("unexpected message %q", se.Msg)
			}
			if se.Line < 1 || se.Line > lines {
				t.Fatalf("error line %d outside 1..%d", se.Line, lines)
			}
			errLines = append(errLines, se.Line)
		}
		if !utf8.ValidString(text) {
			if entries != nil || len(errLines) != 1 {
				t.Fatalf("invalid UTF-8: got %d entries and %d errors, want none and one", len(entries), len(errLines))
			}
			return
		}

		prev := 0
		for _, e := range entries {
			if e.Key == "" {
				t.Fatalf("empty key in %q", in)
			}
			// An unquoted key has no whitespace, '=' or '#'. Only a
			// single-quoted key may, and it holds no quote itself.
			if strings.ContainsAny(e.Key, "=#") || strings.ContainsFunc(e.Key, isSpace) || e.Key[0] == '\'' {
				if strings.Contains(e.Key, "'") || !strings.Contains(text, "'"+e.Key+"'") {
					t.Fatalf("key %q is neither an unquoted nor a single-quoted key", e.Key)
				}
			}
			if !e.HasValue && e.Value != "" {
				t.Fatalf("entry %q without value has value %q", e.Key, e.Value)
			}
			if e.Line < prev || e.Line > lines {
				t.Fatalf("entry line %d out of order or outside 1..%d", e.Line, lines)
			}
			prev = e.Line
		}

		// The regexp transliteration of python-dotenv must agree exactly.
		want, wantLines := refParse(text, fuzzLookup)
		if !slices.Equal(entries, want) || !slices.Equal(errLines, wantLines) {
			t.Fatalf("input %q\n got %#v errors at %v\nwant %#v errors at %v", in, entries, errLines, want, wantLines)
		}

		// Last keeps each key once, with its last entry.
		last := Last(entries)
		seen := map[string]bool{}
		for _, e := range last {
			if seen[e.Key] {
				t.Fatalf("Last repeats %q", e.Key)
			}
			seen[e.Key] = true
			for i := len(entries) - 1; i >= 0; i-- {
				if entries[i].Key == e.Key {
					if entries[i] != e {
						t.Fatalf("Last kept %#v, want the last entry %#v", e, entries[i])
					}
					break
				}
			}
		}
		for _, e := range entries {
			if !seen[e.Key] {
				t.Fatalf("Last dropped %q", e.Key)
			}
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
