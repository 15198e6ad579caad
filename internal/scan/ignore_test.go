package scan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseIgnore(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string // substring; empty for no error
	}{
		{"empty", "", ""},
		{"comments and blanks", "# accepted\n\n   \n\t# indented\n", ""},
		{"entries", "\ufeffdocs/**\r\n!docs/keep.md\nrule:generic_secret\nrule:jwt test/**\nfp:0123456789ABCDEF0123456789abcdef\n", ""},
		{"escaped prefix", `\rule:x`, ""},
		{"unknown rule", "docs/**\nrule:nope\n", `line 2: unknown rule ID "nope"`},
		{"scoped unknown rule", "rule:nope test/**", `line 1: unknown rule ID "nope"`},
		{"rule without ID", "# c\n\nrule:", "line 3: rule: needs a rule ID"},
		{"rule with blank ID", "rule: jwt", "line 1: rule: needs a rule ID"},
		{"short fingerprint", "fp:abc", `line 1: fingerprint "abc" is not 32 hex digits`},
		{"long fingerprint", "fp:" + strings.Repeat("a", 33), "line 1: fingerprint"},
		{"fingerprint not hex", "fp:" + strings.Repeat("g", 32), "line 1: fingerprint"},
		{"bad pattern", "ok\ndocs/[a", `line 2: pattern "docs/[a"`},
		{"bad scoped pattern", "rule:jwt test/[", `line 1: pattern "test/["`},
		{"negated scoped pattern", "rule:jwt !test/**", "line 1: rule:jwt: the pattern \"!test/**\" cannot be negated"},
		{"line too long", "ok\n" + strings.Repeat("x", 70<<10), "line 2: longer than 64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ig, err := ParseIgnore(strings.NewReader(tt.in))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.wantErr == "" && ig == nil:
				t.Fatal("nil Ignore without an error")
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestIgnoreDrops(t *testing.T) {
	accepted := Fingerprint("openai_key", walkFake(t, "abcdefghijklmnopqrstuvwxyz0123456789", 48))
	text := strings.Join([]string{
		"\ufeff# accepted on review",
		"docs/examples/**",
		"!docs/examples/keep.md",
		"*.sample",
		"build/",
		"rule:generic_secret",
		"rule:jwt test/**",
		"rule:jwt\t/fixtures/",
		"fp:" + strings.ToUpper(accepted),
		`\rule:odd`,
	}, "\r\n")
	ig, err := ParseIgnore(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rule, file, fp string
		want           bool
	}{
		{"aws_access_key_id", "docs/examples/a.md", "", true},
		{"aws_access_key_id", "docs/examples/sub/b.txt", "", true},
		{"aws_access_key_id", "./docs/examples/a.md", "", true},
		{"aws_access_key_id", "docs/examples/keep.md", "", false},
		{"aws_access_key_id", "docs/other.md", "", false},
		{"aws_access_key_id", "config.sample", "", true},
		{"aws_access_key_id", "src/config.sample", "", true},
		{"aws_access_key_id", "build/x/y.txt", "", true},
		{"aws_access_key_id", "src/build", "", false},
		{"aws_access_key_id", "rule:odd", "", true},
		{"generic_secret", "src/a.go", "", true},
		{"jwt", "test/a_test.go", "", true},
		{"jwt", "test/deep/a.json", "", true},
		{"jwt", "src/test.go", "", false},
		{"jwt", "fixtures/t.json", "", true},
		{"jwt", "sub/fixtures/t.json", "", false},
		{"aws_access_key_id", "test/a_test.go", "", false},
		{"openai_key", "src/a.go", accepted, true},
		{"openai_key", "src/a.go", Fingerprint("openai_key", "other"), false},
		{"openai_key", "-", "", false},
	}
	for _, tt := range tests {
		f := Finding{RuleID: tt.rule, File: tt.file, Fingerprint: tt.fp}
		if got := ig.Drops(f); got != tt.want {
			t.Errorf("Drops(%s in %s, fp %q) = %v, want %v", tt.rule, tt.file, tt.fp, got, tt.want)
		}
	}

	f := Finding{RuleID: "generic_secret", File: "docs/examples/a.md", Fingerprint: accepted}
	var none *Ignore
	if none.Drops(f) || (&Ignore{}).Drops(f) {
		t.Error("an empty Ignore drops a finding")
	}
}

func TestIgnoreFilter(t *testing.T) {
	ig, err := ParseIgnore(strings.NewReader("vendor/\n"))
	if err != nil {
		t.Fatal(err)
	}
	in := []Finding{
		{RuleID: "jwt", File: "a.go"},
		{RuleID: "jwt", File: "vendor/b.go"},
		{RuleID: "jwt", File: "c.go"},
	}
	orig := slices.Clone(in)
	got := ig.Filter(in)
	if want := []Finding{in[0], in[2]}; !slices.Equal(got, want) {
		t.Errorf("Filter = %v, want %v", got, want)
	}
	if !slices.Equal(in, orig) {
		t.Error("Filter changed its argument")
	}
	var none *Ignore
	if got := none.Filter(in); !slices.Equal(got, in) {
		t.Errorf("nil Filter = %v, want all", got)
	}
}

func TestLoadIgnore(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	walkTree(t, dir, map[string]string{"good": "rule:jwt\n", "bad": "# fine\nrule:nope\n"})

	ig, err := LoadIgnore(filepath.Join(dir, "missing"))
	if err != nil || ig == nil || ig.Drops(Finding{RuleID: "jwt"}) {
		t.Errorf("missing file: %v, %v; want an empty Ignore", ig, err)
	}
	ig, err = LoadIgnore(good)
	if err != nil || !ig.Drops(Finding{RuleID: "jwt"}) {
		t.Errorf("good file: %v, %v; want jwt dropped", ig, err)
	}
	_, err = LoadIgnore(bad)
	if err == nil || !strings.Contains(err.Error(), bad+": line 2: unknown rule ID") {
		t.Errorf("bad file: %v, want an error naming the file and line 2", err)
	}
	if err := os.Chmod(good, 0); err != nil {
		t.Fatal(err)
	}
	_, err = LoadIgnore(good)
	if _, rerr := os.ReadFile(good); (rerr != nil) != (err != nil) {
		t.Errorf("unreadable file: err %v, reading it: %v", err, rerr)
	}
}

func FuzzParseIgnore(f *testing.F) {
	for _, s := range []string{
		"",
		"# comment\n\ndocs/**\n!docs/keep.md\n",
		"rule:generic_secret\nrule:jwt test/**\n",
		"fp:0123456789abcdef0123456789abcdef\n",
		"\ufeff/anchored\r\ndir/\r\n**/x/**\n",
		"rule:\nfp:\n[\n\\rule:x\n! \n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ig, err := ParseIgnore(strings.NewReader(in))
		if err != nil {
			if ig != nil {
				t.Fatal("an Ignore with an error")
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %q does not name a line", err)
			}
			return
		}
		for line := range strings.Lines(in) {
			entry := strings.TrimSpace(line)
			// Every entry that parsed must be usable on any path.
			ig.Drops(Finding{RuleID: "jwt", File: entry, Fingerprint: entry})
			// And must do what it says.
			if fp, ok := strings.CutPrefix(entry, "fp:"); ok {
				fp = strings.ToLower(strings.TrimSpace(fp))
				if !ig.Drops(Finding{RuleID: "jwt", File: "x", Fingerprint: fp}) {
					t.Errorf("%q does not drop fingerprint %s", entry, fp)
				}
			}
			if id, ok := strings.CutPrefix(entry, "rule:"); ok && !strings.ContainsAny(id, " \t") {
				if !ig.Drops(Finding{RuleID: id, File: "x"}) {
					t.Errorf("%q does not drop rule %s", entry, id)
				}
			}
		}
	})
}
