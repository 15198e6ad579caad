// Package scan finds leaked secrets in files, standard input and git
// history. It runs the secret rules of package detect (keyword pre-filter,
// then RE2 regular expressions, then entropy and checksum checks) over
// chunks of text that sources produce: files of a working tree, the lines a
// commit added, or what is staged for the next commit.
//
// A scan is a pipeline: one source goroutine produces chunks, a pool of
// workers loads and scans them, and the caller receives the findings sorted
// by place. Noise control comes after detection: inline `warden:allow`
// comments here, then .wardenignore rules and a baseline of known findings
// in the caller's hands.
package scan

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenproject/warden/internal/detect"
)

// AllowMarker on the line of a finding, usually in a comment, tells the
// scanner that the value is known and accepted.
const AllowMarker = "warden:allow"

// Finding is one secret at one place.
type Finding struct {
	// RuleID names the detect rule that matched ("openai_key").
	RuleID string
	// Description says what the rule finds.
	Description string
	// File is the path of the file, slash-separated and relative to the
	// scan root where there is one; "-" for standard input.
	File string
	// Line and Column are where the secret starts (1-based; the column
	// counts bytes). EndLine and EndColumn are where it ends, inclusive.
	Line, Column       int
	EndLine, EndColumn int
	// Secret is the value found. Reports mask it unless asked not to;
	// it must never reach a log.
	Secret string
	// Confidence is the rule's confidence, 0..1; Verified is true when a
	// checksum or decoded structure confirmed the value.
	Confidence float64
	Verified   bool
	// Fingerprint identifies the secret across scans (see
	// [Fingerprint]); .wardenignore and baselines refer to findings by
	// it.
	Fingerprint string
	// Commit is set for findings in git history: the commit that added
	// the line.
	Commit *Commit
}

// String describes the finding without its secret, for errors and logs.
func (f Finding) String() string {
	loc := fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
	if f.Commit != nil {
		loc = f.Commit.Short() + ":" + loc
	}
	return loc + ": " + f.RuleID + " " + Mask(f.Secret)
}

// Commit describes the git commit a finding was added in.
type Commit struct {
	Hash   string
	Author string
	Email  string
	Date   time.Time
}

// Short returns the abbreviated hash.
func (c *Commit) Short() string {
	if len(c.Hash) > 12 {
		return c.Hash[:12]
	}
	return c.Hash
}

