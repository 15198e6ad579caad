package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/detect/detecttest"
)

// The tests below run the git command on repositories made in temporary
// directories, isolated from the user's and the system's configuration.

// gitRequire fails the test when git is missing in CI, where it is
// installed on purpose, and skips it elsewhere.
func gitRequire(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git is required for the history scan tests: %v", err)
		}
		t.Skipf("git is not on PATH, so the history scan is not tested: %v", err)
	}
}

// gitIsolate points git at an empty home and configuration for the rest
// of the test.
func gitIsolate(t *testing.T) {
	t.Helper()
	gitRequire(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_AUTHOR_NAME", "Test Author")
	t.Setenv("GIT_AUTHOR_EMAIL", "author@example.com")
	t.Setenv("GIT_COMMITTER_NAME", "Test Committer")
	t.Setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
	t.Setenv("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
	t.Setenv("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
}

// gitRepo returns a new repository with branch main.
func gitRepo(t *testing.T) string {
	t.Helper()
	gitIsolate(t)
	dir := t.TempDir()
	gitRun(t, dir, nil, "init", "-q", "-b", "main")
	gitRun(t, dir, nil, "config", "commit.gpgsign", "false")
	return dir
}

// gitRun runs git in dir with extra environment and returns its output.
func gitRun(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitAuthor is who made a commit and when.
type gitAuthor struct {
	name, email, date string
}

// gitCommit stages everything and commits it as a, returning the hash.
func gitCommit(t *testing.T, dir string, a gitAuthor, msg string) string {
	t.Helper()
	gitRun(t, dir, nil, "add", "-A")
	gitRun(t, dir, []string{
		"GIT_AUTHOR_NAME=" + a.name, "GIT_AUTHOR_EMAIL=" + a.email,
		"GIT_AUTHOR_DATE=" + a.date, "GIT_COMMITTER_DATE=" + a.date,
	}, "commit", "-q", "--allow-empty", "-m", msg)
	return gitRun(t, dir, nil, "rev-parse", "HEAD")
}

// gitWrite writes a file of the repository, making its directories.
func gitWrite(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gitFakeKey returns a random value in the format of an Anthropic API
// key, made at run time so that no key-shaped text is in the source.
func gitFakeKey(t *testing.T) string {
	t.Helper()
	return detecttest.Fake(t, "sk-ant-api03-{u:93}AA")
}

// gitScan runs a scanner with every rule over src.
func gitScan(t *testing.T, src Source) Result {
	t.Helper()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(t.Context(), src, nil)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return res
}

// gitTreeSource reads the files of the working tree at dir, outside .git.
func gitTreeSource(dir string) Source {
	return func(ctx context.Context, emit func(Chunk) error) error {
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			return emit(Chunk{Path: filepath.ToSlash(rel), Text: string(b)})
		})
	}
}

// gitChunk is a chunk without its loader, for comparisons.
type gitChunk struct {
	Path, Text string
	Lines      []int
	Hash       string
	Skip       string
}

// gitShow prints chunks for a test failure, with long texts cut.
func gitShow(cs []gitChunk) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "\n\t{%.80q %.80q %v %s %q}", c.Path, c.Text, c.Lines, c.Hash, c.Skip)
	}
	return b.String()
}

// gitCollect runs src and returns its chunks.
func gitCollect(t *testing.T, src Source) []gitChunk {
	t.Helper()
	var out []gitChunk
	err := src(t.Context(), func(c Chunk) error {
		g := gitChunk{Path: c.Path, Text: c.Text, Lines: c.Lines}
		if c.Commit != nil {
			g.Hash = c.Commit.Hash
		}
		if c.Load != nil {
			_, err := c.Load()
			var skip *SkipError
			if !errors.As(err, &skip) {
				return fmt.Errorf("Load of %s returned %v, want a SkipError", c.Path, err)
			}
			g.Skip = skip.Reason
		}
		out = append(out, g)
		return nil
	})
	if err != nil {
		t.Fatalf("source: %v", err)
	}
	return out
}

