package guard

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/detect"
)

// hit is a span of a text the guard acts on.
type hit struct {
	start, end int
	class      detect.Class
	typ        string
	action     Action
	confidence float64
	verified   bool
	original   string // for restore hits: the value the placeholder stands for
}

// verdictKey identifies one line of the verdicts.
type verdictKey struct {
	class  detect.Class
	typ    string
	action Action
}

// engine applies one direction's policy (prompt or answer) to texts. One
// engine serves one call: its namer numbers placeholders across every text
// of the call.
type engine struct {
	g        *Guard
	pii, sec ClassPolicy
	runPII   bool
	runSec   bool
	ps       *Pseudonyms // placeholders to restore (answers only)
	names    *namer
	counts   map[verdictKey]int
	fs       []detect.Finding // scratch, reused across texts
}

func (g *Guard) newEngine(pii, sec ClassPolicy, restoreFrom *Pseudonyms) *engine {
	return &engine{
		g:      g,
		pii:    pii,
		sec:    sec,
		runPII: !pii.inactive(),
		runSec: !sec.inactive(),
		ps:     restoreFrom,
		names:  newNamer(restoreFrom),
	}
}

// active reports whether the engine can change or report anything.
func (e *engine) active() bool { return e.runPII || e.runSec || e.ps.Len() > 0 }

// scan appends what to act on in text: rewrites (in text order, merged so
// that no two overlap, restore hits included), flags and blocks. The
// caller refuses the text if there are blocks.
func (e *engine) scan(text string, rewrites, flags, blocks []hit) ([]hit, []hit, []hit) {
	if e.runPII || e.runSec {
		fs := e.fs[:0]
		if e.runPII {
			n := len(fs)
			fs = e.g.pii.Detect(fs, text)
			defaultClass(fs[n:], detect.PII)
		}
		if e.runSec {
			n := len(fs)
			fs = e.g.sec.Detect(fs, text)
			defaultClass(fs[n:], detect.Secret)
		}
		e.fs = fs
		for _, f := range fs {
			// A detector with a bug must not make the guard panic or
			// skip text: clamp its offsets to the text.
			f.Start, f.End = max(f.Start, 0), min(f.End, len(text))
			if f.Start >= f.End {
				continue
			}
			a := e.actionFor(f)
			h := hit{start: f.Start, end: f.End, class: f.Class, typ: f.Type, action: a, confidence: f.Confidence, verified: f.Verified}
			switch a {
			case Allow:
			case Flag:
				flags = append(flags, h)
			case Block:
				blocks = append(blocks, h)
			default:
				rewrites = append(rewrites, h)
			}
		}
	}
	rewrites = e.ps.find(text, 0, rewrites)
	if len(rewrites) > 1 {
		rewrites = merge(rewrites)
	}
	return rewrites, flags, blocks
}

func defaultClass(fs []detect.Finding, c detect.Class) {
	for i := range fs {
		if fs[i].Class == "" {
			fs[i].Class = c
		}
	}
}

func (e *engine) actionFor(f detect.Finding) Action {
	var a Action
	if f.Class == detect.Secret {
		a = e.sec.action(f.Type)
	} else {
		a = e.pii.action(f.Type)
	}
	if a == "" {
		return Allow
	}
	return a
}

func sortHits(hs []hit) {
	slices.SortFunc(hs, func(a, b hit) int {
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		return cmp.Compare(b.end, a.end)
	})
}

// merge sorts hits and merges overlapping ones into one hit spanning their
// union, so that no byte of any finding survives a rewrite. The merged hit
// takes its type and action from the member that hides most (then the
// more certain one, as detect.Resolve decides). A restore hit gives way to
// any overlapping finding: a finding is never undone by a restore.
func merge(hs []hit) []hit {
	sortHits(hs)
	out := hs[:0]
	for _, h := range hs {
		n := len(out)
		if n == 0 || h.start >= out[n-1].end {
			out = append(out, h)
			continue
		}
		last := &out[n-1]
		end := max(last.end, h.end)
		if stronger(h, *last) {
			start := last.start
			*last = h
			last.start = start
		}
		last.end = end
	}
	return out
}

// stronger reports whether a should represent a merged span rather than b.
func stronger(a, b hit) bool {
	if (a.action == restore) != (b.action == restore) {
		return b.action == restore
	}
	if sa, sb := a.action.strength(), b.action.strength(); sa != sb {
		return sa > sb
	}
	if a.verified != b.verified {
		return a.verified
	}
	if a.confidence != b.confidence {
		return a.confidence > b.confidence
	}
	return a.end-a.start > b.end-b.start
}

// render appends text with the rewrites applied.
func (e *engine) render(dst []byte, text string, rewrites []hit) []byte {
	at := 0
	for _, h := range rewrites {
		dst = append(dst, text[at:h.start]...)
		dst = e.replacement(dst, text, h)
		at = h.end
	}
	return append(dst, text[at:]...)
}

// replacement appends what stands in for the hit.
func (e *engine) replacement(dst []byte, text string, h hit) []byte {
	v := text[h.start:h.end]
	switch h.action {
	case restore:
		return append(dst, h.original...)
	case Mask:
		return appendMasked(dst, v)
	case Pseudonymize:
		return append(dst, e.names.placeholder(h.typ, v, true)...)
	default: // Redact
		return append(dst, e.names.placeholder(h.typ, v, false)...)
	}
}

// maskKeep is how many trailing characters a mask shows, and maskMin the
// length below which it shows none, so that at least two thirds of a
// value stay hidden.
const (
	maskKeep = 4
	maskMin  = 12
)

// appendMasked appends v with every character but the last four replaced
// by '*'; values shorter than maskMin characters are starred entirely.
// Characters are runes (a byte of invalid UTF-8 counts as one).
func appendMasked(dst []byte, v string) []byte {
	n := utf8.RuneCountInString(v)
	keep := 0
	if n >= maskMin {
		keep = maskKeep
	}
	i := 0
	for range n - keep {
		_, size := utf8.DecodeRuneInString(v[i:])
		i += size
		dst = append(dst, '*')
	}
	return append(dst, v[i:]...)
}

// count adds hits to the verdicts.
func (e *engine) count(hs []hit) {
	for _, h := range hs {
		e.count1(h)
	}
}

func (e *engine) count1(h hit) {
	if h.action == restore {
		return
	}
	if e.counts == nil {
		e.counts = make(map[verdictKey]int)
	}
	e.counts[verdictKey{h.class, h.typ, h.action}]++
}

// verdicts returns the counts as verdicts, in a stable order.
func (e *engine) verdicts(dst []Verdict) []Verdict {
	n := len(dst)
	for k, c := range e.counts {
		dst = append(dst, Verdict{Class: k.class, Type: k.typ, Action: k.action, Count: c})
	}
	slices.SortFunc(dst[n:], func(a, b Verdict) int {
		return cmp.Or(cmp.Compare(a.Class, b.Class), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Action, b.Action))
	})
	return dst
}

// blocked returns the error for blocking findings. It names their classes
// and types, never the matched text.
func blocked(where string, blocks []hit) error {
	var names []string
	for _, h := range blocks {
		n := string(h.class) + " (" + h.typ + ")"
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return &apperr.Error{
		Code:    apperr.ContentBlocked,
		Message: fmt.Sprintf("the %s was blocked because it contains %s; remove it and try again", where, strings.Join(names, ", ")),
	}
}
