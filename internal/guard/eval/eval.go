// Package eval measures the guardrail detectors on labelled data: it reads
// a JSON Lines dataset, runs the detectors and the injection scorer, and
// counts true and false positives and misses per type and per class.
//
// A line is one of:
//
//	{"text": "...", "spans": [{"start": 3, "end": 20, "type": "email"}]}
//	{"text": "...", "label": "injection"}        (or "benign")
//
// "findings" is accepted for "spans", and "text_rot13" for "text" (data
// sets of fake keys are stored rot13-encoded so that the repository itself
// does not trip secret scanners). Offsets are byte offsets into the text.
// A span line lists every finding the text holds: any other finding is a
// false positive. A label line says whether the text is a prompt
// injection.
package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/wardenproject/warden/internal/detect"
)

// Span is a labelled or detected finding.
type Span struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Type  string `json:"type"`
}

// Example is one line of a dataset.
type Example struct {
	Text string
	// Spans are the findings the text holds (span lines).
	Spans []Span
	// Label is "injection" or "benign" (label lines), else empty.
	Label string
}

// maxLine bounds one dataset line.
const maxLine = 4 << 20

// Parse reads a dataset. Errors name the line.
func Parse(r io.Reader) ([]Example, error) { return parse(r, false) }

// ParseRot13 reads a dataset whose every string value (text, types and
// labels) is rot13-encoded, as the fake-key sets are stored.
func ParseRot13(r io.Reader) ([]Example, error) { return parse(r, true) }

func parse(r io.Reader, rot bool) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var out []Example
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		ex, err := parseLine([]byte(line), rot)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, ex)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line is longer than %d bytes", maxLine)
		}
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("the dataset has no examples")
	}
	return out, nil
}

