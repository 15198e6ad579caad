package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestSkip(t *testing.T) {
	tests := []struct {
		doc  string
		at   int
		want int // offset just past the value at at
	}{
		{`"abc"`, 0, 5},
		{`"a\"b",1`, 0, 6},
		{`"a\\\\",1`, 0, 7},
		{`{"a":[1,{"b":"}"}]} x`, 0, 19},
		{`[1, 2, [3]]`, 0, 11},
		{`12.5e3,`, 0, 6},
		{`true}`, 0, 4},
		{`null ]`, 0, 4},
		{`"unterminated`, 0, 13},
		{`{"open":`, 0, 8},
		{``, 0, 0},
	}
	for _, tt := range tests {
		if got := SkipValue([]byte(tt.doc), tt.at); got != tt.want {
			t.Errorf("SkipValue(%q, %d) = %d, want %d", tt.doc, tt.at, got, tt.want)
		}
	}
	if got := SkipSpace([]byte(" \t\r\n x"), 0); got != 5 {
		t.Errorf("SkipSpace = %d, want 5", got)
	}
}

// FuzzSkipValue checks that SkipValue stays in range on any input and, on
// valid JSON, skips exactly the whole document.
func FuzzSkipValue(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x\"y"]}`, `"\\"`, `[[[`, `"`, `1`, `{"a":"\u00e9"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc := []byte(s)
		for i := range doc {
			if got := SkipValue(doc, i); got < i || got > len(doc) {
				t.Fatalf("SkipValue(%q, %d) = %d, out of range", s, i, got)
			}
		}
		if json.Valid(doc) {
			start := SkipSpace(doc, 0)
			if end := SkipSpace(doc, SkipValue(doc, start)); end != len(doc) {
				t.Fatalf("SkipValue on valid %q stopped at %d of %d", s, end, len(doc))
			}
		}
	})
}
