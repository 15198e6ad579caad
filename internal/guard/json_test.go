package guard

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestDecodeString(t *testing.T) {
	tests := []string{
		`""`,
		`"plain"`,
		`"quote \" backslash \\ slash \/"`,
		`"controls \b\f\n\r\t"`,
		`"\u00e9t\u00E9"`,
		`"emoji \ud83d\ude00 pair"`,
		`"lone \ud83d surrogate"`,
		`"lone low \ude00"`,
		`"high then escape \ud83d\n"`,
		`"high then bmp \ud83d\u0041"`,
		`"raw é 😀 \u0000"`,
	}
	for _, in := range tests {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("bad test input %s: %v", in, err)
		}
		if got := decodeString([]byte(in), span{0, len(in)}); got != want {
			t.Errorf("decodeString(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := map[string]string{
		"":                  `""`,
		"a\"b\\c":           `"a\"b\\c"`,
		"tab\tnl\ncr\r":     `"tab\tnl\ncr\r"`,
		"\x00\x1f":          `"\u0000\u001f"`,
		"<html> & é😀":       `"<html> & é😀"`,
		"bad \xff byte":     `"bad \ufffd byte"`,
		"sep \u2028\u2029.": `"sep \u2028\u2029."`,
	}
	for in, want := range tests {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "é😀\u2028", "\x00\xff", `\u0041`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := appendJSONString(nil, s)
		if !json.Valid(enc) {
			t.Fatalf("appendJSONString(%q) = %s, not valid JSON", s, enc)
		}
		var back string
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
		if got := decodeString(enc, span{0, len(enc)}); got != back {
			t.Fatalf("decodeString(%s) = %q, encoding/json says %q", enc, got, back)
		}
		// Strings as encoding/json writes them decode the same way too.
		std, _ := json.Marshal(s)
		if got := decodeString(std, span{0, len(std)}); got != back {
			t.Fatalf("decodeString(%s) = %q, want %q", std, got, back)
		}
	})
}

func TestParseUint(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true}, {"4096", 4096, true}, {"1e3", 1000, true}, {"10.0", 10, true},
		{"2E+2", 200, true}, {"-1", 0, false}, {"1.5", 0, false}, {"1e-2", 0, false},
		{"", 0, false}, {"true", 0, false}, {"99999999999999999999", 0, false}, {"1e400", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseUint([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseUint(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNavigation(t *testing.T) {
	doc := []byte(` { "a" : [1, {"x":"y"}, "s"] , "m\u006fdel":"first", "model" : "last", "e":{}, "z":[] } `)
	r := root(doc)
	if got := lookupString(doc, r, "model"); got != "last" {
		t.Errorf("lookup with a duplicate key = %q, want the last one", got)
	}
	a, ok := lookup(doc, r, "a")
	if !ok || !isArray(doc, a) {
		t.Fatal("a not found")
	}
	var kinds []byte
	for _, v := range elems(doc, a) {
		kinds = append(kinds, kind(doc, v))
	}
	if string(kinds) != `1{"` {
		t.Errorf("element kinds = %q", kinds)
	}
	n := 0
	for range members(doc, r) {
		n++
	}
	if n != 5 {
		t.Errorf("members = %d, want 5", n)
	}
	for _, name := range []string{"e", "z"} {
		v, _ := lookup(doc, r, name)
		for range members(doc, v) {
			t.Errorf("%s: empty container yielded a member", name)
		}
		for range elems(doc, v) {
			t.Errorf("%s: empty container yielded an element", name)
		}
	}
	if got := len(allStrings(doc, r, nil)); got != 4 {
		t.Errorf("allStrings found %d strings, want 4 (keys excluded)", got)
	}
}