func TestGitHistoryFindsDeletedKeyOnce(t *testing.T) {
	dir := gitRepo(t)
	key := gitFakeKey(t)
	ada := gitAuthor{"Ada Lovelace", "ada@example.com", "2024-03-01T10:00:00+01:00"}
	bob := gitAuthor{"Bob", "bob@example.com", "2024-03-02T10:00:00Z"}

	gitWrite(t, dir, "config/app.env", "# settings\nHOST=localhost\nANTHROPIC_API_KEY="+key+"\nPORT=8080\n")
	hashA := gitCommit(t, dir, ada, "add settings")
	gitWrite(t, dir, "config/app.env", "# edited\n# settings\nHOST=localhost\nANTHROPIC_API_KEY="+key+"\nPORT=9090\n")
	gitCommit(t, dir, bob, "change port")
	gitWrite(t, dir, "config/app.env", "# edited\n# settings\nHOST=localhost\nPORT=9090\n")
	gitCommit(t, dir, bob, "remove key")
	// A branch that moves the file and is merged: neither the rename
	// nor the merge may report the key again.
	gitRun(t, dir, nil, "checkout", "-q", "-b", "side", hashA)
	gitRun(t, dir, nil, "mv", "config/app.env", "config/moved.env")
	gitCommit(t, dir, bob, "move settings")
	gitRun(t, dir, nil, "checkout", "-q", "main")
	gitRun(t, dir, []string{"GIT_AUTHOR_DATE=2024-03-04T00:00:00Z"},
		"merge", "-q", "--no-ff", "-s", "ours", "-m", "merge side", "side")

	if res := gitScan(t, gitTreeSource(dir)); len(res.Findings) != 0 {
		t.Fatalf("working tree scan found %v, want nothing", res.Findings)
	}
	res := gitScan(t, GitHistory(dir, GitOptions{}))
	if len(res.Findings) != 1 {
		t.Fatalf("history scan found %d findings, want 1: %v", len(res.Findings), res.Findings)
	}
	f := res.Findings[0]
	if f.RuleID != "anthropic_key" || f.Secret != key {
		t.Errorf("found %s %q, want anthropic_key with the committed key", f.RuleID, Mask(f.Secret))
	}
	if f.File != "config/app.env" || f.Line != 3 || f.Column != len("ANTHROPIC_API_KEY=")+1 {
		t.Errorf("found at %s:%d:%d, want config/app.env:3:%d", f.File, f.Line, f.Column, len("ANTHROPIC_API_KEY=")+1)
	}
	wantDate, err := time.Parse(time.RFC3339, ada.date)
	if err != nil {
		t.Fatal(err)
	}
	switch c := f.Commit; {
	case c == nil:
		t.Fatal("finding has no commit")
	case c.Hash != hashA || c.Author != ada.name || c.Email != ada.email || !c.Date.Equal(wantDate):
		t.Errorf("commit = %+v, want %s by %s <%s> at %v", *c, hashA, ada.name, ada.email, wantDate)
	}
	if _, off := f.Commit.Date.Zone(); off != 3600 {
		t.Errorf("commit date %v lost the author's time zone", f.Commit.Date)
	}
}

