package scan

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wardenproject/warden/internal/detect"
)

// The official SARIF 2.1.0 schema is not kept in this repository; it is
// taken from a module that ships it, through the module cache.
const (
	sarifSchemaModule = "github.com/securego/gosec/v2@v2.30.0"
	sarifSchemaFile   = "report/sarif/testdata/sarif-schema-2.1.0.json"
	sarifSchemaID     = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

// sarifSchemaValidator compiles the SARIF schema. Without network or module cache
// the test is skipped, except on CI, where it must run.
func sarifSchemaValidator(t *testing.T) *jsonschema.Schema {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("SARIF schema unavailable: "+format, args...)
		}
		t.Skipf("SARIF schema unavailable, schema validation not run (CI=true makes this a failure): "+format, args...)
	}
	// go test puts the go command of the toolchain under test first in
	// PATH, so this is the go of runtime.GOROOT without the deprecated
	// call.
	goCmd, err := exec.LookPath("go")
	if err != nil {
		unavailable("%v", err)
	}
	cmd := exec.CommandContext(t.Context(), goCmd, "mod", "download", "-json", sarifSchemaModule)
	// Outside any module, so that go.mod and go.sum stay as they are.
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || runErr != nil || mod.Dir == "" {
		unavailable("go mod download %s: %v %s %s", sarifSchemaModule, runErr, mod.Error, strings.TrimSpace(stderr.String()))
	}
	f, err := os.Open(filepath.Join(mod.Dir, filepath.FromSlash(sarifSchemaFile)))
	if err != nil {
		t.Fatalf("module %s no longer ships the schema: %v", sarifSchemaModule, err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("parse SARIF schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(sarifSchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(sarifSchemaID)
	if err != nil {
		t.Fatalf("compile SARIF schema: %v", err)
	}
	return sch
}

// sarifOutput writes res as SARIF with every detect rule and decodes it.
func sarifOutput(t *testing.T, res Result, opts ReportOptions) (raw []byte, doc any) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteSARIF(&b, res, detect.Rules(), opts); err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("SARIF output is not JSON: %v\n%s", err, b.Bytes())
	}
	return b.Bytes(), doc
}

func TestSARIFSchema(t *testing.T) {
	sch := sarifSchemaValidator(t)
	odd := reportFixture()
	odd.Findings = append(odd.Findings,
		Finding{RuleID: "jwt", File: "-", Line: 1, Column: 1, EndLine: 1, EndColumn: 30, Secret: reportSecret},
		Finding{RuleID: "no_such_rule", File: "/abs/dir/ä b.txt", Line: 2, Column: 3, EndLine: 4, EndColumn: 5, Secret: reportSecret, Fingerprint: "00"},
		Finding{RuleID: "github_token", File: "C:/src/a:b.txt", Secret: reportSecret},
	)
	tests := []struct {
		name string
		res  Result
		opts ReportOptions
	}{
		{"findings", reportFixture(), ReportOptions{ToolVersion: "1.2.3"}},
		{"findings revealed", reportFixture(), ReportOptions{Reveal: true}},
		{"odd places", odd, ReportOptions{}},
		{"empty", Result{}, ReportOptions{}},
		{"skips", Result{Skipped: []Skip{{Path: "a.bin", Reason: "binary"}, {Path: "dir/b c.log", Reason: "larger than 10 MiB"}}}, ReportOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, doc := sarifOutput(t, tt.res, tt.opts)
			if err := sch.Validate(doc); err != nil {
				t.Errorf("output does not validate: %v\n%s", err, raw)
			}
			if bytes.Contains(raw, []byte(reportSecret)) {
				t.Errorf("SARIF output holds the secret:\n%s", raw)
			}
		})
	}

	// The validator must be able to say no, or the checks above prove
	// nothing.
	invalid := []struct {
		name   string
		change func(log map[string]any)
	}{
		{"version 2.0.0", func(log map[string]any) { log["version"] = "2.0.0" }},
		{"result without message", func(log map[string]any) {
			run := log["runs"].([]any)[0].(map[string]any)
			delete(run["results"].([]any)[0].(map[string]any), "message")
		}},
		{"line 0", func(log map[string]any) {
			run := log["runs"].([]any)[0].(map[string]any)
			loc := run["results"].([]any)[0].(map[string]any)["locations"].([]any)[0].(map[string]any)
			loc["physicalLocation"].(map[string]any)["region"].(map[string]any)["startLine"] = json.Number("0")
		}},
	}
	for _, tt := range invalid {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			_, doc := sarifOutput(t, reportFixture(), ReportOptions{})
			tt.change(doc.(map[string]any))
			if err := sch.Validate(doc); err == nil {
				t.Errorf("validator accepted a log with %s", tt.name)
			}
		})
	}
}

