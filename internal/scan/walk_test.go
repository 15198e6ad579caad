package scan

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/detect"
)

// walkTree creates files (slash paths to contents) under dir.
func walkTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// walkItem is what a source produced for one chunk: its path and either
// its text or why it was skipped.
type walkItem struct {
	Path, Text, Skip string
}

// walkCollect runs src and loads every chunk it emits.
func walkCollect(t *testing.T, src Source) []walkItem {
	t.Helper()
	chunks, err := walkChunks(context.Background(), src)
	if err != nil {
		t.Fatalf("source: %v", err)
	}
	return walkLoad(t, chunks)
}

// walkChunks runs src and returns the chunks it emits, unloaded.
func walkChunks(ctx context.Context, src Source) ([]Chunk, error) {
	var chunks []Chunk
	err := src(ctx, func(c Chunk) error {
		chunks = append(chunks, c)
		return nil
	})
	return chunks, err
}

// walkLoad loads chunks the way the scanner's workers do.
func walkLoad(t *testing.T, chunks []Chunk) []walkItem {
	t.Helper()
	var items []walkItem
	for _, c := range chunks {
		it := walkItem{Path: c.Path, Text: c.Text}
		if c.Load != nil {
			text, err := c.Load()
			var skip *SkipError
			switch {
			case errors.As(err, &skip):
				it.Skip = skip.Reason
			case err != nil:
				t.Fatalf("load %s: %v", c.Path, err)
			default:
				it.Text = text
			}
		}
		items = append(items, it)
	}
	return items
}

// walkPaths returns the paths of the items that were loaded.
func walkPaths(items []walkItem) []string {
	var ps []string
	for _, it := range items {
		if it.Skip == "" {
			ps = append(ps, it.Path)
		}
	}
	return ps
}

func TestFilesWalk(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		roots []string
		opts  WalkOptions
		want  []string // paths loaded, in order
		skips map[string]string
	}{
		{
			name: "gitignore nested negation dirs anchors globs",
			files: map[string]string{
				".gitignore":         "# build outputs\n*.log\nbuild/\n/top.txt\ndocs/**/gen.txt\n\n",
				"app.log":            "x",
				"build/out.txt":      "x",
				"src/build":          "a file, not a directory",
				"top.txt":            "x",
				"src/top.txt":        "x",
				"docs/a/b/gen.txt":   "x",
				"docs/gen.txt":       "x",
				"docs/readme.txt":    "x",
				"src/.gitignore":     "!keep.log\r\n*.tmp\r\n",
				"src/keep.log":       "x",
				"src/deep/keep.log":  "x",
				"src/other.log":      "x",
				"src/x.tmp":          "x",
				"other/x.tmp":        "x",
				"other/sub/.gitkeep": "",
			},
			roots: []string{"."},
			want: []string{
				".gitignore", "docs/readme.txt", "other/sub/.gitkeep", "other/x.tmp",
				"src/.gitignore", "src/build", "src/deep/keep.log", "src/keep.log", "src/top.txt",
			},
		},
		{
			name: "git directories and info exclude",
			files: map[string]string{
				".git/config":       "[core]\n",
				".git/info/exclude": "# local\nexcluded.txt\n",
				"excluded.txt":      "x",
				"kept.txt":          "x",
				"vendor/.git/HEAD":  "ref: refs/heads/main\n",
				"vendor/lib.go":     "x",
			},
			roots: []string{"."},
			want:  []string{"kept.txt", "vendor/lib.go"},
		},
		{
			name: "root below the top of a work tree",
			files: map[string]string{
				"repo/.git/info/exclude": "local.txt\n",
				"repo/.gitignore":        "*.secret\n/sub/gen/\n",
				"repo/sub/.gitignore":    "*.bak\n",
				"repo/sub/a.secret":      "x",
				"repo/sub/gen/x.txt":     "x",
				"repo/sub/local.txt":     "x",
				"repo/sub/old.bak":       "x",
				"repo/sub/ok.txt":        "x",
			},
			roots: []string{"repo/sub"},
			want:  []string{"repo/sub/.gitignore", "repo/sub/ok.txt"},
		},
		{
			name: "no gitignore",
			files: map[string]string{
				".git/info/exclude": "excluded.txt\n",
				".gitignore":        "*.log\n",
				"app.log":           "x",
				"excluded.txt":      "x",
			},
			roots: []string{"."},
			opts:  WalkOptions{NoGitignore: true},
			want:  []string{".gitignore", "app.log", "excluded.txt"},
		},
		{
			name: "binary and too large files",
			files: map[string]string{
				"bin.dat":   "MZ\x00\x01",
				"big.txt":   strings.Repeat("b", 17),
				"small.txt": strings.Repeat("s", 16),
			},
			roots: []string{"."},
			opts:  WalkOptions{MaxFileSize: 16},
			want:  []string{"small.txt"},
			skips: map[string]string{"bin.dat": "binary", "big.txt": "larger than 16 bytes"},
		},
		{
			name:  "late binary byte",
			files: map[string]string{"late.dat": strings.Repeat("t", binaryHead-1) + "\x00" + strings.Repeat("t", 100)},
			roots: []string{"."},
			skips: map[string]string{"late.dat": "binary"},
		},
		{
			name:  "nul after the head is text",
			files: map[string]string{"long.txt": strings.Repeat("t", binaryHead) + "\x00"},
			roots: []string{"."},
			want:  []string{"long.txt"},
		},
		{
			name:  "directory root as given",
			files: map[string]string{"repo/a/b.txt": "x", "repo/c.txt": "x"},
			roots: []string{"repo"},
			want:  []string{"repo/a/b.txt", "repo/c.txt"},
		},
		{
			name:  "directory root cleaned",
			files: map[string]string{"repo/a/b.txt": "x"},
			roots: []string{"./repo/"},
			want:  []string{"repo/a/b.txt"},
		},
		{
			name:  "file roots and order of roots",
			files: map[string]string{"repo/a/b.txt": "x", "z.txt": "x", "repo/.gitignore": "b.txt\n", "repo/.git/HEAD": "x"},
			roots: []string{"z.txt", "repo/a/b.txt", "repo/a"},
			want:  []string{"z.txt", "repo/a/b.txt"},
		},
		{
			name:  "ignored file given as a root",
			files: map[string]string{"app.log": "x", ".gitignore": "*.log\n"},
			roots: []string{"app.log"},
			want:  []string{"app.log"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			walkTree(t, dir, tt.files)
			t.Chdir(dir)
			items := walkCollect(t, Files(tt.roots, tt.opts))
			if got := walkPaths(items); !slices.Equal(got, tt.want) {
				t.Errorf("scanned %q, want %q", got, tt.want)
			}
			skips := map[string]string{}
			for _, it := range items {
				if it.Skip != "" {
					skips[it.Path] = it.Skip
					continue
				}
				name := filepath.FromSlash(it.Path)
				b, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				if it.Text != string(b) {
					t.Errorf("%s: loaded %d bytes, want %d", it.Path, len(it.Text), len(b))
				}
			}
			if len(skips) != len(tt.skips) {
				t.Errorf("skips %q, want %q", skips, tt.skips)
			}
			for p, why := range tt.skips {
				if skips[p] != why {
					t.Errorf("%s: skip %q, want %q", p, skips[p], why)
				}
			}
		})
	}
}

func TestFilesSymlinks(t *testing.T) {
	dir := t.TempDir()
	walkTree(t, dir, map[string]string{"real/a.txt": "x", "outside/b.txt": "x"})
	for _, l := range []struct{ target, name string }{
		{"a.txt", "real/link.txt"},
		{filepath.Join(dir, "outside"), "real/dirlink"},
		{"real", "rootlink"},
	} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	tests := []struct {
		root string
		want []string
	}{
		{"real", []string{"real/a.txt"}},
		{"rootlink", []string{"rootlink/a.txt"}},
		{"real/link.txt", []string{"real/link.txt"}},
	}
	for _, tt := range tests {
		got := walkPaths(walkCollect(t, Files([]string{tt.root}, WalkOptions{})))
		if !slices.Equal(got, tt.want) {
			t.Errorf("root %s: scanned %q, want %q", tt.root, got, tt.want)
		}
	}
}

func TestFilesHugeFileNotRead(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "huge.bin")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: large on paper, nothing on disk.
	if err := f.Truncate(DefaultMaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	chunks, err := walkChunks(context.Background(), Files([]string{dir}, WalkOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	// Gone before Load: a Load that opened the file would say so.
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	items := walkLoad(t, chunks)
	if len(items) != 1 || items[0].Skip != "larger than 10 MiB" {
		t.Fatalf("got %+v, want one skip: larger than 10 MiB", items)
	}
}

func TestFilesUnreadable(t *testing.T) {
	dir := t.TempDir()
	walkTree(t, dir, map[string]string{
		"gone.txt":       "x",
		"locked.txt":     "x",
		"lockeddir/a.go": "x",
		"ok.txt":         "x",
	})
	for _, name := range []string{"locked.txt", "lockeddir"} {
		if err := os.Chmod(filepath.Join(dir, name), 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(filepath.Join(dir, name), 0o755) })
	}
	t.Chdir(dir)
	chunks, err := walkChunks(context.Background(), Files([]string{"."}, WalkOptions{}))
	if err != nil {
		t.Fatalf("an unreadable file stopped the walk: %v", err)
	}
	if err := os.Remove("gone.txt"); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range walkLoad(t, chunks) {
		got[it.Path] = it.Skip
	}
	want := map[string]string{"gone.txt": "cannot read: no such file or directory", "ok.txt": ""}
	// Permissions do not stop a privileged user; expect what this one
	// can do.
	if _, err := os.ReadFile("locked.txt"); err != nil {
		want["locked.txt"] = "cannot read: permission denied"
	} else {
		want["locked.txt"] = ""
	}
	if _, err := os.ReadDir("lockeddir"); err != nil {
		want["lockeddir"] = "cannot read directory: permission denied"
	} else {
		want["lockeddir/a.go"] = ""
	}
	if len(got) != len(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for p, why := range want {
		if r, ok := got[p]; !ok || r != why {
			t.Errorf("%s: skip %q (present %v), want %q", p, r, ok, why)
		}
	}
}

func TestFilesMissingRoot(t *testing.T) {
	dir := t.TempDir()
	walkTree(t, dir, map[string]string{"ok/a.txt": "x"})
	missing := filepath.Join(dir, "missing")
	chunks, err := walkChunks(context.Background(), Files([]string{filepath.Join(dir, "ok"), missing}, WalkOptions{}))
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want one that names %s and is ErrNotExist", err, missing)
	}
	if len(chunks) != 0 {
		t.Errorf("emitted %d chunks before failing on a root", len(chunks))
	}
}

func TestFilesStops(t *testing.T) {
	dir := t.TempDir()
	walkTree(t, dir, map[string]string{"a.txt": "x", "b/c.txt": "x", "d.txt": "x"})
	errStop := errors.New("stop")
	tests := []struct {
		name    string
		cancel  bool // cancel before the walk
		onEmit  func(cancel context.CancelFunc) error
		want    error
		wantLen int
	}{
		{"cancelled before", true, func(context.CancelFunc) error { return nil }, context.Canceled, 0},
		{"cancelled by the first emit", false, func(c context.CancelFunc) error { c(); return nil }, context.Canceled, 1},
		{"emit error", false, func(context.CancelFunc) error { return errStop }, errStop, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			n := 0
			err := Files([]string{dir}, WalkOptions{})(ctx, func(Chunk) error {
				n++
				return tt.onEmit(cancel)
			})
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if n != tt.wantLen {
				t.Errorf("emitted %d chunks, want %d", n, tt.wantLen)
			}
		})
	}
}