func TestGitHistoryChunks(t *testing.T) {
	dir := gitRepo(t)
	a := gitAuthor{"A", "a@example.com", "2020-01-01T00:00:00Z"}
	b := gitAuthor{"B", "b@example.com", "2024-06-01T00:00:00Z"}

	var ten []string
	for i := 1; i <= 10; i++ {
		ten = append(ten, fmt.Sprintf("line %d", i))
	}
	gitWrite(t, dir, "ten.txt", strings.Join(ten, "\n")+"\n")
	gitWrite(t, dir, "gone.txt", "bye\n")
	odd := `dir with space/ñame "q".txt`
	gitWrite(t, dir, odd, "first\n")
	h1 := gitCommit(t, dir, a, "one")

	edited := slices.Clone(ten)
	edited[1] = "line 2 changed"
	edited[7] = "line 8 changed"
	edited = slices.Insert(edited, 5, "inserted")
	gitWrite(t, dir, "ten.txt", strings.Join(edited, "\n")+"\n")
	if err := os.Remove(filepath.Join(dir, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	gitWrite(t, dir, "blob.bin", "\x00\x01\x02binary\x00data\n")
	gitWrite(t, dir, odd, "first\nsecond")
	h2 := gitCommit(t, dir, b, "two")

	newest := []gitChunk{
		{Path: odd, Text: "second", Lines: []int{2}, Hash: h2},
		{Path: "ten.txt", Text: "line 2 changed\ninserted\nline 8 changed", Lines: []int{2, 6, 9}, Hash: h2},
	}
	oldest := []gitChunk{
		{Path: odd, Text: "first", Lines: []int{1}, Hash: h1},
		{Path: "gone.txt", Text: "bye", Lines: []int{1}, Hash: h1},
		{Path: "ten.txt", Text: strings.Join(ten, "\n"), Lines: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Hash: h1},
	}
	tests := []struct {
		name string
		opts GitOptions
		want []gitChunk
	}{
		{"all", GitOptions{}, append(slices.Clone(newest), oldest...)},
		{"range", GitOptions{Range: "HEAD~1..HEAD"}, newest},
		{"single commit", GitOptions{Range: h1}, oldest},
		{"since", GitOptions{Since: "2022-01-01"}, newest},
		{"max chunk", GitOptions{Range: h1, MaxChunk: 20}, []gitChunk{
			oldest[0], oldest[1],
			{Path: "ten.txt", Hash: h1, Skip: "added lines larger than 20 bytes in commit " + h1[:12]},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gitCollect(t, GitHistory(dir, tt.opts))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("chunks:\n got %s\nwant %s", gitShow(got), gitShow(tt.want))
			}
		})
	}
}

func TestGitHistorySkipIsReported(t *testing.T) {
	dir := gitRepo(t)
	key := gitFakeKey(t)
	gitWrite(t, dir, "big.env", "ANTHROPIC_API_KEY="+key+"\n")
	gitCommit(t, dir, gitAuthor{"A", "a@example.com", "2024-01-01T00:00:00Z"}, "big")
	res := gitScan(t, GitHistory(dir, GitOptions{MaxChunk: 64}))
	if len(res.Findings) != 0 {
		t.Errorf("findings %v in a skipped chunk", res.Findings)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Path != "big.env" || !strings.Contains(res.Skipped[0].Reason, "larger than 64 bytes") {
		t.Errorf("skipped = %+v, want big.env as too large", res.Skipped)
	}
}

func TestGitStaged(t *testing.T) {
	for _, committed := range []bool{false, true} {
		t.Run(fmt.Sprintf("with commits %v", committed), func(t *testing.T) {
			dir := gitRepo(t)
			if committed {
				gitWrite(t, dir, "tracked.env", "A=1\n")
				gitCommit(t, dir, gitAuthor{"A", "a@example.com", "2024-01-01T00:00:00Z"}, "base")
			}
			staged, unstaged := gitFakeKey(t), gitFakeKey(t)
			gitWrite(t, dir, "new.env", "# staged\nKEY="+staged+"\n")
			gitRun(t, dir, nil, "add", "new.env")
			gitWrite(t, dir, "new.env", "# staged\nKEY="+staged+"\nOTHER="+unstaged+"\n")
			gitWrite(t, dir, "tracked.env", "A=1\nB="+unstaged+"\n")

			res := gitScan(t, GitStaged(dir))
			if len(res.Findings) != 1 {
				t.Fatalf("staged scan found %d findings, want 1: %v", len(res.Findings), res.Findings)
			}
			f := res.Findings[0]
			if f.Secret != staged || f.File != "new.env" || f.Line != 2 || f.Commit != nil {
				t.Errorf("found %v (commit %v), want the staged key at new.env:2 with no commit", f, f.Commit)
			}
		})
	}
}

func TestGitErrors(t *testing.T) {
	gitIsolate(t)
	notRepo := t.TempDir()
	tests := []struct {
		name string
		src  Source
		want []string
	}{
		{"history outside a repository", GitHistory(notRepo, GitOptions{}),
			[]string{notRepo + " is not a git repository", "run without --git", "fatal: not a git repository"}},
		{"staged outside a repository", GitStaged(notRepo),
			[]string{notRepo + " is not a git repository", "run without --git"}},
		{"option as range", GitHistory(notRepo, GitOptions{Range: "--output=x"}),
			[]string{"starts with '-'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.src(t.Context(), func(Chunk) error { return nil })
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}

	t.Run("bad range", func(t *testing.T) {
		dir := gitRepo(t)
		gitCommit(t, dir, gitAuthor{"A", "a@example.com", "2024-01-01T00:00:00Z"}, "empty")
		err := GitHistory(dir, GitOptions{Range: "nosuchbranch..HEAD"})(t.Context(), func(Chunk) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "nosuchbranch") || !strings.Contains(err.Error(), "git log failed") {
			t.Errorf("error = %v, want git's complaint about the range", err)
		}
	})

	t.Run("git missing", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		err := GitHistory(notRepo, GitOptions{})(t.Context(), func(Chunk) error { return nil })
		if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "not installed") {
			t.Errorf("error = %v, want git not installed", err)
		}
	})
}

// gitBigHistory makes a repository whose log output is far larger than a
// pipe buffer, so git is still writing when the parser stops.
func gitBigHistory(t *testing.T) string {
	t.Helper()
	dir := gitRepo(t)
	var b strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&b, "filler line %d\n", i)
	}
	gitWrite(t, dir, "a.txt", "small\n")
	gitWrite(t, dir, "b.txt", b.String())
	gitWrite(t, dir, "c.txt", "small\n")
	gitCommit(t, dir, gitAuthor{"A", "a@example.com", "2024-01-01T00:00:00Z"}, "big")
	return dir
}

