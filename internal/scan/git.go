package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxChunk is the most bytes of added lines that one file in one
// commit may have before it is skipped rather than scanned: generated or
// vendored blobs of that size are seldom where keys leak, and they would
// hold a worker for long.
const DefaultMaxChunk = 10 << 20

// GitOptions select the history [GitHistory] scans.
type GitOptions struct {
	// Since, if set, limits the scan to commits more recent than this
	// date, in any form git's --since accepts ("2024-01-31", "2 weeks
	// ago").
	Since string
	// Range, if set, is the revision range to scan ("main..HEAD", a
	// single commit or branch), in place of every ref of the repository.
	Range string
	// MaxChunk is the most bytes of lines a commit may add to one file
	// before they are skipped; 0 or less means [DefaultMaxChunk].
	MaxChunk int
}

// commitMarker starts the line git log prints for each commit, ahead of
// its diff. No line of a diff header or hunk starts with a NUL byte, and
// author names and e-mail addresses cannot contain one, so the fields are
// separated by NULs as well.
const commitMarker = "\x00commit "

// gitLogFormat makes git log print the commit marker line.
const gitLogFormat = "--format=%x00commit %H%x00%an%x00%ae%x00%aI"

// diffFlags fix the shape of the diffs git prints whatever the user's
// configuration says: no context lines, no colour, no external diff or
// text conversion programs, the a/ b/ prefixes the parser expects, paths
// from the top of the repository, and rename detection, so that a moved
// file shows only the lines that changed rather than all of them again.
var diffFlags = []string{
	"-U0", "--no-color", "--no-ext-diff", "--no-textconv", "-M",
	"--src-prefix=a/", "--dst-prefix=b/", "--no-relative",
}

// GitHistory returns a source of the lines each commit of the git
// repository at dir added: one chunk per commit and file, whose Lines are
// the lines' numbers in the file as that commit left it, with the commit
// set. Paths are relative to the top of the repository.
//
// Every commit reachable from any ref is read, or those of opts.Range.
// Merge commits contribute no lines: what a merge brings in was added by
// the commits merged, which are scanned themselves; only lines written in
// a merge commit itself, such as a conflict resolution, are not seen.
// Binary files and deletions add no lines. A file whose added lines
// exceed opts.MaxChunk bytes is reported as skipped.
//
// The source runs the git command; it fails with a clear error when dir is
// not a repository or git is not installed.
func GitHistory(dir string, opts GitOptions) Source {
	return func(ctx context.Context, emit func(Chunk) error) error {
		args := []string{"-C", dir, "-c", "core.quotePath=false", "log", "-p",
			"--full-history", "--no-show-signature", gitLogFormat}
		args = append(args, diffFlags...)
		if opts.Since != "" {
			args = append(args, "--since="+opts.Since)
		}
		if opts.Range == "" {
			args = append(args, "--all")
		} else {
			if strings.HasPrefix(opts.Range, "-") {
				return fmt.Errorf("scan git history: range %q starts with '-'; give a revision range such as main..HEAD", opts.Range)
			}
			args = append(args, "--end-of-options", opts.Range, "--")
		}
		return runGit(ctx, dir, args, opts.MaxChunk, emit)
	}
}

// GitStaged returns a source of the lines staged for the next commit of
// the git repository at dir (what `git diff --cached` shows as added), one
// chunk per file, with no commit. It is what a pre-commit hook scans.
func GitStaged(dir string) Source {
	return func(ctx context.Context, emit func(Chunk) error) error {
		if err := gitCheckRepo(ctx, dir); err != nil {
			return err
		}
		args := []string{"-C", dir, "-c", "core.quotePath=false", "diff", "--cached"}
		args = append(args, diffFlags...)
		return runGit(ctx, dir, args, 0, emit)
	}
}

// runGit runs git with args and parses its output as it comes.
func runGit(ctx context.Context, dir string, args []string, maxChunk int, emit func(Chunk) error) error {
	// A derived context stops git when parsing ends early: git would
	// otherwise block writing to a pipe nobody reads, and Wait with it.
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	cmd, stderr := gitCmd(gctx, args)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("scan git: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return gitError(dir, args, "", err)
	}
	perr := newDiffParser(stdout, maxChunk).parse(func(c Chunk) error {
		// Git is killed when ctx is done, but the output it wrote
		// before may still be read; none of it is emitted.
		if err := ctx.Err(); err != nil {
			return err
		}
		return emit(c)
	})
	if perr != nil {
		stop()
	}
	werr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case perr != nil:
		return perr
	case werr != nil:
		return gitError(dir, args, stderr.String(), werr)
	}
	return nil
}

