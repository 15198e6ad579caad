package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// DefaultMaxFileSize is the size above which files are skipped unless
// [WalkOptions] say otherwise: secrets live in configuration and source
// files, and what is bigger is data, a bundle or a build output.
const DefaultMaxFileSize = 10 << 20

// binaryHead is how much of a file [IsBinary] looks at; a file is read
// that far before the rest, so a binary one is given up early.
const binaryHead = 8000

// WalkOptions configure [Files].
type WalkOptions struct {
	// MaxFileSize is the size in bytes above which a file is skipped,
	// with a note, without being read; zero or less means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// NoGitignore scans files that .gitignore files and the repository's
	// .git/info/exclude would leave out. Ignore rules are on by default,
	// because what git ignores is mostly generated or vendored.
	NoGitignore bool
}

// Files returns a source over the files under roots, in the order given.
//
// A directory root is walked in lexical order. Hidden files are scanned
// (a secret in .env is still a secret), but .git directories are never
// entered: history is the git source's business. Symbolic links inside a
// root are skipped without a note, so that a scan stays inside its roots
// and reads nothing twice; a root that is itself a link is followed.
// Other files that are not regular (sockets, devices, pipes) are skipped
// without a note too.
//
// Unless opts.NoGitignore is set, files are left out the way git leaves
// them out: each .gitignore applies to its directory and below, and when
// the root is inside a git work tree, that repository's
// .git/info/exclude and the .gitignore files between its top and the root
// apply as well. Personal excludes (core.excludesFile) are not read, so a
// scan finds the same on every machine. A root is scanned even when an
// ignore pattern matches it: the user asked for it by name.
//
// A chunk's Path is the root as given, cleaned and slash-separated, joined
// with the file's path below it: scanning "." reports "src/a.go",
// scanning "repo" reports "repo/src/a.go", and a file root is reported as
// given. Files are read by the chunk's Load, in the scanner's workers.
// Binary and too large files, and files or directories that cannot be
// read, are skipped with a [SkipError] note rather than stopping the scan.
// A root that does not exist is an error, reported before anything is
// emitted.
func Files(roots []string, opts WalkOptions) Source {
	maxSize := opts.MaxFileSize
	if maxSize <= 0 {
		maxSize = DefaultMaxFileSize
	}
	return func(ctx context.Context, emit func(Chunk) error) error {
		infos := make([]fs.FileInfo, len(roots))
		for i, root := range roots {
			fi, err := os.Stat(root)
			if err != nil {
				return fmt.Errorf("scan root %q: %w", root, err)
			}
			infos[i] = fi
		}
		for i, root := range roots {
			if err := ctx.Err(); err != nil {
				return err
			}
			show := path.Clean(filepath.ToSlash(root))
			if !infos[i].IsDir() {
				c := Chunk{Path: show, Load: fileLoader(root, infos[i], maxSize)}
				if err := emit(c); err != nil {
					return err
				}
				continue
			}
			w := &walker{ctx: ctx, emit: emit, show: show, maxSize: maxSize, gitignore: !opts.NoGitignore}
			if err := w.walk(root); err != nil {
				return err
			}
		}
		return nil
	}
}

// walker walks one directory root.
type walker struct {
	ctx       context.Context
	emit      func(Chunk) error
	show      string // the root as chunks' paths begin
	maxSize   int64
	gitignore bool

	dir string // the directory walked: the root, or where it links to
	// prefix is the path of the root below the directory ignore patterns
	// are relative to: the top of the work tree, or the root itself.
	prefix []string
	// patterns are the ignore patterns in force, lowest priority first;
	// frames record where each directory's own patterns begin, so they
	// are dropped when the walk leaves it.
	patterns []gitignore.Pattern
	frames   []ignoreFrame
}

// ignoreFrame is a directory (slash path below the root) whose .gitignore
// added the patterns from index start on.
type ignoreFrame struct {
	dir   string
	start int
}

