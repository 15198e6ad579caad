package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var reportUpdate = flag.Bool("update", false, "rewrite the golden files in testdata/report")

// reportSecret is what the report fixtures hold as a secret: no key of
// any kind, but long enough to be masked like one.
const reportSecret = "EXAMPLEVALUE0000000000000000abcd"

// reportFixture returns a result with a working-tree finding, two
// findings from git history (one in a file name that needs escaping) and
// a skipped file.
func reportFixture() Result {
	commit := &Commit{
		Hash:   "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
		Author: "Jane Doe",
		Email:  "jane@example.com",
		Date:   time.Date(2026, 11, 2, 10, 4, 5, 0, time.FixedZone("", 3600)),
	}
	return Result{
		Findings: []Finding{
			{
				RuleID:      "openai_key",
				Description: "OpenAI API key.",
				File:        "src/app.py",
				Line:        12, Column: 9, EndLine: 12, EndColumn: 40,
				Secret:      reportSecret,
				Confidence:  0.99,
				Verified:    true,
				Fingerprint: Fingerprint("openai_key", reportSecret),
			},
			{
				RuleID:      "generic_secret",
				Description: "High-entropy value assigned to a secret-like name.",
				File:        "config/prod settings#1.env",
				Line:        3, Column: 14, EndLine: 3, EndColumn: 45,
				Secret:      reportSecret,
				Confidence:  0.6,
				Fingerprint: Fingerprint("generic_secret", reportSecret),
				Commit:      commit,
			},
			{
				RuleID:      "openai_key",
				Description: "OpenAI API key.",
				File:        "src/app.py",
				Line:        40, Column: 1, EndLine: 40, EndColumn: 32,
				Secret:      reportSecret,
				Confidence:  0.99,
				Verified:    true,
				Fingerprint: Fingerprint("openai_key", reportSecret),
				Commit:      commit,
			},
		},
		Skipped: []Skip{{Path: "assets/logo.png", Reason: "binary"}},
		Chunks:  7,
		Bytes:   12345,
	}
}

// reportGolden compares got with testdata/report/name, or rewrites the
// file when the test runs with -update.
func reportGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", "report", name)
	if *reportUpdate {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update after checking the change):\ngot:\n%s\nwant:\n%s", file, got, want)
	}
}

type reportWriter func(*bytes.Buffer, Result, ReportOptions) error

func reportText(b *bytes.Buffer, res Result, o ReportOptions) error { return WriteText(b, res, o) }
func reportJSON(b *bytes.Buffer, res Result, o ReportOptions) error { return WriteJSON(b, res, o) }

func TestReportGolden(t *testing.T) {
	skipsOnly := Result{Skipped: []Skip{{Path: "a.bin", Reason: "binary"}, {Path: "big.log", Reason: "larger than 10 MiB"}}, Chunks: 3, Bytes: 99}
	tests := []struct {
		golden string
		write  reportWriter
		res    Result
		opts   ReportOptions
	}{
		{"text.golden", reportText, reportFixture(), ReportOptions{}},
		{"text_color.golden", reportText, reportFixture(), ReportOptions{Color: true}},
		{"text_reveal.golden", reportText, reportFixture(), ReportOptions{Reveal: true}},
		{"text_empty.golden", reportText, Result{}, ReportOptions{}},
		{"text_skips.golden", reportText, skipsOnly, ReportOptions{}},
		{"json.golden", reportJSON, reportFixture(), ReportOptions{}},
		{"json_reveal.golden", reportJSON, reportFixture(), ReportOptions{Reveal: true}},
		{"json_empty.golden", reportJSON, Result{}, ReportOptions{}},
		{"json_skips.golden", reportJSON, skipsOnly, ReportOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b, tt.res, tt.opts); err != nil {
				t.Fatal(err)
			}
			reportGolden(t, tt.golden, b.Bytes())
		})
	}
}