// walkFake returns n random characters of alphabet, made at run time so
// that no key-shaped literal is in the source.
func walkFake(t *testing.T, alphabet string, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// walkAWSKeys returns a fake AWS key pair the aws rules accept.
func walkAWSKeys(t *testing.T) (id, secret string) {
	t.Helper()
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for {
		id = "AKIA" + walkFake(t, upper, 16)
		secret = walkFake(t, b64, 40)
		if detect.ShannonEntropy(id) >= 3.5 && detect.ShannonEntropy(secret) >= 4.5 &&
			strings.ContainsAny(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
			strings.ContainsAny(secret, "abcdefghijklmnopqrstuvwxyz") &&
			strings.ContainsAny(secret, "0123456789") {
			return id, secret
		}
	}
}

func TestFilesScan(t *testing.T) {
	id, secret := walkAWSKeys(t)
	id2, secret2 := walkAWSKeys(t)
	keys := func(id, secret string) string {
		return "[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n"
	}
	dir := t.TempDir()
	walkTree(t, dir, map[string]string{
		".gitignore":        "local/\n",
		"conf/credentials":  "# deploy user\n" + keys(id, secret),
		"local/credentials": keys(id2, secret2),
		"logo.png":          "\x89PNG\x00\x00" + id,
	})
	t.Chdir(dir)
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		opts  WalkOptions
		files []string
	}{
		{WalkOptions{}, []string{"conf/credentials"}},
		{WalkOptions{NoGitignore: true}, []string{"conf/credentials", "local/credentials"}},
	}
	for _, tt := range tests {
		res, err := s.Run(context.Background(), Files([]string{"."}, tt.opts), nil)
		if err != nil {
			t.Fatal(err)
		}
		type where struct {
			file, rule string
			line       int
		}
		var got []where
		for _, f := range res.Findings {
			if f.RuleID == "aws_access_key_id" || f.RuleID == "aws_secret_access_key" {
				got = append(got, where{f.File, f.RuleID, f.Line})
			}
			if f.File == "local/credentials" && !tt.opts.NoGitignore {
				t.Errorf("finding in an ignored file: %v", f)
			}
		}
		var want []where
		for _, file := range tt.files {
			line := 3
			if file == "local/credentials" {
				line = 2
			}
			want = append(want, where{file, "aws_access_key_id", line}, where{file, "aws_secret_access_key", line + 1})
		}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: aws findings %v, want %v", tt.opts, got, want)
		}
		wantSkip := []Skip{{Path: "logo.png", Reason: "binary"}}
		if !slices.Equal(res.Skipped, wantSkip) {
			t.Errorf("%+v: skipped %v, want %v", tt.opts, res.Skipped, wantSkip)
		}
		if res.Chunks != 1+len(tt.files) {
			t.Errorf("%+v: scanned %d chunks, want %d", tt.opts, res.Chunks, 1+len(tt.files))
		}
	}
}
