package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/detect/detecttest"
)

// fakeAnthropicKey returns a random value in the format of an Anthropic API
// key, made at run time so that no key-shaped text is in the source.
func fakeAnthropicKey(t *testing.T) string {
	t.Helper()
	return detecttest.Fake(t, "sk-ant-api03-{u:93}AA")
}

// TestPreCommitHookRefusesSecrets installs the hook with the real binary
// and commits with git: a commit adding a key is refused, a clean one
// goes through, and a key forced past the hook and deleted later is still
// found in history with the commit that added it.
func TestPreCommitHookRefusesSecrets(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "warden")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/warden").CombinedOutput(); err != nil {
		t.Fatalf("build warden: %v\n%s", err, out)
	}
	home := t.TempDir()
	repo := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "WARDEN="+bin, "CI=",
		"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com")
	run := func(name string, args ...string) (string, error) {
		c := exec.Command(name, args...)
		c.Dir, c.Env = repo, env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	must := func(name string, args ...string) string {
		t.Helper()
		out, err := run(name, args...)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return out
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must("git", "init", "-q", "-b", "main")
	must("git", "config", "commit.gpgsign", "false")
	must(bin, "scan", "--install-hook")

	key := fakeAnthropicKey(t)
	write("settings.py", "DEBUG = False\nANTHROPIC_API_KEY = \""+key+"\"\n")
	must("git", "add", "settings.py")
	out, err := run("git", "commit", "-q", "-m", "add settings")
	if err == nil {
		t.Fatalf("the hook let a commit with a key through:\n%s", out)
	}
	if !strings.Contains(out, "anthropic_key") || strings.Contains(out, key) {
		t.Fatalf("hook output should name the rule and mask the key:\n%s", out)
	}

	write("settings.py", "import os\n\nDEBUG = False\nANTHROPIC_API_KEY = os.environ[\"ANTHROPIC_API_KEY\"]\n")
	must("git", "add", "settings.py")
	must("git", "commit", "-q", "-m", "settings from the environment")

	// Forced past the hook, then deleted: history still has it.
	write("notes.txt", "temporary\n"+key+"\n")
	must("git", "add", "notes.txt")
	must("git", "commit", "-q", "--no-verify", "-m", "notes")
	added := strings.TrimSpace(must("git", "rev-parse", "HEAD"))
	must("git", "rm", "-q", "notes.txt")
	must("git", "commit", "-q", "-m", "remove notes")

	if out, err := run(bin, "scan", "."); err != nil {
		t.Fatalf("working tree should be clean: %v\n%s", err, out)
	}
	out, err = run(bin, "scan", "--git", "--format", "json")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("scan --git: %v, want exit 1\n%s", err, out)
	}
	if !strings.Contains(out, added) || !strings.Contains(out, `"file": "notes.txt"`) || !strings.Contains(out, `"line": 2`) || strings.Contains(out, key) {
		t.Fatalf("history scan should name commit %s, notes.txt line 2, masked:\n%s", added, out)
	}
}
