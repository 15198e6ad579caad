package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scanTree writes files (path → content) under a new directory.
func scanTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScanExitCodesAndMasking(t *testing.T) {
	h := newHarness(t)
	key := fakeProviderKey(t, "sk-proj-")
	dirty := scanTree(t, map[string]string{
		"app/config.py": "import os\n\nOPENAI_API_KEY = \"" + key + "\"\n",
		"README.md":     "Set OPENAI_API_KEY to your key (it starts with sk-proj-...).\n",
	})
	clean := scanTree(t, map[string]string{"main.go": "package main\n\nfunc main() {}\n"})

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"clean tree", "", []string{"scan", clean}, 0, "no secrets found"},
		{"finding", "", []string{"scan", "--progress", "never", dirty}, 1, "openai_key"},
		{"finding as json", "", []string{"scan", "--format", "json", dirty}, 1, `"rule": "openai_key"`},
		{"finding as sarif", "", []string{"scan", "--format", "sarif", dirty}, 1, `"ruleId": "openai_key"`},
		{"stdin", "token: " + key + "\n", []string{"scan", "-"}, 1, "openai_key"},
		{"clean stdin", "nothing to see\n", []string{"scan", "-"}, 0, ""},
		{"line allowed", "OPENAI_API_KEY=" + key + " # warden:allow\n", []string{"scan", "-"}, 0, ""},
		{"unknown format", "", []string{"scan", "--format", "xml", dirty}, 2, ""},
		{"unknown flag", "", []string{"scan", "--no-such-flag", dirty}, 2, ""},
		{"unknown rule", "", []string{"scan", "--rules", "no_such_rule", dirty}, 2, ""},
		{"missing path", "", []string{"scan", filepath.Join(clean, "nope")}, 2, ""},
		{"git outside a repository", "", []string{"scan", "--git", clean}, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run(tc.stdin, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.want) {
				t.Fatalf("stdout lacks %q:\n%s", tc.want, r.stdout)
			}
			if tc.code == 2 && !strings.Contains(r.stderr, "warden: ") {
				t.Fatalf("a failed scan says nothing on stderr: %q", r.stderr)
			}
		})
	}
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	h.assertNowhere(key)

	revealed := h.run("", "scan", "--reveal", dirty)
	if revealed.code != 1 || !strings.Contains(revealed.stdout, key) {
		t.Fatalf("--reveal does not print the key: exit %d\n%s", revealed.code, revealed.stdout)
	}
	sarif := h.run("", "scan", "--reveal", "--format", "sarif", dirty)
	if sarif.code != 1 || strings.Contains(sarif.stdout, key) {
		t.Fatalf("SARIF with --reveal carries the key (exit %d)", sarif.code)
	}
}

func TestScanNoiseControls(t *testing.T) {
	h := newHarness(t)
	keep := fakeProviderKey(t, "sk-proj-")
	accepted := fakeProviderKey(t, "sk-proj-")
	dir := scanTree(t, map[string]string{
		"src/a.py":        "KEY = \"" + keep + "\"\n",
		"fixtures/b.py":   "KEY = \"" + fakeProviderKey(t, "sk-proj-") + "\"\n",
		"src/accepted.py": "KEY = \"" + accepted + "\"\n",
	})
	// Fingerprints come from a JSON report.
	r := h.run("", "scan", "--format", "json", dir)
	if r.code != 1 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	var rep struct {
		Findings []struct {
			File        string `json:"file"`
			Fingerprint string `json:"fingerprint"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, r.stdout)
	}
	if len(rep.Findings) != 3 {
		t.Fatalf("%d findings, want 3: %s", len(rep.Findings), r.stdout)
	}
	var fp string
	for _, f := range rep.Findings {
		if strings.HasSuffix(f.File, "src/accepted.py") {
			fp = f.Fingerprint
		}
	}
	ignore := "# test fixtures hold fake keys\nfixtures/**\nfp:" + fp + "\n"
	if err := os.WriteFile(filepath.Join(dir, ".wardenignore"), []byte(ignore), 0o644); err != nil {
		t.Fatal(err)
	}
	r = h.run("", "scan", "--format", "json", dir)
	if r.code != 1 || strings.Contains(r.stdout, "fixtures/b.py") || strings.Contains(r.stdout, fp) || !strings.Contains(r.stdout, "src/a.py") {
		t.Fatalf(".wardenignore not applied: exit %d\n%s", r.code, r.stdout)
	}

	// A baseline holding every current finding leaves nothing new.
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	if err := os.WriteFile(baseline, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := h.run("", "scan", "--baseline", baseline, dir); r.code != 0 {
		t.Fatalf("baseline: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	fresh := fakeProviderKey(t, "sk-proj-")
	if err := os.WriteFile(filepath.Join(dir, "src", "new.py"), []byte("KEY = \""+fresh+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = h.run("", "scan", "--baseline", baseline, dir)
	if r.code != 1 || !strings.Contains(r.stdout, "new.py") || strings.Contains(r.stdout, "src/a.py") {
		t.Fatalf("baseline should leave only the new finding: exit %d\n%s", r.code, r.stdout)
	}
	if r := h.run("", "scan", "--baseline", filepath.Join(dir, "src", "a.py"), dir); r.code != 2 {
		t.Fatalf("a baseline that is no report: exit %d, want 2", r.code)
	}
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	h.assertNowhere(keep)
	h.assertNowhere(fresh)
}

func TestScanVerifyAndRevokeWardenKeys(t *testing.T) {
	h := newHarness(t)
	var created createdOut
	decodeStrict(t, h.mustSecret("keys", "create", "--name", "leaky", "--json").stdout, &created)
	key, id := created.Secret, created.ID
	dir := scanTree(t, map[string]string{"deploy/app.env": "WARDEN_KEY=" + key + "\n"})

	r := h.run("", "scan", "--verify", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "LIVE") || !strings.Contains(r.stderr, id) {
		t.Fatalf("--verify: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = h.run("", "scan", "--revoke", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "now revoked") {
		t.Fatalf("--revoke: exit %d\nstderr: %s", r.code, r.stderr)
	}
	show := h.must("", "keys", "show", id)
	if !strings.Contains(show.stdout, "revoked") {
		t.Fatalf("key not revoked after --revoke:\n%s", show.stdout)
	}
	r = h.run("", "scan", "--verify", dir)
	if !strings.Contains(r.stderr, "already revoked") {
		t.Fatalf("--verify after revoking: %s", r.stderr)
	}
	h.assertNowhere(key)
}

func TestScanInstallHook(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed for the hook test: %v", err)
	}
	h := newHarness(t)
	repo := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	hook := filepath.Join(repo, ".git", "hooks", "pre-commit")
	h.must("", "scan", "--install-hook", repo)
	b, err := os.ReadFile(hook)
	if err != nil || !strings.Contains(string(b), "scan --staged") {
		t.Fatalf("hook: %v\n%s", err, b)
	}
	if st, _ := os.Stat(hook); st.Mode()&0o111 == 0 {
		t.Fatalf("hook is not executable: %v", st.Mode())
	}
	h.must("", "scan", "--install-hook", repo) // its own hook is replaced

	if err := os.WriteFile(hook, []byte("#!/bin/sh\nmake lint\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := h.run("", "scan", "--install-hook", repo); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("a foreign hook was not kept: exit %d %s", r.code, r.stderr)
	}
	h.must("", "scan", "--install-hook", "--force", repo)
	if b, _ := os.ReadFile(hook); !strings.Contains(string(b), hookMarker) {
		t.Fatal("--force did not replace the hook")
	}
}