// gitCheckRepo fails unless dir is in a git repository. Some commands
// need the check first: outside a repository git diff compares files
// instead, and only complains about its options.
func gitCheckRepo(ctx context.Context, dir string) error {
	args := []string{"-C", dir, "rev-parse", "--git-dir"}
	cmd, stderr := gitCmd(ctx, args)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return gitError(dir, args, stderr.String(), err)
	}
	return nil
}

// gitCmd prepares git with args; its standard error is kept in the
// returned buffer, up to a few kilobytes.
func gitCmd(ctx context.Context, args []string) (*exec.Cmd, *headWriter) {
	cmd := exec.CommandContext(ctx, "git", args...)
	// Messages in English, so that the one for "not a repository" is
	// recognised; the diff itself does not depend on the locale.
	cmd.Env = append(os.Environ(), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0")
	cmd.WaitDelay = 5 * time.Second
	stderr := &headWriter{max: 4 << 10}
	cmd.Stderr = stderr
	return cmd, stderr
}

// gitError explains why git with args failed, given what it printed on
// standard error.
func gitError(dir string, args []string, stderr string, err error) error {
	msg := gitMessage(stderr)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return fmt.Errorf("scan git: git is not installed or not on PATH; install it or run without --git to scan files: %w", err)
	case strings.Contains(msg, "not a git repository"):
		return fmt.Errorf("scan git: %s is not a git repository; run without --git to scan files (git: %s)", dir, msg)
	case msg != "":
		return fmt.Errorf("scan git: git %s failed: %s: %w", gitCommand(args), msg, err)
	default:
		return fmt.Errorf("scan git: git %s failed: %w", gitCommand(args), err)
	}
}

// gitMessage shortens git's standard error to its first lines: the
// error comes first, and a usage text after it would bury it.
func gitMessage(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	return strings.Join(lines[:min(len(lines), 4)], "; ")
}

// gitCommand names the git subcommand in args, for errors.
func gitCommand(args []string) string {
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-C", "-c":
			i++
		default:
			return args[i]
		}
	}
	return ""
}

// headWriter keeps the first max bytes written to it and drops the rest,
// so a chatty git cannot fill memory through its standard error.
type headWriter struct {
	buf bytes.Buffer
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (w *headWriter) String() string { return w.buf.String() }

// parseDiff reads unified diffs from r, as git diff and git log -p (with
// the commit marker format) print them, and emits one chunk per file and
// commit with the added lines. It never fails on malformed input: what it
// cannot read as a diff it passes over. It returns emit's error or one
// reading r.
func parseDiff(r io.Reader, emit func(Chunk) error) error {
	return newDiffParser(r, 0).parse(emit)
}

// diffParser reads a diff line by line; it keeps one file's added lines
// at a time, never more than max bytes of them.
type diffParser struct {
	r    *bufio.Reader
	max  int
	long []byte // a line longer than r's buffer, cut at max+1 bytes

	commit *Commit
	// gitFile is true in a section that began with "diff --git", whose
	// paths carry the b/ prefix.
	gitFile bool
	path    string
	hasPath bool
	text    strings.Builder
	lines   []int
	added   int // added lines of the file
	size    int // their bytes with newlines, counted up to max+1
	// In a hunk: lines of the old and new file still to come, and the
	// number in the new file of the next line.
	oldLeft, newLeft, next int
}

func newDiffParser(r io.Reader, maxChunk int) *diffParser {
	if maxChunk <= 0 {
		maxChunk = DefaultMaxChunk
	}
	// Far above any real chunk, and low enough that sizes cannot overflow.
	maxChunk = min(maxChunk, 1<<30)
	return &diffParser{r: bufio.NewReaderSize(r, 64<<10), max: maxChunk}
}

func (p *diffParser) parse(emit func(Chunk) error) error {
	for {
		line, err := p.line()
		if err == io.EOF {
			return p.flush(emit)
		}
		if err != nil {
			return fmt.Errorf("scan git: read diff: %w", err)
		}
		if p.inHunk() && p.hunkLine(line) {
			continue
		}
		p.oldLeft, p.newLeft = 0, 0
		if err := p.header(line, emit); err != nil {
			return err
		}
	}
}

// line returns the next line without its newline. A line longer than max
// is cut to max+1 bytes, which is enough to tell that it is too long.
func (p *diffParser) line() ([]byte, error) {
	b, err := p.r.ReadSlice('\n')
	switch {
	case err == nil:
		return b[:len(b)-1], nil
	case err == io.EOF && len(b) > 0:
		return b, nil
	case err != bufio.ErrBufferFull:
		return nil, err
	}
	p.long = append(p.long[:0], b[:min(len(b), p.max+1)]...)
	for {
		b, err = p.r.ReadSlice('\n')
		if err == nil {
			b = b[:len(b)-1]
		}
		if room := p.max + 1 - len(p.long); room > 0 {
			p.long = append(p.long, b[:min(len(b), room)]...)
		}
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil, io.EOF:
			return p.long, nil
		default:
			return nil, err
		}
	}
}

