package scan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ReportOptions configure the reports the Write functions produce.
type ReportOptions struct {
	// Reveal shows secrets in full instead of masked. SARIF output masks
	// them anyway, since SARIF files are uploaded to code-scanning
	// services.
	Reveal bool
	// Color adds ANSI colours to the text report, for terminals.
	Color bool
	// ToolVersion is the version of warden SARIF output names.
	ToolVersion string
}

// secret returns the value reports show for f.
func (o ReportOptions) secret(f Finding) string {
	if o.Reveal {
		return f.Secret
	}
	return Mask(f.Secret)
}

// ANSI escape sequences for the text report.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// textWriter writes the text report. Writes go to a bufio.Writer, whose
// first error sticks and is returned by Flush, so that the report code
// need not check every write.
type textWriter struct {
	w     *bufio.Writer
	color bool
}

// paint returns s in the given style when colours are on.
func (t textWriter) paint(style, s string) string {
	if !t.color || s == "" {
		return s
	}
	return style + s + ansiReset
}

func (t textWriter) line(parts ...string) {
	for _, p := range parts {
		t.w.WriteString(p)
	}
	t.w.WriteByte('\n')
}

// WriteText writes res for people: one block per finding with the rule,
// the place and the (masked) secret, then the commit that added it for
// history findings and its fingerprint; then a summary, a hint on what to
// do, and a note per skipped file.
func WriteText(w io.Writer, res Result, opts ReportOptions) error {
	t := textWriter{w: bufio.NewWriter(w), color: opts.Color}
	width := 0
	for _, f := range res.Findings {
		width = max(width, utf8.RuneCountInString(printable(f.RuleID)))
	}
	for i, f := range res.Findings {
		if i > 0 {
			t.line()
		}
		rule := printable(f.RuleID)
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(rule))
		loc := fmt.Sprintf("%s:%d:%d", printable(f.File), f.Line, f.Column)
		head := []string{t.paint(ansiBold+ansiRed, rule), pad, "  ", t.paint(ansiBold, loc), "  ", t.paint(ansiYellow, printable(opts.secret(f)))}
		if f.Verified {
			head = append(head, "  ", t.paint(ansiBold+ansiRed, "(verified)"))
		}
		t.line(head...)
		if c := f.Commit; c != nil {
			t.line("    ", t.paint(ansiDim, commitLine(c)))
		}
		if f.Fingerprint != "" {
			t.line("    ", t.paint(ansiDim, "fingerprint "+printable(f.Fingerprint)))
		}
	}
	if len(res.Findings) > 0 {
		t.line()
		t.line(t.paint(ansiBold+ansiRed, summary(res.Findings)))
		// Both hints matter: deleting a real key leaves it usable and in
		// history, and a false positive needs a way to stay quiet.
		t.line(t.paint(ansiDim, "hint: revoke or rotate a real secret with its issuer; deleting it leaves it in git history."))
		t.line(t.paint(ansiDim, "hint: to accept a value that is not a secret, add "+AllowMarker+" to its line or fp:<fingerprint> to .wardenignore."))
	} else {
		t.line(t.paint(ansiGreen, "no secrets found"))
	}
	for _, s := range res.Skipped {
		t.line(t.paint(ansiDim, "note: skipped "+printable(s.Path)+" ("+printable(s.Reason)+")"))
	}
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("write text report: %w", err)
	}
	return nil
}

// commitLine describes c in one line: short hash, author and day.
func commitLine(c *Commit) string {
	parts := []string{"commit " + printable(c.Short())}
	switch {
	case c.Author != "" && c.Email != "":
		parts = append(parts, printable(c.Author)+" <"+printable(c.Email)+">")
	case c.Author != "":
		parts = append(parts, printable(c.Author))
	case c.Email != "":
		parts = append(parts, "<"+printable(c.Email)+">")
	}
	if !c.Date.IsZero() {
		parts = append(parts, c.Date.Format(time.DateOnly))
	}
	return strings.Join(parts, "  ")
}

// summary counts findings and the files they are in: "3 secrets in 2
// files (1 verified)".
func summary(fs []Finding) string {
	files := map[string]bool{}
	verified := 0
	for _, f := range fs {
		files[f.File] = true
		if f.Verified {
			verified++
		}
	}
	s := plural(len(fs), "secret") + " in " + plural(len(files), "file")
	if verified > 0 {
		s += fmt.Sprintf(" (%d verified)", verified)
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// printable escapes control characters and invalid UTF-8 in s, Go
// style (\n, \x1b), so that a file name, an author or a revealed secret
// (a PEM block spans lines) can neither break the layout of the report
// nor send escape sequences to the terminal.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r == ' ' || unicode.IsPrint(r):
			b.WriteString(s[:n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		s = s[n:]
	}
	return b.String()
}

// jsonReport is the document WriteJSON writes. Its fields are the stable
// interface of `warden scan --format json`, and baselines are read back
// from it: rename nothing.
type jsonReport struct {
	Findings []jsonFinding `json:"findings"`
	Skipped  []jsonSkip    `json:"skipped"`
	Stats    jsonStats     `json:"stats"`
}

type jsonFinding struct {
	Rule        string  `json:"rule"`
	Description string  `json:"description"`
	File        string  `json:"file"`
	Line        int     `json:"line"`
	Column      int     `json:"column"`
	EndLine     int     `json:"end_line"`
	EndColumn   int     `json:"end_column"`
	Secret      string  `json:"secret"`
	Confidence  float64 `json:"confidence"`
	Verified    bool    `json:"verified"`
	Fingerprint string  `json:"fingerprint"`
	// Commit is left out for working-tree findings.
	Commit *jsonCommit `json:"commit,omitempty"`
}

type jsonCommit struct {
	Hash   string `json:"hash"`
	Author string `json:"author"`
	Email  string `json:"email"`
	Date   string `json:"date,omitempty"`
}

type jsonSkip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

type jsonStats struct {
	Chunks int   `json:"chunks"`
	Bytes  int64 `json:"bytes"`
}

// WriteJSON writes res as an indented JSON document for programs:
// findings (secrets masked unless opts.Reveal), skipped files and what
// was scanned. Lists are empty rather than null when there is nothing.
func WriteJSON(w io.Writer, res Result, opts ReportOptions) error {
	doc := jsonReport{
		Findings: make([]jsonFinding, 0, len(res.Findings)),
		Skipped:  make([]jsonSkip, 0, len(res.Skipped)),
		Stats:    jsonStats{Chunks: res.Chunks, Bytes: res.Bytes},
	}
	for _, f := range res.Findings {
		jf := jsonFinding{
			Rule:        f.RuleID,
			Description: f.Description,
			File:        f.File,
			Line:        f.Line,
			Column:      f.Column,
			EndLine:     f.EndLine,
			EndColumn:   f.EndColumn,
			Secret:      opts.secret(f),
			Confidence:  f.Confidence,
			Verified:    f.Verified,
			Fingerprint: f.Fingerprint,
		}
		if c := f.Commit; c != nil {
			jf.Commit = &jsonCommit{Hash: c.Hash, Author: c.Author, Email: c.Email, Date: formatDate(c.Date)}
		}
		doc.Findings = append(doc.Findings, jf)
	}
	for _, s := range res.Skipped {
		doc.Skipped = append(doc.Skipped, jsonSkip(s))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Paths and names are shown as they are; the document is not HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// formatDate formats a commit date for JSON and SARIF output, in the
// committer's own zone as git keeps it; "" for no date.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}