func parseLine(b []byte, rot bool) (Example, error) {
	var raw struct {
		Text     *string `json:"text"`
		Rot13    *string `json:"text_rot13"`
		Spans    []Span  `json:"spans"`
		Findings []Span  `json:"findings"`
		Label    string  `json:"label"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Example{}, fmt.Errorf("not a JSON object with text and spans or label: %w", err)
	}
	var ex Example
	switch {
	case raw.Text != nil && raw.Rot13 == nil:
		ex.Text = *raw.Text
	case raw.Rot13 != nil && raw.Text == nil:
		ex.Text = rot13(*raw.Rot13)
	default:
		return Example{}, errors.New(`give exactly one of "text" and "text_rot13"`)
	}
	ex.Spans = append(raw.Spans, raw.Findings...)
	ex.Label = raw.Label
	if rot {
		ex.Text = rot13(ex.Text)
		ex.Label = rot13(ex.Label)
		for i := range ex.Spans {
			ex.Spans[i].Type = rot13(ex.Spans[i].Type)
		}
	}
	switch ex.Label {
	case "", "injection", "benign":
	default:
		return Example{}, fmt.Errorf("label %q: use injection or benign", ex.Label)
	}
	if ex.Label != "" && len(ex.Spans) > 0 {
		return Example{}, errors.New("a line has either spans or a label, not both")
	}
	for _, s := range ex.Spans {
		if s.Start < 0 || s.End <= s.Start || s.End > len(ex.Text) || s.Type == "" {
			return Example{}, fmt.Errorf("span %d-%d %q does not fit the text (%d bytes)", s.Start, s.End, s.Type, len(ex.Text))
		}
	}
	return ex, nil
}

func rot13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

// Counts are the outcomes for one type or class.
type Counts struct {
	TP, FP, FN int
}

// Precision is TP / (TP + FP), 1 when nothing was predicted.
func (c Counts) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP / (TP + FN), 1 when nothing was expected.
func (c Counts) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall.
func (c Counts) F1() float64 {
	p, r := c.Precision(), c.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// Report is the outcome of Run, per finding type and per class.
type Report struct {
	Types   map[string]*Counts
	Classes map[string]*Counts
	// Examples is how many lines were evaluated.
	Examples int
}

// Scorer scores a text for prompt injection, 0..1.
type Scorer interface {
	Score(ctx context.Context, text string) (float64, error)
}

// Options configure Run.
type Options struct {
	// Detectors find PII and secrets; their findings' Class names the
	// class in the report.
	Detectors []detect.Detector
	// Injection scores label lines; Threshold is the score from which a
	// text counts as an injection.
	Injection Scorer
	Threshold float64
}

// Run evaluates every example. Overlapping detections are first resolved
// to one (detect.Resolve), as the guard does. A detected span counts as a true positive
// when it has the labelled type and overlaps the labelled span by at least
// half of the longer of the two; each labelled span matches at most one
// detection.
func Run(ctx context.Context, examples []Example, o Options) (*Report, error) {
	rep := &Report{Types: map[string]*Counts{}, Classes: map[string]*Counts{}}
	classOf := map[string]string{}
	get := func(m map[string]*Counts, k string) *Counts {
		c := m[k]
		if c == nil {
			c = &Counts{}
			m[k] = c
		}
		return c
	}
	var found []detect.Finding
	for _, ex := range examples {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Examples++
		if ex.Label != "" {
			if o.Injection == nil {
				return nil, errors.New("the dataset has injection labels and no scorer was given")
			}
			score, err := o.Injection.Score(ctx, ex.Text)
			if err != nil {
				return nil, err
			}
			predicted, actual := score >= o.Threshold, ex.Label == "injection"
			for _, c := range []*Counts{get(rep.Types, "prompt_injection"), get(rep.Classes, "injection")} {
				switch {
				case predicted && actual:
					c.TP++
				case predicted:
					c.FP++
				case actual:
					c.FN++
				}
			}
			continue
		}
		found = found[:0]
		for _, d := range o.Detectors {
			found = d.Detect(found, ex.Text)
		}
		// Overlapping findings are merged as the guard merges them before
		// acting, so one secret found twice counts once.
		found = detect.Resolve(found)
		used := make([]bool, len(ex.Spans))
		for _, f := range found {
			classOf[f.Type] = string(f.Class)
			hit := -1
			for i, s := range ex.Spans {
				if !used[i] && s.Type == f.Type && overlaps(s, f) {
					hit = i
					break
				}
			}
			if hit >= 0 {
				used[hit] = true
				get(rep.Types, f.Type).TP++
				get(rep.Classes, string(f.Class)).TP++
			} else {
				get(rep.Types, f.Type).FP++
				get(rep.Classes, string(f.Class)).FP++
			}
		}
		for i, s := range ex.Spans {
			if !used[i] {
				get(rep.Types, s.Type).FN++
				class := classOf[s.Type]
				if class == "" {
					class = "unknown"
				}
				get(rep.Classes, class).FN++
			}
		}
	}
	return rep, nil
}

func overlaps(s Span, f detect.Finding) bool {
	lo, hi := max(s.Start, f.Start), min(s.End, f.End)
	if hi <= lo {
		return false
	}
	longer := max(s.End-s.Start, f.End-f.Start)
	return 2*(hi-lo) >= longer
}

// Row is one line of a printed report.
type Row struct {
	Name                  string  `json:"name"`
	TP                    int     `json:"tp"`
	FP                    int     `json:"fp"`
	FN                    int     `json:"fn"`
	Precision, Recall, F1 float64 `json:"-"`
}

// Rows returns the report's lines, types first then classes, each sorted.
func (r *Report) Rows() (types, classes []Row) {
	rows := func(m map[string]*Counts) []Row {
		out := make([]Row, 0, len(m))
		for name, c := range m {
			out = append(out, Row{Name: name, TP: c.TP, FP: c.FP, FN: c.FN, Precision: c.Precision(), Recall: c.Recall(), F1: c.F1()})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out
	}
	return rows(r.Types), rows(r.Classes)
}

// MarshalJSON writes the rows with rounded ratios.
func (r Row) MarshalJSON() ([]byte, error) {
	round := func(f float64) float64 { return math.Round(f*10000) / 10000 }
	type plain Row
	return json.Marshal(struct {
		plain
		Precision float64 `json:"precision"`
		Recall    float64 `json:"recall"`
		F1        float64 `json:"f1"`
	}{plain(r), round(r.Precision), round(r.Recall), round(r.F1)})
}
