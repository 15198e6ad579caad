package dotenv

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// mapLookup stands in for os.LookupEnv.
func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// val and bare build expected entries; Line is checked in TestLines.
func val(k, v string) Entry { return Entry{Key: k, Value: v, HasValue: true} }
func bare(k string) Entry   { return Entry{Key: k} }

func withoutLines(es []Entry) []Entry {
	out := slices.Clone(es)
	for i := range out {
		out[i].Line = 0
	}
	return out
}

// outside is the lookup of the table cases that use one.
var outside = map[string]string{"HOME": "/home/ada", "EMPTY": "", "TEMPLATE": "${HOME}"}

// TestPythonDotenvBehaviour pins what python-dotenv 1.x's dotenv_values
// returns for each input. Every expectation was checked against
// python-dotenv 1.2.2 itself, except the BOM case, where this package
// deliberately differs (see Parse).
func TestPythonDotenvBehaviour(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		lookup map[string]string // nil: no lookup at all
		want   []Entry
	}{
		// Layout.
		{name: "empty input", in: "", want: nil},
		{name: "only blank lines and comments", in: "\n  \n# one\n\t# two\n\n", want: nil},
		{name: "simple", in: "A=b", want: []Entry{val("A", "b")}},
		{name: "blank lines and comments between", in: "# c\n\nA=1\n   \n# A=2\nB=2\n", want: []Entry{val("A", "1"), val("B", "2")}},
		{name: "indented statement", in: "   A=1", want: []Entry{val("A", "1")}},
		{name: "spaces around equals", in: "A = 1\nB\t=\t2\t\nC  =3", want: []Entry{val("A", "1"), val("B", "2"), val("C", "3")}},
		{name: "CRLF line endings", in: "A=1\r\nB=2\r\n\r\nC=3", want: []Entry{val("A", "1"), val("B", "2"), val("C", "3")}},
		{name: "lone CR line endings", in: "A=1\rB=2\r", want: []Entry{val("A", "1"), val("B", "2")}},
		// python-dotenv would keep the BOM in the first key; see Parse.
		{name: "UTF-8 BOM", in: "\ufeffA=1\nB=2", want: []Entry{val("A", "1"), val("B", "2")}},
		{name: "BOM only at the start", in: "A=\ufeffx", want: []Entry{val("A", "\ufeffx")}},

		// export.
		{name: "export prefix", in: "export A=1", want: []Entry{val("A", "1")}},
		{name: "export with tabs", in: "export\t\tA=1", want: []Entry{val("A", "1")}},
		{name: "export and quoted key", in: "export 'A'=1", want: []Entry{val("A", "1")}},
		{name: "export bare key", in: "export A", want: []Entry{bare("A")}},
		{name: "export without space is a key", in: "export=1", want: []Entry{val("export", "1")}},
		{name: "export alone is a bare key", in: "export", want: []Entry{bare("export")}},
		{name: "exportFOO is a key", in: "exportFOO=1", want: []Entry{val("exportFOO", "1")}},
		{name: "export then a comment", in: "export # nothing\nA=1", want: []Entry{val("A", "1")}},

		// Keys.
		{name: "key with punctuation", in: "a.b-c/d:e=1", want: []Entry{val("a.b-c/d:e", "1")}},
		{name: "key with quotes inside", in: `a"b'c=1`, want: []Entry{val(`a"b'c`, "1")}},
		{name: "single-quoted key with space", in: "'A B'=1", want: []Entry{val("A B", "1")}},
		{name: "single-quoted key with equals and hash", in: "'A=#B' = 1", want: []Entry{val("A=#B", "1")}},
		{name: "hash ends an unquoted key", in: "A#b=c", want: []Entry{bare("A")}},
		{name: "Python whitespace U+001F ends a key", in: "A\x1f=1", want: []Entry{val("A", "1")}},
		{name: "non-ASCII key", in: "CLÉ=1", want: []Entry{val("CLÉ", "1")}},

		// Bare keys and empty values.
		{name: "bare key", in: "A", want: []Entry{bare("A")}},
		{name: "bare key with trailing space", in: "A  \nB=1", want: []Entry{bare("A"), val("B", "1")}},
		{name: "bare key with comment", in: "A # comment", want: []Entry{bare("A")}},
		{name: "bare key with glued comment", in: "A#comment", want: []Entry{bare("A")}},
		{name: "empty value", in: "A=", want: []Entry{val("A", "")}},
		{name: "empty value with spaces", in: "A=   \nB=1", want: []Entry{val("A", ""), val("B", "1")}},
		{name: "empty double quotes", in: `A=""`, want: []Entry{val("A", "")}},
		{name: "empty single quotes", in: `A=''`, want: []Entry{val("A", "")}},

		// Unquoted values.
		{name: "unquoted with inner spaces", in: "A=hello big world", want: []Entry{val("A", "hello big world")}},
		{name: "unquoted trailing whitespace dropped", in: "A=b \t ", want: []Entry{val("A", "b")}},
		{name: "unquoted inline comment", in: "A=b # c", want: []Entry{val("A", "b")}},
		{name: "unquoted inline comment after tab", in: "A=b\t#c", want: []Entry{val("A", "b")}},
		{name: "unquoted inline comment after NBSP", in: "A=b\u00a0#c", want: []Entry{val("A", "b")}},
		{name: "unquoted first comment wins", in: "A=b ## c # d", want: []Entry{val("A", "b")}},
		{name: "unquoted glued hash is kept", in: "A=b#c", want: []Entry{val("A", "b#c")}},
		{name: "unquoted glued hash then comment", in: "A=b#c #d", want: []Entry{val("A", "b#c")}},
		// The spaces after '=' belong to the '=', so this '#' follows no
		// whitespace within the value and is kept.
		{name: "hash right after equals and spaces", in: "A= # c", want: []Entry{val("A", "# c")}},
		{name: "hash right after equals", in: "A=#c", want: []Entry{val("A", "#c")}},
		{name: "unquoted keeps quotes", in: `A=b"c'd`, want: []Entry{val("A", `b"c'd`)}},
		{name: "unquoted value starting a quote later", in: `A=x "y"`, want: []Entry{val("A", `x "y"`)}},
		{name: "unquoted keeps backslashes", in: `A=a\nb\\c`, want: []Entry{val("A", `a\nb\\c`)}},
		{name: "unquoted equals kept", in: "A=b=c==", want: []Entry{val("A", "b=c==")}},

		// Single quotes.
		{name: "single quoted", in: "A='b c'", want: []Entry{val("A", "b c")}},
		{name: "single quoted hash is literal", in: "A='b # c'", want: []Entry{val("A", "b # c")}},
		{name: "single quoted keeps leading and trailing spaces", in: "A='  b  '", want: []Entry{val("A", "  b  ")}},
		{name: "single quoted backslash n is literal", in: `A='a\nb'`, want: []Entry{val("A", `a\nb`)}},
		{name: "single quoted escaped backslash", in: `A='a\\b'`, want: []Entry{val("A", `a\b`)}},
		{name: "single quoted escaped quote", in: `A='it\'s'`, want: []Entry{val("A", "it's")}},
		{name: "single quoted double quote inside", in: `A='say "hi"'`, want: []Entry{val("A", `say "hi"`)}},
		{name: "single quoted multi-line", in: "A='line 1\nline 2'\nB=1", want: []Entry{val("A", "line 1\nline 2"), val("B", "1")}},
		{name: "single quoted multi-line CRLF", in: "A='line 1\r\nline 2'\r\n", want: []Entry{val("A", "line 1\nline 2")}},
		// The quoted-value regex backtracks: with no plain quote left, the
		// last \' closes the value after all.
		{name: "single quoted ending in backslash-quote", in: `A='abc\'`, want: []Entry{val("A", `abc\`)}},
		{name: "single quoted backslash-quote then next line", in: "A='abc\\'\nB=1", want: []Entry{val("A", `abc\`), val("B", "1")}},
		{name: "single quoted escaped backslash before quote", in: `A='a\\'b'`, want: []Entry{val("A", `a\'b`)}},

		// Double quotes.
		{name: "double quoted", in: `A="b c"`, want: []Entry{val("A", "b c")}},
		{name: "double quoted known escapes", in: `A="\\ \' \" \a \b \f \n \r \t \v"`, want: []Entry{val("A", "\\ ' \" \a \b \f \n \r \t \v")}},
		// Unknown escapes stay as written, backslash included: python-dotenv
		// runs only the pairs above through the unicode-escape codec, so
		// \x41, \u00e9, \0 and \$ are never decoded.
		{name: "double quoted unknown escapes kept", in: `A="\x41 \u00e9 \0 \$ \z \ "`, want: []Entry{val("A", `\x41 \u00e9 \0 \$ \z \ `)}},
		{name: "double quoted escapes decode left to right", in: `A="a\\nb"`, want: []Entry{val("A", `a\nb`)}},
		{name: "double quoted hash is literal", in: `A="b # c"`, want: []Entry{val("A", "b # c")}},
		{name: "double quoted single quote inside", in: `A="it's"`, want: []Entry{val("A", "it's")}},
		{name: "double quoted multi-line", in: "A=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nB=1", want: []Entry{val("A", "-----BEGIN KEY-----\nabc\n-----END KEY-----"), val("B", "1")}},
		{name: "double quoted multi-line CRLF", in: "A=\"1\r\n2\"\r\nB=3", want: []Entry{val("A", "1\n2"), val("B", "3")}},
		{name: "double quoted ending in backslash-quote", in: `A="abc\"`, want: []Entry{val("A", `abc\`)}},
		{name: "double quoted backslash before real newline kept", in: "A=\"a\\\nb\"", want: []Entry{val("A", "a\\\nb")}},

		// After a quoted value.
		{name: "comment after double quoted", in: `A="b" # c`, want: []Entry{val("A", "b")}},
		{name: "glued comment after double quoted", in: `A="b"#c`, want: []Entry{val("A", "b")}},
		{name: "comment after single quoted", in: "A='b'\t# c\nB=1", want: []Entry{val("A", "b"), val("B", "1")}},
		{name: "spaces after quoted", in: "A=\"b\"   \nB='c'  ", want: []Entry{val("A", "b"), val("B", "c")}},
		{name: "spaces before quote", in: "A =  \"b\"", want: []Entry{val("A", "b")}},

		// Expansion.
		{name: "expand from file", in: "A=1\nB=${A}", want: []Entry{val("A", "1"), val("B", "1")}},
		{name: "expand from lookup", in: "B=${HOME}/x", lookup: outside, want: []Entry{val("B", "/home/ada/x")}},
		{name: "expand unknown is empty", in: "B=[${NOPE}]", lookup: outside, want: []Entry{val("B", "[]")}},
		{name: "expand with nil lookup", in: "B=${HOME}", want: []Entry{val("B", "")}},
		{name: "expand default", in: "B=${NOPE:-fallback}", lookup: outside, want: []Entry{val("B", "fallback")}},
		{name: "expand default unused when set", in: "B=${HOME:-fallback}", lookup: outside, want: []Entry{val("B", "/home/ada")}},
		{name: "expand empty default", in: "B=${NOPE:-}", lookup: outside, want: []Entry{val("B", "")}},
		{name: "expand default with colon", in: "B=${NOPE:-a:b}", lookup: outside, want: []Entry{val("B", "a:b")}},
		// Unlike a shell's ${X:-d}, a set but empty variable keeps its value.
		{name: "expand empty lookup value beats default", in: "B=${EMPTY:-d}", lookup: outside, want: []Entry{val("B", "")}},
		{name: "expand empty file value beats default", in: "A=\nB=${A:-d}", want: []Entry{val("A", ""), val("B", "")}},
		{name: "file wins over lookup", in: "HOME=/srv\nB=${HOME}", lookup: outside, want: []Entry{val("HOME", "/srv"), val("B", "/srv")}},
		{name: "later definition not visible", in: "B=${A}\nA=1", want: []Entry{val("B", ""), val("A", "1")}},
		{name: "later definition not visible, lookup used", in: "B=${HOME}\nHOME=/srv", lookup: outside, want: []Entry{val("B", "/home/ada"), val("HOME", "/srv")}},
		{name: "self reference reads lookup", in: "HOME=${HOME}/sub", lookup: outside, want: []Entry{val("HOME", "/home/ada/sub")}},
		{name: "redefinition seen from then on", in: "A=b\nC=${A}\nA=c\nD=${A}", want: []Entry{val("A", "b"), val("C", "b"), val("A", "c"), val("D", "c")}},
		// A bare key is None in python-dotenv, which hides both the lookup
		// value and the default.
		{name: "bare key hides lookup and default", in: "HOME\nB=${HOME:-d}", lookup: outside, want: []Entry{bare("HOME"), val("B", "")}},
		{name: "dollar without braces is literal", in: "B=$HOME and $ and $$", lookup: outside, want: []Entry{val("B", "$HOME and $ and $$")}},
		{name: "expanded values are not expanded again", in: "A=${TEMPLATE}\nB=${A}", lookup: outside, want: []Entry{val("A", "${HOME}"), val("B", "${HOME}")}},
		{name: "expand in double quotes", in: `B="<${HOME}>"`, lookup: outside, want: []Entry{val("B", "</home/ada>")}},
		// python-dotenv expands single-quoted values too: its parser returns
		// bare strings and resolve_variables cannot tell them apart.
		{name: "expand in single quotes too", in: "B='${HOME}'", lookup: outside, want: []Entry{val("B", "/home/ada")}},
		{name: "expand escaped dollar still expands", in: `B="\${HOME}"`, lookup: outside, want: []Entry{val("B", `\/home/ada`)}},
		{name: "expand twice in one value", in: "A=x\nB=${A}${A}-${A}", want: []Entry{val("A", "x"), val("B", "xx-x")}},
		{name: "expand odd names", in: "B=${}|${:-d}|${a b}|${A:B}|${A", want: []Entry{val("B", "|d||${A:B}|${A")}},
		{name: "expand default ends at first brace", in: "B=${X:-${Y}}", want: []Entry{val("B", "${Y}")}},
		{name: "expand nested name", in: "A=1\nB=${${A}}", want: []Entry{val("A", "1"), val("B", "}")}},

		// Duplicates.
		{name: "duplicate keys all returned", in: "A=1\nB=2\nA=3\nA", want: []Entry{val("A", "1"), val("B", "2"), val("A", "3"), bare("A")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lookup func(string) (string, bool)
			if tt.lookup != nil {
				lookup = mapLookup(tt.lookup)
			}
			got, err := Parse(strings.NewReader(tt.in), lookup)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if !slices.Equal(withoutLines(got), tt.want) {
				t.Errorf("Parse(%q)\n got %#v\nwant %#v", tt.in, withoutLines(got), tt.want)
			}
		})
	}
}

func TestLines(t *testing.T) {
	in := "# header\n\nA=1\n\n  export B=\"two\nlines\"\r\n'C\nD'=3\nE\n\n\nF='x'"
	want := []Entry{
		{Key: "A", Value: "1", Line: 3, HasValue: true},
		{Key: "B", Value: "two\nlines", Line: 5, HasValue: true},
		{Key: "C\nD", Value: "3", Line: 7, HasValue: true},
		{Key: "E", Line: 9},
		{Key: "F", Value: "x", Line: 12, HasValue: true},
	}
	got, err := Parse(strings.NewReader(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestLast(t *testing.T) {
	got := Last([]Entry{
		{Key: "A", Value: "1", Line: 1, HasValue: true},
		{Key: "B", Value: "2", Line: 2, HasValue: true},
		{Key: "A", Value: "3", Line: 3, HasValue: true},
		{Key: "C", Line: 4},
		{Key: "B", Line: 5},
	})
	want := []Entry{
		{Key: "A", Value: "3", Line: 3, HasValue: true},
		{Key: "B", Line: 5},
		{Key: "C", Line: 4},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	if got := Last(nil); len(got) != 0 {
		t.Errorf("Last(nil) = %v, want empty", got)
	}
}

// syntaxErrors unpacks the errors.Join result of Parse.
func syntaxErrors(t *testing.T, err error) []*SyntaxError {
	t.Helper()
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []*SyntaxError
	for _, e := range list {
		var se *SyntaxError
		if !errors.As(e, &se) {
			t.Fatalf("error %v is not a *SyntaxError", e)
		}
		out = append(out, se)
	}
	return out
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		errs []SyntaxError // Line, Key, Msg
		want []Entry       // what still parsed, with lines
	}{
		{
			name: "unterminated double quote names its line and resumes on the next",
			in:   "A=1\nB=\"abc\nC=3\n",
			errs: []SyntaxError{{Line: 2, Key: "B", Msg: msgUnterminated2}},
			want: []Entry{{Key: "A", Value: "1", Line: 1, HasValue: true}, {Key: "C", Value: "3", Line: 3, HasValue: true}},
		},
		{
			name: "unterminated single quote",
			in:   "\n\nA='abc",
			errs: []SyntaxError{{Line: 3, Key: "A", Msg: msgUnterminated1}},
		},
		{
			name: "garbage after closing quote",
			in:   "A=\"b\" c\nB=2",
			errs: []SyntaxError{{Line: 1, Key: "A", Msg: msgAfterQuote}},
			want: []Entry{{Key: "B", Value: "2", Line: 2, HasValue: true}},
		},
		{
			name: "garbage after a multi-line value resumes after its last line",
			in:   "A='x\ny' z\nB=2",
			errs: []SyntaxError{{Line: 1, Key: "A", Msg: msgAfterQuote}},
			want: []Entry{{Key: "B", Value: "2", Line: 3, HasValue: true}},
		},
		{
			name: "garbage after a bare key",
			in:   "A b",
			errs: []SyntaxError{{Line: 1, Msg: msgAfterKey}},
		},
		{
			name: "garbage after a quoted key",
			in:   "'A'b=1",
			errs: []SyntaxError{{Line: 1, Msg: msgAfterKey}},
		},
		{
			name: "missing key",
			in:   "=1\nA=2",
			errs: []SyntaxError{{Line: 1, Msg: msgNoKey}},
			want: []Entry{{Key: "A", Value: "2", Line: 2, HasValue: true}},
		},
		{
			name: "export with space before equals",
			in:   "export =1",
			errs: []SyntaxError{{Line: 1, Msg: msgNoKeyAfterExport}},
		},
		{
			name: "export and spaces at end of line",
			in:   "export \nA=1",
			errs: []SyntaxError{{Line: 1, Msg: msgNoKeyAfterExport}},
			want: []Entry{{Key: "A", Value: "1", Line: 2, HasValue: true}},
		},
		{
			name: "unterminated quoted key",
			in:   "'A=1",
			errs: []SyntaxError{{Line: 1, Msg: msgQuotedKey}},
		},
		{
			name: "empty quoted key",
			in:   "''=1",
			errs: []SyntaxError{{Line: 1, Msg: msgQuotedKey}},
		},
		{
			// The closing quote is the first one on line 2, so line 2 is the
			// rest of A's statement and B's opening quote is what follows it.
			name: "quote of the next line closes an unterminated value",
			in:   "A=\"x\nB=\"y\"\nC=1",
			errs: []SyntaxError{{Line: 1, Key: "A", Msg: msgAfterQuote}},
			want: []Entry{{Key: "C", Value: "1", Line: 3, HasValue: true}},
		},
		{
			name: "every bad statement is reported",
			in:   "A=\"x\" y\nB=ok\n\n  C='z' w\n=v\nD=4",
			errs: []SyntaxError{
				{Line: 1, Key: "A", Msg: msgAfterQuote},
				{Line: 4, Key: "C", Msg: msgAfterQuote},
				{Line: 5, Msg: msgNoKey},
			},
			want: []Entry{{Key: "B", Value: "ok", Line: 2, HasValue: true}, {Key: "D", Value: "4", Line: 6, HasValue: true}},
		},
		{
			// A bad statement assigns nothing, so a later ${A} finds the
			// lookup or nothing, as in python-dotenv.
			name: "a bad statement defines nothing",
			in:   "A=\"x\" y\nB=${A:-unset}",
			errs: []SyntaxError{{Line: 1, Key: "A", Msg: msgAfterQuote}},
			want: []Entry{{Key: "B", Value: "unset", Line: 2, HasValue: true}},
		},
		{
			name: "invalid UTF-8 rejects the file",
			in:   "A=1\nB=\xff\n",
			errs: []SyntaxError{{Line: 2, Msg: msgNotUTF8}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in), nil)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want errors", tt.in)
			}
			var gotErrs []SyntaxError
			for _, se := range syntaxErrors(t, err) {
				gotErrs = append(gotErrs, *se)
			}
			if !slices.Equal(gotErrs, tt.errs) {
				t.Errorf("errors\n got %+v\nwant %+v", gotErrs, tt.errs)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries\n got %#v\nwant %#v", got, tt.want)
			}
			for _, se := range tt.errs {
				if want := fmt.Sprintf("line %d:", se.Line); !strings.Contains(err.Error(), want) {
					t.Errorf("error text %q does not name %q", err, want)
				}
			}
		})
	}
}

func TestSyntaxErrorText(t *testing.T) {
	e := &SyntaxError{Line: 7, Key: "OPENAI_API_KEY", Msg: msgAfterQuote}
	want := `dotenv: line 7: "OPENAI_API_KEY": ` + msgAfterQuote
	if e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
	e = &SyntaxError{Line: 3, Msg: msgNoKey}
	if want := "dotenv: line 3: " + msgNoKey; e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
}

// TestErrorsNeverShowValues plants a canary secret in every kind of bad
// statement and checks that no error text repeats it.
func TestErrorsNeverShowValues(t *testing.T) {
	const canary = "sk-canary-7f3a9c1e"
	inputs := []string{
		`KEY="` + canary + `" trailing`,
		`KEY='` + canary + `'trailing`,
		`KEY="` + canary,
		`KEY='` + canary,
		`KEY = "` + canary + `\" x`,
		"KEY " + canary,
		"KEY\t" + canary + "=x",
		"=" + canary,
		"export =" + canary,
		"'" + canary + "=x",
		// After an unterminated quote python-dotenv reads the next line as
		// a statement of its own, so the continuation of the secret is
		// parsed as if it were a key.
		"KEY=\"first line\n" + canary + " second line\n",
		"KEY='first line\n" + canary + " 'tail\n",
		"KEY=\"first line\n" + canary + "\"x\n",
		// Not UTF-8.
		"KEY=" + canary + "\xfe",
	}
	for _, in := range inputs {
		_, err := Parse(strings.NewReader(in), nil)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", in)
			continue
		}
		if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "canary") {
			t.Errorf("error for %q shows the secret: %v", in, err)
		}
	}
}

func TestLimits(t *testing.T) {
	t.Run("input size", func(t *testing.T) {
		in := strings.Repeat("A", MaxInputSize+1)
		_, err := Parse(strings.NewReader(in), nil)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v, want ErrTooLarge", err)
		}
		if !strings.Contains(err.Error(), "4 MiB") {
			t.Errorf("error %q does not state the limit", err)
		}
	})
	t.Run("input size at the limit", func(t *testing.T) {
		in := "A=" + strings.Repeat("x", MaxInputSize-2)
		es, err := Parse(strings.NewReader(in), nil)
		if err != nil || len(es) != 1 || len(es[0].Value) != MaxInputSize-2 {
			t.Fatalf("got %d entries, %v; want one full entry", len(es), err)
		}
	})
	t.Run("line count", func(t *testing.T) {
		_, err := Parse(strings.NewReader(strings.Repeat("\n", MaxLines)+"A=1"), nil)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v, want ErrTooLarge", err)
		}
		es, err := Parse(strings.NewReader(strings.Repeat("\n", MaxLines-1)+"A=1"), nil)
		if err != nil || len(es) != 1 || es[0].Line != MaxLines {
			t.Fatalf("at the limit: got %v, %v", es, err)
		}
	})
	t.Run("expansion blow-up", func(t *testing.T) {
		// Each line doubles the previous value: 2^40 bytes if unchecked.
		var b strings.Builder
		b.WriteString("V0=" + strings.Repeat("x", 64) + "\n")
		for i := 1; i <= 40; i++ {
			fmt.Fprintf(&b, "V%d=${V%d}${V%d}\n", i, i-1, i-1)
		}
		es, err := Parse(strings.NewReader(b.String()), nil)
		if !errors.Is(err, ErrTooLarge) || es != nil {
			t.Fatalf("got %d entries, %v; want ErrTooLarge", len(es), err)
		}
		if !strings.Contains(err.Error(), "line ") || strings.Contains(err.Error(), "xxxx") {
			t.Errorf("error %q should name the line and not the value", err)
		}
	})
	t.Run("expansion of a huge lookup value", func(t *testing.T) {
		big := strings.Repeat("y", 1<<20)
		in := strings.Repeat("A=${BIG}${BIG}${BIG}${BIG}\n", 5)
		_, err := Parse(strings.NewReader(in), mapLookup(map[string]string{"BIG": big}))
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v, want ErrTooLarge", err)
		}
	})
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadError(t *testing.T) {
	_, err := Parse(failingReader{}, nil)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("got %v, want the read error", err)
	}
}

// TestReferenceAgrees runs the table inputs through the regexp reference
// too, so that the reference itself is checked against the expectations
// that FuzzParse then extends to arbitrary input.
func TestReferenceAgrees(t *testing.T) {
	inputs := []string{
		"A='abc\\'", "A='a\\\\'b'", "A=\"x\nB=\"y\"\nC=1", "A= # c", "A=b\u00a0#c #d",
		"export =1", "export \nA=1", "'A'b=1", "B=${}|${:-d}|${a b}|${A:B}|${A", "HOME\nB=${HOME:-d}",
	}
	for _, in := range inputs {
		got, gotErr := Parse(strings.NewReader(in), mapLookup(outside))
		want, wantLines := refParse(in, outside)
		var gotLines []int
		for _, se := range syntaxErrors(t, gotErr) {
			gotLines = append(gotLines, se.Line)
		}
		if !slices.Equal(got, want) || !slices.Equal(gotLines, wantLines) {
			t.Errorf("input %q\n got %#v %v\nwant %#v %v", in, got, gotLines, want, wantLines)
		}
	}
}
