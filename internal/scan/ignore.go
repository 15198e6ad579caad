package scan

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/wardenproject/warden/internal/detect"
)

// IgnoreFile is the name of the ignore file looked for at the top of a
// scan.
const IgnoreFile = ".wardenignore"

// Ignore holds the rules of a .wardenignore file, which drop findings
// that are known and accepted. The file has one entry a line:
//
//	# a comment; blank lines are ignored
//	docs/examples/**        findings in files matching the pattern are dropped
//	rule:generic_secret     the rule is switched off everywhere
//	rule:jwt test/**        the rule is switched off in files matching the pattern
//	fp:<32 hex digits>      a secret, by the fingerprint reports print
//
// Patterns have the syntax of .gitignore and are matched against the
// paths reports show, relative to the scan root: a pattern without a
// slash matches a file or directory name at any depth, a leading slash
// anchors it to the root, a trailing slash matches directories only, **
// matches any number of directories, and ! before a pattern keeps what
// an earlier pattern dropped. A pattern that begins with rule: or fp: is
// written with a backslash before it (\rule:x). Comments take whole lines
// only: a # after an entry is part of it.
//
// A fingerprint stands for one secret under one rule, wherever it is
// found (see [Fingerprint]). Rule IDs are those of package detect; an unknown one is an error, so a
// typo does not silently leave a rule on. The zero Ignore and a nil
// *Ignore drop nothing.
type Ignore struct {
	paths    []gitignore.Pattern
	rules    map[string]bool
	rulesIn  map[string][]gitignore.Pattern
	findings map[string]bool
}

// ParseIgnore reads .wardenignore entries from r. An error names the line
// that is wrong.
func ParseIgnore(r io.Reader) (*Ignore, error) {
	known := map[string]bool{}
	for _, rule := range detect.Rules() {
		known[rule.ID] = true
	}
	ig := &Ignore{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if err := ig.add(line, known); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("line %d: longer than 64 KiB", n+1)
	} else if err != nil {
		return nil, fmt.Errorf("read ignore rules: %w", err)
	}
	return ig, nil
}

// add parses one line into ig.
func (ig *Ignore) add(line string, known map[string]bool) error {
	entry := strings.TrimSpace(line)
	if entry == "" || strings.HasPrefix(entry, "#") {
		return nil
	}
	if rest, ok := strings.CutPrefix(entry, "rule:"); ok {
		id, pattern, scoped := strings.Cut(rest, " ")
		if !scoped {
			id, pattern, scoped = strings.Cut(rest, "\t")
		}
		id, pattern = strings.TrimSpace(id), strings.TrimSpace(pattern)
		switch {
		case id == "":
			return errors.New("rule: needs a rule ID, as in rule:generic_secret")
		case !known[id]:
			return fmt.Errorf("unknown rule ID %q", id)
		case !scoped || pattern == "":
			if ig.rules == nil {
				ig.rules = map[string]bool{}
			}
			ig.rules[id] = true
			return nil
		case strings.HasPrefix(pattern, "!"):
			return fmt.Errorf("rule:%s: the pattern %q cannot be negated: list the paths the rule is off in", id, pattern)
		}
		p, err := parsePathPattern(pattern)
		if err != nil {
			return err
		}
		if ig.rulesIn == nil {
			ig.rulesIn = map[string][]gitignore.Pattern{}
		}
		ig.rulesIn[id] = append(ig.rulesIn[id], p)
		return nil
	}
	if rest, ok := strings.CutPrefix(entry, "fp:"); ok {
		rest = strings.TrimSpace(rest)
		fp := strings.ToLower(rest)
		if !isFingerprint(fp) {
			return fmt.Errorf("fingerprint %q is not 32 hex digits", rest)
		}
		if ig.findings == nil {
			ig.findings = map[string]bool{}
		}
		ig.findings[fp] = true
		return nil
	}
	// Keep trailing spaces the pattern escapes; gitignore trims the rest.
	p, err := parsePathPattern(strings.TrimLeft(line, " \t"))
	if err != nil {
		return err
	}
	ig.paths = append(ig.paths, p)
	return nil
}

// parsePathPattern parses a gitignore pattern relative to the scan root,
// rejecting a malformed one, which would otherwise match nothing.
func parsePathPattern(s string) (gitignore.Pattern, error) {
	for elem := range strings.SplitSeq(strings.TrimPrefix(s, "!"), "/") {
		// The matcher matches names with filepath.Match; check the
		// syntax the same way.
		if _, err := filepath.Match(elem, ""); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", s, err)
		}
	}
	return gitignore.ParsePattern(s, nil), nil
}

// isFingerprint reports whether s is 32 lower-case hex digits, the form
// of [Fingerprint].
func isFingerprint(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// LoadIgnore reads the .wardenignore file at name. A file that does not
// exist is no error: it gives an Ignore that drops nothing.
func LoadIgnore(name string) (*Ignore, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return &Ignore{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ignore file: %w", err)
	}
	defer f.Close()
	ig, err := ParseIgnore(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove the entry)", name, err)
	}
	return ig, nil
}

// Drops reports whether f is to be left out of a report.
func (ig *Ignore) Drops(f Finding) bool {
	if ig == nil {
		return false
	}
	if ig.findings[f.Fingerprint] || ig.rules[f.RuleID] {
		return true
	}
	scoped := ig.rulesIn[f.RuleID]
	if len(ig.paths) == 0 && len(scoped) == 0 {
		return false
	}
	elems := strings.Split(strings.TrimPrefix(path.Clean(f.File), "/"), "/")
	if len(ig.paths) > 0 && gitignore.NewMatcher(ig.paths).Match(elems, false) {
		return true
	}
	for _, p := range scoped {
		if p.Match(elems, false) == gitignore.Exclude {
			return true
		}
	}
	return false
}

// Filter returns the findings that ig does not drop, in a new slice;
// the one given is left as it is.
func (ig *Ignore) Filter(findings []Finding) []Finding {
	out := make([]Finding, 0, len(findings))
	for _, f := range findings {
		if !ig.Drops(f) {
			out = append(out, f)
		}
	}
	return out
}