func TestReportsMaskSecret(t *testing.T) {
	res := reportFixture()
	for _, tt := range []struct {
		name  string
		write reportWriter
	}{
		{"text", reportText},
		{"json", reportJSON},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var masked, revealed bytes.Buffer
			if err := tt.write(&masked, res, ReportOptions{Color: true}); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(masked.String(), reportSecret) {
				t.Errorf("masked report holds the secret:\n%s", masked.String())
			}
			if !strings.Contains(masked.String(), Mask(reportSecret)) {
				t.Errorf("masked report lacks the masked secret %q", Mask(reportSecret))
			}
			if err := tt.write(&revealed, res, ReportOptions{Reveal: true}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(revealed.String(), reportSecret) {
				t.Errorf("revealed report lacks the secret")
			}
		})
	}
}

func TestWriteTextEscapes(t *testing.T) {
	res := Result{
		Findings: []Finding{{
			RuleID: "private_key",
			File:   "evil\x1b[2Jname\n.txt",
			Line:   1, Column: 1,
			Secret: "-----BEGIN EXAMPLE-----\nAAAA\xff\n-----END EXAMPLE-----",
			Commit: &Commit{Hash: "abc", Author: "Mallory\x07"},
		}},
		Skipped: []Skip{{Path: "bad\rpath", Reason: "binary"}},
	}
	var b bytes.Buffer
	if err := WriteText(&b, res, ReportOptions{Reveal: true}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, c := range []string{"\x1b", "\x07", "\r", "\xff"} {
		if strings.Contains(out, c) {
			t.Errorf("output holds %q:\n%s", c, out)
		}
	}
	for _, want := range []string{`evil\x1b[2Jname\n.txt:1:1`, `-----BEGIN EXAMPLE-----\nAAAA\xff\n-----END`, `Mallory\a`, `bad\rpath`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"src/app.py", "src/app.py"},
		{"a b", "a b"},
		{"tab\there", `tab\there`},
		{"ünïcødé 日本", "ünïcødé 日本"},
		{"\x1b[31m", `\x1b[31m`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"\u2028", `\u2028`},
		{"\u00a0", `\u00a0`},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		fs   []Finding
		want string
	}{
		{[]Finding{{File: "a"}}, "1 secret in 1 file"},
		{[]Finding{{File: "a"}, {File: "a", Verified: true}}, "2 secrets in 1 file (1 verified)"},
		{[]Finding{{File: "a"}, {File: "b"}, {File: "c"}}, "3 secrets in 3 files"},
	}
	for _, tt := range tests {
		if got := summary(tt.fs); got != tt.want {
			t.Errorf("summary(%v) = %q, want %q", tt.fs, got, tt.want)
		}
	}
}

func TestWriteJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, reportFixture(), ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Findings []map[string]any `json:"findings"`
		Skipped  []map[string]any `json:"skipped"`
		Stats    map[string]any   `json:"stats"`
	}
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	keys := []string{"rule", "description", "file", "line", "column", "end_line", "end_column", "secret", "confidence", "verified", "fingerprint"}
	for i, f := range doc.Findings {
		for _, k := range keys {
			if _, ok := f[k]; !ok {
				t.Errorf("finding %d lacks %q", i, k)
			}
		}
		_, hasCommit := f["commit"]
		if want := reportFixture().Findings[i].Commit != nil; hasCommit != want {
			t.Errorf("finding %d: commit present = %v, want %v", i, hasCommit, want)
		}
	}
	if len(doc.Findings) != 3 || len(doc.Skipped) != 1 || doc.Stats["chunks"] != 7.0 || doc.Stats["bytes"] != 12345.0 {
		t.Errorf("document = %+v", doc)
	}
}

// reportFailWriter fails every write.
type reportFailWriter struct{}

var errReportWrite = errors.New("disk full")

func (reportFailWriter) Write([]byte) (int, error) { return 0, errReportWrite }

func TestReportWriteErrors(t *testing.T) {
	for name, write := range map[string]func() error{
		"text":  func() error { return WriteText(reportFailWriter{}, reportFixture(), ReportOptions{}) },
		"json":  func() error { return WriteJSON(reportFailWriter{}, reportFixture(), ReportOptions{}) },
		"sarif": func() error { return WriteSARIF(reportFailWriter{}, reportFixture(), nil, ReportOptions{}) },
	} {
		if err := write(); !errors.Is(err, errReportWrite) {
			t.Errorf("%s: error = %v, want %v", name, err, errReportWrite)
		}
	}
}