func TestGitHistoryStops(t *testing.T) {
	dir := gitBigHistory(t)
	errStop := errors.New("stop")
	tests := []struct {
		name string
		// stop is called on the first chunk; it returns what emit
		// returns.
		stop func(cancel context.CancelFunc) error
		want error
	}{
		{"emit error", func(context.CancelFunc) error { return errStop }, errStop},
		{"cancelled", func(cancel context.CancelFunc) error { cancel(); return nil }, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			chunks := 0
			done := make(chan error, 1)
			go func() {
				done <- GitHistory(dir, GitOptions{})(ctx, func(Chunk) error {
					chunks++
					return tt.stop(cancel)
				})
			}()
			select {
			case err := <-done:
				if !errors.Is(err, tt.want) {
					t.Errorf("error = %v, want %v", err, tt.want)
				}
				if chunks != 1 {
					t.Errorf("%d chunks emitted after the stop", chunks-1)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("source did not return after it was stopped")
			}
		})
	}

	t.Run("cancelled before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := GitHistory(dir, GitOptions{})(ctx, func(Chunk) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

// gitParse runs parseDiff over text with a limit on chunk size.
func gitParse(t *testing.T, text string, maxChunk int) []gitChunk {
	t.Helper()
	return gitCollect(t, func(_ context.Context, emit func(Chunk) error) error {
		return newDiffParser(strings.NewReader(text), maxChunk).parse(emit)
	})
}

func TestParseDiff(t *testing.T) {
	const marker1 = "\x00commit 1111\x00Ann Example\x00ann@example.com\x002024-01-02T03:04:05+02:00"
	const marker2 = "\x00commit 2222\x00Bo\x00bo@example.com\x00not a date"
	tests := []struct {
		name string
		diff string
		want []gitChunk
	}{
		{
			name: "log with two commits",
			diff: marker1 + "\n\n" +
				"diff --git a/x.txt b/x.txt\n" +
				"index 1..2 100644\n" +
				"--- a/x.txt\n" +
				"+++ b/x.txt\n" +
				"@@ -1,0 +2 @@ func context\n" +
				"+two\n" +
				"@@ -5,2 +6,2 @@\n" +
				"-old five\n" +
				"-old six\n" +
				"+six\n" +
				"+seven\n" +
				"\\ No newline at end of file\n" +
				"diff --git a/y.txt b/y.txt\n" +
				"new file mode 100644\n" +
				"--- /dev/null\n" +
				"+++ b/y.txt\n" +
				"@@ -0,0 +1 @@\n" +
				"+only\n" +
				marker2 + "\n\n" +
				"diff --git a/x.txt b/x.txt\n" +
				"--- a/x.txt\n" +
				"+++ b/x.txt\n" +
				"@@ -3 +3 @@\n" +
				"-before\n" +
				"+after\n",
			want: []gitChunk{
				{Path: "x.txt", Text: "two\nsix\nseven", Lines: []int{2, 6, 7}, Hash: "1111"},
				{Path: "y.txt", Text: "only", Lines: []int{1}, Hash: "1111"},
				{Path: "x.txt", Text: "after", Lines: []int{3}, Hash: "2222"},
			},
		},
		{
			name: "quoted path",
			diff: "diff --git \"a/d\\303\\251j\\303\\240 vu \\\"q\\\".txt\" \"b/d\\303\\251j\\303\\240 vu \\\"q\\\".txt\"\n" +
				"--- \"a/d\\303\\251j\\303\\240 vu \\\"q\\\".txt\"\t\n" +
				"+++ \"b/d\\303\\251j\\303\\240 vu \\\"q\\\".txt\"\t\n" +
				"@@ -0,0 +1 @@\n+hello\n",
			want: []gitChunk{{Path: "déjà vu \"q\".txt", Text: "hello", Lines: []int{1}}},
		},
		{
			name: "escapes in quoted path",
			diff: "diff --git a/x b/x\n+++ \"b/tab\\there\\\\back\\nline\"\n@@ -0,0 +1 @@\n+x\n",
			want: []gitChunk{{Path: "tab\there\\back\nline", Text: "x", Lines: []int{1}}},
		},
		{
			name: "path with space and tab after it",
			diff: "diff --git a/a b c b/a b c\n+++ b/a b c\t\n@@ -0,0 +1 @@\n+x\n",
			want: []gitChunk{{Path: "a b c", Text: "x", Lines: []int{1}}},
		},
		{
			name: "bad quoted path",
			diff: "diff --git a/x b/x\n+++ \"b/bad\\q\"\n@@ -0,0 +1 @@\n+x\n",
			want: nil,
		},
		{
			name: "deleted file",
			diff: "diff --git a/gone b/gone\ndeleted file mode 100644\n--- a/gone\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-one\n-two\n",
			want: nil,
		},
		{
			name: "binary file",
			diff: "diff --git a/img.png b/img.png\nnew file mode 100644\nindex 0..1\nBinary files /dev/null and b/img.png differ\n",
			want: nil,
		},
		{
			name: "added lines that look like headers",
			diff: "diff --git a/n.txt b/n.txt\n+++ b/n.txt\n@@ -0,0 +1,4 @@\n+++ not a header\n+diff --git a/q b/q\n+@@ -1 +1 @@\n+\n",
			want: []gitChunk{{Path: "n.txt", Text: "++ not a header\ndiff --git a/q b/q\n@@ -1 +1 @@\n", Lines: []int{1, 2, 3, 4}}},
		},
		{
			name: "context lines",
			diff: "--- old/f.txt\t2024-01-01 00:00:00\n+++ new/f.txt\t2024-01-02 00:00:00\n" +
				"@@ -10,4 +10,5 @@\n ten\n-eleven\n+eleven!\n+eleven and a half\n twelve\n\n",
			want: []gitChunk{{Path: "new/f.txt", Text: "eleven!\neleven and a half", Lines: []int{11, 12}}},
		},
		{
			name: "hunk cut short",
			diff: "diff --git a/f b/f\n+++ b/f\n@@ -0,0 +1,5 @@\n+one\ndiff --git a/g b/g\n+++ b/g\n@@ -0,0 +7 @@\n+seven\n",
			want: []gitChunk{
				{Path: "f", Text: "one", Lines: []int{1}},
				{Path: "g", Text: "seven", Lines: []int{7}},
			},
		},
		{
			name: "combined diff of a merge",
			diff: marker1 + "\n\ndiff --cc m.txt\n--- a/m.txt\n+++ b/m.txt\n@@@ -1,1 -1,1 +1,1 @@@\n- a\n -b\n++c\n",
			want: nil,
		},
		{
			name: "malformed hunk headers",
			diff: "diff --git a/f b/f\n+++ b/f\n@@ -x +1 @@\n+a\n@@ -1 +99999999999 @@\n+b\n@@ -1 +1,-1 @@\n+c\n@@ -0,0 +2 @@\n+d\n",
			want: []gitChunk{{Path: "f", Text: "d", Lines: []int{2}}},
		},
		{
			name: "hunk without a file",
			diff: "@@ -0,0 +1 @@\n+x\n",
			want: nil,
		},
		{
			name: "no final newline",
			diff: "diff --git a/f b/f\n+++ b/f\n@@ -0,0 +1 @@\n+end",
			want: []gitChunk{{Path: "f", Text: "end", Lines: []int{1}}},
		},
		{
			name: "empty",
			diff: "",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gitParse(t, tt.diff, 0)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("chunks:\n got %s\nwant %s", gitShow(got), gitShow(tt.want))
			}
		})
	}
}