func (w *walker) walk(root string) error {
	w.dir = root
	if fi, err := os.Lstat(root); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		// WalkDir does not follow a root that is a link; the user named
		// it, so go where it points.
		target, err := filepath.EvalSymlinks(root)
		if err != nil {
			return fmt.Errorf("scan root %q: %w", root, err)
		}
		w.dir = target
	}
	if w.gitignore {
		w.loadRepoPatterns()
	}
	return filepath.WalkDir(w.dir, w.visit)
}

func (w *walker) visit(p string, d fs.DirEntry, err error) error {
	if err != nil {
		if d == nil || p == w.dir {
			return fmt.Errorf("scan root %q: %w", w.show, err)
		}
		// The directory could not be listed: note it and go on with
		// what else there is.
		return w.emit(Chunk{Path: w.chunkPath(p), Load: skipLoader("cannot read directory: " + errReason(err))})
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if p == w.dir {
		w.pushGitignore(p, ".")
		return nil
	}
	rel, err := filepath.Rel(w.dir, p)
	if err != nil {
		return fmt.Errorf("scan %q: %w", p, err)
	}
	rel = filepath.ToSlash(rel)
	switch {
	case d.IsDir():
		if d.Name() == ".git" {
			return filepath.SkipDir
		}
		if w.ignored(rel, true) {
			return filepath.SkipDir
		}
		w.pushGitignore(p, rel)
		return nil
	case !d.Type().IsRegular():
		return nil
	case w.ignored(rel, false):
		return nil
	}
	fi, err := d.Info()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Removed since the directory was listed.
		return nil
	case err != nil:
		return w.emit(Chunk{Path: w.chunkPath(p), Load: skipLoader("cannot read: " + errReason(err))})
	}
	return w.emit(Chunk{Path: path.Join(w.show, rel), Load: fileLoader(p, fi, w.maxSize)})
}

