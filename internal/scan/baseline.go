package scan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
)

// Baseline is the set of findings a project already knows about, by
// fingerprint: a scan with a baseline reports only what is new. A
// baseline is a JSON report of an earlier scan (see [WriteJSON]); only
// its fingerprints are read, so a report with secrets masked serves as
// well as one with them revealed.
//
// The zero Baseline is empty and filters nothing.
type Baseline struct {
	fingerprints map[string]struct{}
}

// ErrNotReport is returned for a baseline that is valid JSON but not a
// warden JSON report.
var ErrNotReport = errors.New("not a warden JSON report")

// LoadBaseline reads the baseline in the JSON report at path.
func LoadBaseline(path string) (Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Baseline{}, fmt.Errorf("read baseline: %w; create one with `warden scan --format json > %s`", err, path)
	}
	b, err := ParseBaseline(data)
	if err != nil {
		return Baseline{}, fmt.Errorf("baseline %s: %w; create one with `warden scan --format json > %s`", path, err, path)
	}
	return b, nil
}

// ParseBaseline reads a baseline from the bytes of a JSON report. Every
// finding in it must have a fingerprint; other fields are not looked at,
// so reports of later versions with more fields still load.
func ParseBaseline(data []byte) (Baseline, error) {
	var doc struct {
		Findings json.RawMessage `json:"findings"`
		Runs     json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field == "" {
			return Baseline{}, fmt.Errorf("%w: the document is a JSON %s, not an object", ErrNotReport, typ.Value)
		}
		return Baseline{}, fmt.Errorf("%w: invalid JSON: %w", ErrNotReport, err)
	}
	if doc.Findings == nil || string(doc.Findings) == "null" {
		if doc.Runs != nil {
			return Baseline{}, fmt.Errorf("%w: it looks like SARIF, which cannot serve as a baseline", ErrNotReport)
		}
		return Baseline{}, fmt.Errorf(`%w: no "findings" list`, ErrNotReport)
	}
	var findings []struct {
		Fingerprint *string `json:"fingerprint"`
	}
	if err := json.Unmarshal(doc.Findings, &findings); err != nil {
		return Baseline{}, fmt.Errorf(`%w: "findings" is not a list of findings: %w`, ErrNotReport, err)
	}
	b := Baseline{fingerprints: make(map[string]struct{}, len(findings))}
	for i, f := range findings {
		if f.Fingerprint == nil || *f.Fingerprint == "" {
			return Baseline{}, fmt.Errorf("%w: finding %d has no fingerprint", ErrNotReport, i+1)
		}
		b.fingerprints[*f.Fingerprint] = struct{}{}
	}
	return b, nil
}

// Len returns the number of distinct fingerprints in b.
func (b Baseline) Len() int { return len(b.fingerprints) }

// Contains reports whether b holds the fingerprint fp.
func (b Baseline) Contains(fp string) bool {
	_, ok := b.fingerprints[fp]
	return ok
}

// Filter returns the findings of fs whose fingerprint is not in b, in
// order, in a new slice; fs is left as it was.
func (b Baseline) Filter(fs []Finding) []Finding {
	return slices.DeleteFunc(slices.Clone(fs), func(f Finding) bool { return b.Contains(f.Fingerprint) })
}