// Fingerprint returns the fingerprint of a finding of rule with the given
// secret: 32 hex digits of a SHA-256 over the two. It leaves out the file
// and line on purpose, so that a fingerprint stays the same when the line
// moves, when the scan starts from another directory, and between a
// working-tree and a history scan; the price is that one accepted secret
// is accepted in every file it appears in. A secret cannot be read back
// from its fingerprint, but a guessable one (a short password) can be
// confirmed by whoever holds the fingerprint, as with any hash.
func Fingerprint(rule, secret string) string {
	h := sha256.New()
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write([]byte(secret))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Mask returns secret with all but a short head and tail replaced, so a
// report identifies a key without disclosing it: enough of the head to
// show the format (sk-proj-, ghp_, AKIA) and the last four characters,
// which is what provider consoles show. Short secrets keep less.
func Mask(secret string) string {
	n := len(secret)
	switch {
	case n >= 24:
		head := min(8, n/4)
		return secret[:head] + strings.Repeat("*", 8) + secret[n-4:]
	case n >= 12:
		return secret[:3] + strings.Repeat("*", 8) + secret[n-2:]
	default:
		return strings.Repeat("*", 8)
	}
}

// Chunk is one piece of text to scan and where it came from.
type Chunk struct {
	// Path is the file the text belongs to, as reports show it.
	Path string
	// Text is the content; if Load is set, workers call it instead, so
	// that files are read in parallel.
	Text string
	Load func() (string, error)
	// Lines, when set, gives the line number in Path of each line of
	// Text (a diff's added lines are not contiguous); when nil, line i
	// of Text is line i of the file.
	Lines []int
	// Commit is the commit the text was added in, for history scans.
	Commit *Commit
}

// SkipError is returned by a Chunk's Load for content that is not
// scanned on purpose, such as a binary or a huge file. The scan goes on
// and reports the skip as a note.
type SkipError struct {
	Reason string
}

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Skip is a chunk that was not scanned, with the reason.
type Skip struct {
	Path   string
	Reason string
}

// Source produces chunks: it calls emit for each, in order, and stops
// when emit returns an error (returning it) or ctx is done.
type Source func(ctx context.Context, emit func(Chunk) error) error

// Options configure a Scanner.
type Options struct {
	// Rules limits the scan to these rule IDs; empty means every rule.
	Rules []string
	// NoGeneric leaves out generic_secret, the rule for high-entropy
	// values assigned to names like api_key, which is on by default.
	NoGeneric bool
	// Workers is the number of chunks scanned at once; 0 means one per
	// CPU.
	Workers int
}

// Scanner runs secret rules over sources. It is safe for concurrent use.
type Scanner struct {
	det     detect.Detector
	desc    map[string]string
	workers int
}

// New returns a scanner for opts.
func New(opts Options) (*Scanner, error) {
	so := detect.SecretsOptions{Rules: opts.Rules, Generic: !opts.NoGeneric}
	if len(opts.Rules) > 0 {
		so.Generic = !opts.NoGeneric && slices.Contains(opts.Rules, detect.GenericSecret)
	}
	if err := so.Validate(); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	desc := map[string]string{}
	for _, r := range detect.Rules() {
		desc[r.ID] = r.Description
	}
	w := opts.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return &Scanner{det: detect.NewSecrets(so), desc: desc, workers: w}, nil
}

// Text scans one chunk whose content is at hand and appends its findings
// to dst. Findings on a line carrying [AllowMarker] are left out.
func (s *Scanner) Text(dst []Finding, c Chunk) []Finding {
	var raw [8]detect.Finding
	fs := s.det.Detect(raw[:0], c.Text)
	if len(fs) == 0 {
		return dst
	}
	lines := newLineIndex(c.Text)
	for _, f := range fs {
		l0, c0 := lines.pos(f.Start)
		l1, c1 := lines.pos(max(f.Start, f.End-1))
		if lines.allowed(c.Text, l0, l1) {
			continue
		}
		// A copy: the text may be a large file that should not stay in
		// memory for one finding.
		secret := strings.Clone(c.Text[f.Start:f.End])
		dst = append(dst, Finding{
			RuleID:      f.Type,
			Description: s.desc[f.Type],
			File:        c.Path,
			Line:        lineNumber(c.Lines, l0),
			Column:      c0 + 1,
			EndLine:     lineNumber(c.Lines, l1),
			EndColumn:   c1 + 1,
			Secret:      secret,
			Confidence:  f.Confidence,
			Verified:    f.Verified,
			Fingerprint: Fingerprint(f.Type, secret),
			Commit:      c.Commit,
		})
	}
	return dst
}

// lineNumber maps the 0-based line i of a chunk to a line of its file.
func lineNumber(table []int, i int) int {
	if i < len(table) {
		return table[i]
	}
	return i + 1
}

// lineIndex finds the line and column of byte offsets in a text.
type lineIndex struct{ starts []int }

func newLineIndex(text string) lineIndex {
	starts := []int{0}
	for i := 0; ; {
		j := strings.IndexByte(text[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		starts = append(starts, i)
	}
	return lineIndex{starts}
}

// pos returns the 0-based line and byte column of offset off.
func (x lineIndex) pos(off int) (line, col int) {
	line, _ = slices.BinarySearch(x.starts, off+1)
	line--
	return line, off - x.starts[line]
}

// allowed reports whether any of lines l0..l1 of text carries the marker.
func (x lineIndex) allowed(text string, l0, l1 int) bool {
	for l := l0; l <= l1; l++ {
		end := len(text)
		if l+1 < len(x.starts) {
			end = x.starts[l+1]
		}
		if strings.Contains(text[x.starts[l]:end], AllowMarker) {
			return true
		}
	}
	return false
}

// Result is what a scan found and what it passed over.
type Result struct {
	Findings []Finding
	Skipped  []Skip
	// Chunks and Bytes count what was scanned.
	Chunks int
	Bytes  int64
}

// Progress receives the number of bytes scanned so far; it is called
// from several goroutines and must be cheap.
type Progress func(bytes int64)

// Run scans every chunk src produces with the scanner's workers and
// returns the findings sorted by commit order of appearance, file, line
// and column. A Load error other than a [SkipError] stops the scan and is
// returned, as is an error of src.
func (s *Scanner) Run(ctx context.Context, src Source, progress Progress) (Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	type indexed struct {
		Chunk
		seq int
	}
	chunks := make(chan indexed, 4*s.workers)
	var (
		mu      sync.Mutex
		res     Result
		total   atomic.Int64
		wg      sync.WaitGroup
		results = make([][]Finding, s.workers)
	)
	seqs := make([][]int, s.workers)
	for w := range s.workers {
		wg.Go(func() {
			var local []Finding
			var localSeq []int
			for c := range chunks {
				if c.Load != nil {
					text, err := c.Load()
					var skip *SkipError
					switch {
					case errors.As(err, &skip):
						mu.Lock()
						res.Skipped = append(res.Skipped, Skip{Path: c.Path, Reason: skip.Reason})
						mu.Unlock()
						continue
					case err != nil:
						cancel(fmt.Errorf("scan %s: %w", c.Path, err))
						continue
					}
					c.Text = text
				}
				n := len(local)
				local = s.Text(local, c.Chunk)
				for range len(local) - n {
					localSeq = append(localSeq, c.seq)
				}
				b := total.Add(int64(len(c.Text)))
				mu.Lock()
				res.Chunks++
				mu.Unlock()
				if progress != nil {
					progress(b)
				}
			}
			results[w], seqs[w] = local, localSeq
		})
	}
	seq := 0
	srcErr := src(ctx, func(c Chunk) error {
		select {
		case chunks <- indexed{c, seq}:
			seq++
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(chunks)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return res, err
	}
	if srcErr != nil {
		return res, srcErr
	}
	type ordered struct {
		f   Finding
		seq int
	}
	var all []ordered
	for w := range results {
		for i, f := range results[w] {
			all = append(all, ordered{f, seqs[w][i]})
		}
	}
	slices.SortStableFunc(all, func(a, b ordered) int {
		return cmp.Or(
			cmp.Compare(a.seq, b.seq),
			cmp.Compare(a.f.File, b.f.File),
			cmp.Compare(a.f.Line, b.f.Line),
			cmp.Compare(a.f.Column, b.f.Column),
			cmp.Compare(a.f.RuleID, b.f.RuleID),
		)
	})
	res.Findings = make([]Finding, len(all))
	for i, o := range all {
		res.Findings[i] = o.f
	}
	slices.SortFunc(res.Skipped, func(a, b Skip) int { return cmp.Compare(a.Path, b.Path) })
	res.Bytes = total.Load()
	return res, nil
}

// IsBinary reports whether content looks binary: a NUL byte in its first
// 8000 bytes, the test git itself uses.
func IsBinary(head []byte) bool {
	return bytes.IndexByte(head[:min(len(head), 8000)], 0) >= 0
}