func TestSARIFGolden(t *testing.T) {
	rules := []detect.Rule{
		{ID: "openai_key", Description: "OpenAI API key."},
		{ID: "generic_secret", Description: "High-entropy value assigned to a secret-like name."},
	}
	var b bytes.Buffer
	if err := WriteSARIF(&b, reportFixture(), rules, ReportOptions{ToolVersion: "1.2.3"}); err != nil {
		t.Fatal(err)
	}
	reportGolden(t, "sarif.golden", b.Bytes())
}

func TestSARIFRuleIndex(t *testing.T) {
	res := reportFixture()
	res.Findings = append(res.Findings, Finding{RuleID: "custom", Description: "Custom rule.", File: "x", Line: 1, Column: 1})
	rules := []detect.Rule{{ID: "generic_secret"}, {ID: "openai_key"}, {ID: "generic_secret"}, {ID: "unused"}}
	var b bytes.Buffer
	if err := WriteSARIF(&b, res, rules, ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	var ids []string
	for _, r := range run.Tool.Driver.Rules {
		ids = append(ids, r.ID)
	}
	if got, want := strings.Join(ids, ","), "generic_secret,openai_key,unused,custom"; got != want {
		t.Errorf("rules = %s, want %s", got, want)
	}
	if len(run.Results) != len(res.Findings) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(res.Findings))
	}
	for i, r := range run.Results {
		if r.RuleIndex < 0 || r.RuleIndex >= len(ids) || ids[r.RuleIndex] != r.RuleID {
			t.Errorf("result %d: ruleIndex %d does not point at %s", i, r.RuleIndex, r.RuleID)
		}
		f := res.Findings[i]
		want := ""
		if f.Fingerprint != "" {
			want = Fingerprint(f.RuleID+"\x00"+f.File, f.Secret)
		}
		if fp := r.PartialFingerprints[sarifFingerprintKey]; fp != want {
			t.Errorf("result %d: fingerprint %q, want %q", i, fp, want)
		}
	}
	if p := run.Results[1].Properties; p == nil || p.Commit != res.Findings[1].Commit.Hash || p.Author != "Jane Doe" || p.Date != "2026-11-02T10:04:05+01:00" {
		t.Errorf("history properties = %+v", p)
	}
	if strings.Contains(b.String(), "jane@example.com") {
		t.Error("SARIF output holds the author's email address")
	}
}

func TestSARIFArtifact(t *testing.T) {
	tests := []struct {
		path, uri, base string
	}{
		{"src/app.py", "src/app.py", sarifSrcRoot},
		{"dir with space/a#b?.txt", "dir%20with%20space/a%23b%3F.txt", sarifSrcRoot},
		{"a:b/c:d", "a%3Ab/c%3Ad", sarifSrcRoot},
		{"ünï/100%.txt", "%C3%BCn%C3%AF/100%25.txt", sarifSrcRoot},
		{"/abs/x y", "file:///abs/x%20y", ""},
		{"C:/Users/a b", "file:///C:/Users/a%20b", ""},
		{"-", "", ""},
	}
	for _, tt := range tests {
		got := sarifArtifact(tt.path)
		if got.URI != tt.uri || got.URIBaseID != tt.base {
			t.Errorf("sarifArtifact(%q) = %q base %q, want %q base %q", tt.path, got.URI, got.URIBaseID, tt.uri, tt.base)
		}
		if tt.path == "-" && got.Description == nil {
			t.Errorf("standard input has no description")
		}
	}
}

func TestSARIFRegion(t *testing.T) {
	tests := []struct {
		f    Finding
		want *sarifRegion
	}{
		{Finding{Line: 3, Column: 5, EndLine: 3, EndColumn: 20}, &sarifRegion{StartLine: 3, StartColumn: 5, EndLine: 3, EndColumn: 21}},
		{Finding{Line: 3, Column: 5, EndLine: 7, EndColumn: 1}, &sarifRegion{StartLine: 3, StartColumn: 5, EndLine: 7, EndColumn: 2}},
		{Finding{Line: 3, Column: 5}, &sarifRegion{StartLine: 3, StartColumn: 5}},
		{Finding{}, nil},
	}
	for _, tt := range tests {
		got := sarifRegionFor(tt.f)
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("sarifRegionFor(%d:%d-%d:%d) = %+v, want %+v", tt.f.Line, tt.f.Column, tt.f.EndLine, tt.f.EndColumn, got, tt.want)
		}
	}
}