// chunkPath returns the path a chunk for file p shows.
func (w *walker) chunkPath(p string) string {
	rel, err := filepath.Rel(w.dir, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return path.Join(w.show, filepath.ToSlash(rel))
}

// ignored reports whether the entry at rel, a slash path below the root,
// is left out by the ignore patterns of its parent directories.
func (w *walker) ignored(rel string, isDir bool) bool {
	if !w.gitignore {
		return false
	}
	// Leave the directories the walk has come out of.
	for n := len(w.frames); n > 0; n-- {
		f := w.frames[n-1]
		if f.dir == "." || strings.HasPrefix(rel, f.dir+"/") {
			break
		}
		w.patterns = w.patterns[:f.start]
		w.frames = w.frames[:n-1]
	}
	if len(w.patterns) == 0 {
		return false
	}
	elems := append(w.prefix[:len(w.prefix):len(w.prefix)], strings.Split(rel, "/")...)
	return gitignore.NewMatcher(w.patterns).Match(elems, isDir)
}

// pushGitignore adds the patterns of the .gitignore in directory p, whose
// slash path below the root is rel.
func (w *walker) pushGitignore(p, rel string) {
	if !w.gitignore {
		return
	}
	domain := w.prefix[:len(w.prefix):len(w.prefix)]
	if rel != "." {
		domain = append(domain, strings.Split(rel, "/")...)
	}
	start := len(w.patterns)
	w.patterns = appendIgnoreFile(w.patterns, filepath.Join(p, ".gitignore"), domain)
	if len(w.patterns) > start {
		w.frames = append(w.frames, ignoreFrame{dir: rel, start: start})
	}
}

// loadRepoPatterns finds the git work tree the root is in, if any, and
// loads the patterns that apply from above the root: the repository's
// info/exclude and the .gitignore files from the top of the work tree
// down to the root's parent.
func (w *walker) loadRepoPatterns() {
	abs, err := filepath.Abs(w.dir)
	if err != nil {
		return
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	top, ok := workTreeTop(abs)
	if !ok {
		return
	}
	rel, err := filepath.Rel(top, abs)
	if err != nil {
		return
	}
	if rel != "." {
		w.prefix = strings.Split(filepath.ToSlash(rel), "/")
	}
	if gitDir, ok := commonGitDir(top); ok {
		w.patterns = appendIgnoreFile(w.patterns, filepath.Join(gitDir, "info", "exclude"), nil)
	}
	dir := top
	for i := range w.prefix {
		w.patterns = appendIgnoreFile(w.patterns, filepath.Join(dir, ".gitignore"), w.prefix[:i])
		dir = filepath.Join(dir, w.prefix[i])
	}
}

// workTreeTop returns the nearest directory at or above dir (an absolute
// path) that holds a .git directory or file.
func workTreeTop(dir string) (string, bool) {
	for {
		if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// commonGitDir returns the git directory of the work tree at top that
// holds info/exclude. .git is that directory, or, in a linked work tree or
// a submodule, a file naming the git directory, which for a linked work
// tree names the shared one in its commondir file.
func commonGitDir(top string) (string, bool) {
	dotGit := filepath.Join(top, ".git")
	fi, err := os.Stat(dotGit)
	if err != nil {
		return "", false
	}
	if fi.IsDir() {
		return dotGit, true
	}
	b, err := os.ReadFile(dotGit)
	if err != nil {
		return "", false
	}
	gitDir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
	if !ok {
		return "", false
	}
	gitDir = relativeTo(top, strings.TrimSpace(gitDir))
	if c, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		gitDir = relativeTo(gitDir, strings.TrimSpace(string(c)))
	}
	return gitDir, true
}

// relativeTo resolves p against dir unless it is absolute.
func relativeTo(dir, p string) string {
	p = filepath.FromSlash(p)
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// appendIgnoreFile appends the patterns of the gitignore-format file at
// name, relative to domain. A file that cannot be read adds nothing: the
// scan then covers more, which is the safe side.
func appendIgnoreFile(ps []gitignore.Pattern, name string, domain []string) []gitignore.Pattern {
	b, err := os.ReadFile(name)
	if err != nil {
		return ps
	}
	text := strings.TrimPrefix(string(b), "\ufeff")
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps
}

// fileLoader returns a Chunk.Load for the file at name, whose size when
// listed was given by fi: a file already too large is never opened.
func fileLoader(name string, fi fs.FileInfo, maxSize int64) func() (string, error) {
	switch {
	case !fi.Mode().IsRegular():
		return skipLoader("not a regular file")
	case fi.Size() > maxSize:
		return skipLoader(tooLarge(maxSize))
	}
	return func() (string, error) { return readFile(name, maxSize) }
}

func skipLoader(reason string) func() (string, error) {
	return func() (string, error) { return "", &SkipError{Reason: reason} }
}

// readFile reads the file at name, giving up on it with a SkipError if it
// cannot be read, has grown past maxSize, or turns out binary.
func readFile(name string, maxSize int64) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", &SkipError{Reason: "cannot read: " + errReason(err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return "", &SkipError{Reason: "cannot read: " + errReason(err)}
	case !fi.Mode().IsRegular():
		return "", &SkipError{Reason: "not a regular file"}
	case fi.Size() > maxSize:
		return "", &SkipError{Reason: tooLarge(maxSize)}
	}
	// One buffer of the size the file has, and a byte more, which tells
	// a file that grew from one that fits: read in one go, with no
	// intermediate copy. A file that grew is read in further steps.
	// The head decides on binary content before the rest is read.
	buf := make([]byte, 0, min(fi.Size(), maxSize)+1)
	checked := false
	for int64(len(buf)) <= maxSize {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(len(buf)+1, int(maxSize)+1-len(buf)))
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			return "", &SkipError{Reason: "cannot read: " + errReason(err)}
		}
		if !checked && (len(buf) >= binaryHead || eof) {
			if IsBinary(buf) {
				return "", &SkipError{Reason: "binary"}
			}
			checked = true
		}
		if eof {
			break
		}
	}
	if int64(len(buf)) > maxSize {
		return "", &SkipError{Reason: tooLarge(maxSize)}
	}
	if len(buf) == 0 {
		return "", nil
	}
	// The buffer is never written again: the string may share it.
	return unsafe.String(&buf[0], len(buf)), nil
}

// errReason returns what went wrong in err without the path, which the
// skip note carries already.
func errReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// tooLarge is the skip reason for a file over n bytes.
func tooLarge(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("larger than %d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("larger than %d KiB", n>>10)
	default:
		return fmt.Sprintf("larger than %d bytes", n)
	}
}