func (p *diffParser) inHunk() bool { return p.oldLeft > 0 || p.newLeft > 0 }

// hunkLine takes a line of the current hunk and reports whether it was
// one; a line of another kind ends the hunk early.
func (p *diffParser) hunkLine(line []byte) bool {
	if len(line) == 0 {
		// Some tools print an empty context line as an empty line.
		if p.oldLeft == 0 || p.newLeft == 0 {
			return false
		}
		p.oldLeft--
		p.newLeft--
		p.next++
		return true
	}
	switch line[0] {
	case '+':
		if p.newLeft == 0 {
			return false
		}
		p.add(line[1:])
		p.newLeft--
		p.next++
	case '-':
		if p.oldLeft == 0 {
			return false
		}
		p.oldLeft--
	case ' ':
		if p.oldLeft == 0 || p.newLeft == 0 {
			return false
		}
		p.oldLeft--
		p.newLeft--
		p.next++
	case '\\':
		// "\ No newline at end of file".
	default:
		return false
	}
	return true
}

// add keeps an added line, unless the file's added lines have grown too
// big, in which case only their size is counted.
func (p *diffParser) add(line []byte) {
	if !p.hasPath {
		return
	}
	p.added++
	if p.size > p.max {
		return
	}
	n := len(line)
	if p.added > 1 {
		n++
	}
	if p.size+n > p.max {
		p.text = strings.Builder{}
		p.lines = nil
		p.size = p.max + 1
		return
	}
	p.size += n
	if p.added > 1 {
		p.text.WriteByte('\n')
	}
	p.text.Write(line)
	p.lines = append(p.lines, p.next)
}

// header takes a line outside hunks.
func (p *diffParser) header(line []byte, emit func(Chunk) error) error {
	switch {
	case bytes.HasPrefix(line, []byte(commitMarker)):
		if err := p.flush(emit); err != nil {
			return err
		}
		p.commit = parseCommitMarker(line[len(commitMarker):])
		p.hasPath = false
	case bytes.HasPrefix(line, []byte("diff ")):
		if err := p.flush(emit); err != nil {
			return err
		}
		// Combined diffs of merges ("diff --cc") are not read: their
		// hunks have another shape, and their new lines came from the
		// merged commits.
		p.gitFile = bytes.HasPrefix(line, []byte("diff --git "))
		p.hasPath = false
	case bytes.HasPrefix(line, []byte("--- ")):
		if err := p.flush(emit); err != nil {
			return err
		}
		p.hasPath = false
	case bytes.HasPrefix(line, []byte("+++ ")):
		if err := p.flush(emit); err != nil {
			return err
		}
		p.path, p.hasPath = diffPath(line[len("+++ "):], p.gitFile)
	case bytes.HasPrefix(line, []byte("@@ ")):
		old, start, n, ok := parseHunkHeader(line)
		if !ok {
			return nil
		}
		p.oldLeft, p.newLeft, p.next = old, n, start
	}
	return nil
}

