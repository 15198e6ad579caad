package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// baselineReport returns the JSON report of res.
func baselineReport(t testing.TB, res Result, opts ReportOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJSON(&b, res, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoadBaselineRoundTrip(t *testing.T) {
	res := reportFixture()
	fresh := Finding{RuleID: "anthropic_key", File: "new.py", Secret: reportSecret, Fingerprint: Fingerprint("anthropic_key", reportSecret)}
	for _, reveal := range []bool{false, true} {
		file := filepath.Join(t.TempDir(), "baseline.json")
		if err := os.WriteFile(file, baselineReport(t, res, ReportOptions{Reveal: reveal}), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := LoadBaseline(file)
		if err != nil {
			t.Fatalf("reveal %v: %v", reveal, err)
		}
		// Two of the three fixture findings share a fingerprint.
		if b.Len() != 2 {
			t.Errorf("reveal %v: %d fingerprints, want 2", reveal, b.Len())
		}
		got := b.Filter(append(slices.Clone(res.Findings), fresh))
		if len(got) != 1 || got[0].File != "new.py" {
			t.Errorf("reveal %v: Filter kept %v, want only the new finding", reveal, got)
		}
	}
}

func TestLoadBaselineErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "scan.sarif")
	if err := os.WriteFile(bad, []byte(`{"version":"2.1.0","runs":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.json")
	for _, tt := range []struct {
		path, want string
		notReport  bool
	}{
		{missing, "no such file", false},
		{bad, "SARIF", true},
		{dir, "is a directory", false},
	} {
		_, err := LoadBaseline(tt.path)
		if err == nil {
			t.Errorf("LoadBaseline(%s) succeeded", tt.path)
			continue
		}
		for _, want := range []string{tt.path, tt.want, "warden scan --format json > " + tt.path} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("LoadBaseline(%s) error %q lacks %q", tt.path, err, want)
			}
		}
		if got := errors.Is(err, ErrNotReport); got != tt.notReport {
			t.Errorf("LoadBaseline(%s): errors.Is(err, ErrNotReport) = %v, want %v", tt.path, got, tt.notReport)
		}
	}
}

func TestParseBaseline(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // fingerprints, when valid
		err      string   // part of the error, when not
	}{
		{name: "empty report", in: `{"findings":[],"skipped":[],"stats":{"chunks":0,"bytes":0}}`, want: []string{}},
		{name: "fingerprints only", in: `{"findings":[{"fingerprint":"aa"},{"fingerprint":"bb"},{"fingerprint":"aa"}]}`, want: []string{"aa", "bb"}},
		{name: "unknown fields", in: `{"version":9,"findings":[{"fingerprint":"aa","new":{"x":1}}]}`, want: []string{"aa"}},
		{name: "empty input", in: ``, err: "invalid JSON"},
		{name: "not JSON", in: `openai_key src/app.py:1:1`, err: "invalid JSON"},
		{name: "trailing data", in: `{"findings":[]} {}`, err: "invalid JSON"},
		{name: "array", in: `[{"fingerprint":"aa"}]`, err: "JSON array, not an object"},
		{name: "string", in: `"findings"`, err: "JSON string, not an object"},
		{name: "null", in: `null`, err: `no "findings" list`},
		{name: "no findings", in: `{"skipped":[]}`, err: `no "findings" list`},
		{name: "null findings", in: `{"findings":null}`, err: `no "findings" list`},
		{name: "SARIF", in: `{"$schema":"x","version":"2.1.0","runs":[]}`, err: "SARIF"},
		{name: "findings object", in: `{"findings":{"fingerprint":"aa"}}`, err: `"findings" is not a list`},
		{name: "finding string", in: `{"findings":["aa"]}`, err: `"findings" is not a list`},
		{name: "numeric fingerprint", in: `{"findings":[{"fingerprint":5}]}`, err: `"findings" is not a list`},
		{name: "no fingerprint", in: `{"findings":[{"fingerprint":"aa"},{"rule":"x"}]}`, err: "finding 2 has no fingerprint"},
		{name: "empty fingerprint", in: `{"findings":[{"fingerprint":""}]}`, err: "finding 1 has no fingerprint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBaseline([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrNotReport) {
					t.Errorf("error = %v, want ErrNotReport with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Len() != len(tt.want) {
				t.Errorf("Len = %d, want %d", b.Len(), len(tt.want))
			}
			for _, fp := range tt.want {
				if !b.Contains(fp) {
					t.Errorf("baseline lacks %q", fp)
				}
			}
		})
	}
}

func TestBaselineFilter(t *testing.T) {
	fs := []Finding{{File: "a", Fingerprint: "1"}, {File: "b", Fingerprint: "2"}, {File: "c", Fingerprint: "1"}, {File: "d"}}
	known, err := ParseBaseline([]byte(`{"findings":[{"fingerprint":"1"},{"fingerprint":"9"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    Baseline
		in   []Finding
		want []string
	}{
		{"zero baseline", Baseline{}, fs, []string{"a", "b", "c", "d"}},
		{"drops known", known, fs, []string{"b", "d"}},
		{"nil findings", known, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.in)
			var got []string
			for _, f := range tt.b.Filter(tt.in) {
				got = append(got, f.File)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Filter kept %v, want %v", got, tt.want)
			}
			if !slices.EqualFunc(tt.in, before, func(a, b Finding) bool { return a.File == b.File && a.Fingerprint == b.Fingerprint }) {
				t.Errorf("Filter changed its input")
			}
		})
	}
}

func FuzzParseBaseline(f *testing.F) {
	f.Add(baselineReport(f, reportFixture(), ReportOptions{}))
	f.Add(baselineReport(f, Result{}, ReportOptions{}))
	for _, s := range []string{``, `null`, `[]`, `{"findings":null}`, `{"findings":[{}]}`, `{"findings":[{"fingerprint":"\u0000"}]}`, `{"runs":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBaseline(data)
		if err != nil {
			if !errors.Is(err, ErrNotReport) {
				t.Fatalf("error %v is not ErrNotReport", err)
			}
			if b.Len() != 0 {
				t.Fatalf("failed parse returned %d fingerprints", b.Len())
			}
			return
		}
		// What was accepted is a JSON object whose findings all have a
		// fingerprint, and the baseline filters each of them out.
		var doc struct {
			Findings []struct {
				Fingerprint string `json:"fingerprint"`
			} `json:"findings"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("accepted input that does not decode: %v", err)
		}
		var fs []Finding
		for _, d := range doc.Findings {
			if d.Fingerprint == "" || !b.Contains(d.Fingerprint) {
				t.Fatalf("fingerprint %q accepted but not held", d.Fingerprint)
			}
			fs = append(fs, Finding{Fingerprint: d.Fingerprint})
		}
		if kept := b.Filter(fs); len(kept) != 0 {
			t.Fatalf("Filter kept %d known findings", len(kept))
		}
		if b.Len() > len(doc.Findings) {
			t.Fatalf("%d fingerprints from %d findings", b.Len(), len(doc.Findings))
		}
	})
}