func TestParseDiffCommit(t *testing.T) {
	diff := "\x00commit abc\x00Ann Example\x00ann@example.com\x002024-01-02T03:04:05+02:00\n" +
		"diff --git a/f b/f\n+++ b/f\n@@ -0,0 +1 @@\n+x\n" +
		"\x00commit def\x00Bo\n" +
		"diff --git a/f b/f\n+++ b/f\n@@ -0,0 +1 @@\n+y\n"
	var got []*Commit
	err := parseDiff(strings.NewReader(diff), func(c Chunk) error {
		got = append(got, c.Commit)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []*Commit{
		{Hash: "abc", Author: "Ann Example", Email: "ann@example.com",
			Date: time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("", 2*3600))},
		{Hash: "def", Author: "Bo"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d commits, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g == nil || g.Hash != w.Hash || g.Author != w.Author || g.Email != w.Email || !g.Date.Equal(w.Date) {
			t.Errorf("commit %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestParseDiffLimits(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	head := "diff --git a/f b/f\n+++ b/f\n@@ -0,0 +1,2 @@\n"
	tests := []struct {
		name     string
		diff     string
		maxChunk int
		want     []gitChunk
	}{
		{"long line within limit", head + "+" + long + "\n+end\n", 0,
			[]gitChunk{{Path: "f", Text: long + "\nend", Lines: []int{1, 2}}}},
		{"long line over limit", head + "+" + long + "\n+end\n", 100 << 10,
			[]gitChunk{{Path: "f", Skip: "added lines larger than 102400 bytes"}}},
		{"many lines over limit", head + "+12345\n+67890\n", 10,
			[]gitChunk{{Path: "f", Skip: "added lines larger than 10 bytes"}}},
		{"exactly at limit", head + "+12345\n+6789\n", 10,
			[]gitChunk{{Path: "f", Text: "12345\n6789", Lines: []int{1, 2}}}},
		{"long header line", "diff --git a/f b/f\n+++ b/" + long + "\n@@ -0,0 +1 @@\n+x\n", 1 << 10,
			// The line is cut at the limit and a byte.
			[]gitChunk{{Path: strings.Repeat("x", 1<<10+1-len("+++ b/")), Text: "x", Lines: []int{1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gitParse(t, tt.diff, tt.maxChunk)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("chunks:\n got %s\nwant %s", gitShow(got), gitShow(tt.want))
			}
		})
	}
}