// flush emits the current file's added lines, if any, and forgets them.
func (p *diffParser) flush(emit func(Chunk) error) error {
	added := p.added
	text, lines, size := p.text.String(), p.lines, p.size
	p.text = strings.Builder{}
	p.lines, p.added, p.size = nil, 0, 0
	if added == 0 {
		return nil
	}
	c := Chunk{Path: p.path, Commit: p.commit}
	if size > p.max {
		reason := fmt.Sprintf("added lines larger than %d bytes", p.max)
		if p.commit != nil {
			reason += " in commit " + p.commit.Short()
		}
		c.Load = func() (string, error) { return "", &SkipError{Reason: reason} }
	} else {
		c.Text, c.Lines = text, lines
	}
	return emit(c)
}

// parseCommitMarker reads the fields of a commit marker line after its
// prefix: hash, author name, e-mail and ISO 8601 date, separated by NULs.
// Missing or malformed fields stay empty.
func parseCommitMarker(b []byte) *Commit {
	f := strings.SplitN(string(b), "\x00", 4)
	f = append(f, "", "", "")
	c := &Commit{Hash: f[0], Author: f[1], Email: f[2]}
	if t, err := time.Parse(time.RFC3339, strings.TrimSpace(f[3])); err == nil {
		c.Date = t
	}
	return c
}

// parseHunkHeader reads "@@ -a,b +c,d @@": the number of old lines b, the
// first new line c and the number of new lines d (1 when ",d" is left
// out).
func parseHunkHeader(line []byte) (oldLines, newStart, newLines int, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte("@@ -"))
	if !ok {
		return 0, 0, 0, false
	}
	oldRange, rest, ok := bytes.Cut(rest, []byte(" +"))
	if !ok {
		return 0, 0, 0, false
	}
	newRange, _, ok := bytes.Cut(rest, []byte(" @@"))
	if !ok {
		return 0, 0, 0, false
	}
	_, oldLines, ok = parseRange(oldRange)
	if !ok {
		return 0, 0, 0, false
	}
	newStart, newLines, ok = parseRange(newRange)
	return oldLines, newStart, newLines, ok
}

// maxLineNumber bounds the numbers of a hunk header, so that counting
// lines cannot overflow.
const maxLineNumber = 1 << 30

// parseRange reads "start,count" or "start".
func parseRange(b []byte) (start, count int, ok bool) {
	s, c, hasCount := bytes.Cut(b, []byte(","))
	start, ok = parseLineNumber(s)
	if !ok {
		return 0, 0, false
	}
	count = 1
	if hasCount {
		if count, ok = parseLineNumber(c); !ok {
			return 0, 0, false
		}
	}
	return start, count, true
}

func parseLineNumber(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 || b[0] < '0' || b[0] > '9' {
		return 0, false
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n > maxLineNumber {
		return 0, false
	}
	return n, true
}

// diffPath reads the path of a "+++ " line: ok is false for /dev/null,
// the new side of a deletion. Git quotes paths with unusual bytes in C
// style and may end the line with a tab; other tools put a date after
// one. In a git diff the b/ prefix is removed.
func diffPath(b []byte, gitFile bool) (string, bool) {
	var path string
	if len(b) > 0 && b[0] == '"' {
		s, ok := unquoteC(b)
		if !ok {
			return "", false
		}
		path = s
	} else {
		if i := bytes.IndexByte(b, '\t'); i >= 0 {
			b = b[:i]
		}
		path = string(bytes.TrimRight(b, "\r"))
	}
	if path == "/dev/null" || path == "" {
		return "", false
	}
	if gitFile {
		path = strings.TrimPrefix(path, "b/")
	}
	return path, path != ""
}

// unquoteC decodes a C-style quoted string at the start of b, as git
// writes paths: backslash escapes \a \b \t \n \v \f \r \" \\ and three
// octal digits for any byte. Anything after the closing quote is ignored.
func unquoteC(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' {
		return "", false
	}
	var out []byte
	for i := 1; i < len(b); i++ {
		c := b[i]
		switch c {
		case '"':
			return string(out), true
		case '\\':
		default:
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return "", false
		}
		switch e := b[i]; e {
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		case 'v':
			out = append(out, '\v')
		case 'f':
			out = append(out, '\f')
		case 'r':
			out = append(out, '\r')
		case '"', '\\':
			out = append(out, e)
		case '0', '1', '2', '3':
			if i+2 >= len(b) || !isOctal(b[i+1]) || !isOctal(b[i+2]) {
				return "", false
			}
			out = append(out, (e-'0')<<6|(b[i+1]-'0')<<3|(b[i+2]-'0'))
			i += 2
		default:
			return "", false
		}
	}
	return "", false
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }
