package scan

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRepositoryScansClean scans this repository's own working tree and
// history, with its .wardenignore, and fails on any finding: no commit may
// add a secret-shaped value without saying why.
func TestRepositoryScansClean(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	ig, err := LoadIgnore(filepath.Join(root, IgnoreFile))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sc.Run(t.Context(), Files([]string{root}, WalkOptions{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks < 100 {
		t.Fatalf("only %d files scanned: the walk missed the tree", res.Chunks)
	}
	for _, f := range res.Findings {
		rel, err := filepath.Rel(root, filepath.FromSlash(f.File))
		if err != nil {
			t.Fatal(err)
		}
		g := f
		g.File = filepath.ToSlash(rel)
		if !ig.Drops(g) {
			t.Errorf("%s: %s (fingerprint %s): generate the value at run time, or add it to .wardenignore with a reason", g.File, f.RuleID, f.Fingerprint)
		}
	}

	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Logf("no .git at the repository root (an exported tree): history not scanned")
		return
	}
	gitRequire(t)
	hist, err := sc.Run(t.Context(), GitHistory(root, GitOptions{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ig.Filter(hist.Findings) {
		t.Errorf("history: %s: %s (fingerprint %s): rotate it if it was real, and add it to .wardenignore with a reason", f, f.Commit.Short(), f.Fingerprint)
	}
}
