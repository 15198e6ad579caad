package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/wardenproject/warden/internal/detect"
)

// SARIF output follows the OASIS Static Analysis Results Interchange
// Format 2.1.0, which code-scanning services (GitHub, GitLab, Azure
// DevOps) accept. Only the part of the format warden fills in is
// declared here.
const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	// sarifSrcRoot is the conventional base of paths relative to the
	// root of the scanned tree; the service uploading the file binds it.
	sarifSrcRoot = "%SRCROOT%"
	// sarifFingerprintKey names warden's fingerprint among a result's
	// partial fingerprints; the version changes if its inputs do.
	sarifFingerprintKey = "warden/v1"
	toolName            = "warden"
	toolInformationURI  = "https://github.com/wardenproject/warden"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	// Results is never omitted: an empty list says the scan ran and
	// found nothing, a missing one that it did not run.
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules,omitempty"`
}

// sarifRule is a reportingDescriptor.
type sarifRule struct {
	ID                   string              `json:"id"`
	ShortDescription     *sarifMessage       `json:"shortDescription,omitempty"`
	FullDescription      *sarifMessage       `json:"fullDescription,omitempty"`
	Help                 *sarifMessage       `json:"help,omitempty"`
	DefaultConfiguration *sarifConfiguration `json:"defaultConfiguration,omitempty"`
	Properties           *sarifRuleProps     `json:"properties,omitempty"`
}

// sarifMessage serves as message and as multiformatMessageString, which
// share the text property.
type sarifMessage struct {
	Text string `json:"text"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags []string `json:"tags,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level,omitempty"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Properties          *sarifResultProps `json:"properties,omitempty"`
}

// sarifResultProps tell where in history a secret was added. The
// author's email address is left out on purpose: SARIF files are
// uploaded to services and kept there, and the commit hash leads to it
// for whoever has the repository.
type sarifResultProps struct {
	Commit string `json:"commit,omitempty"`
	Author string `json:"author,omitempty"`
	Date   string `json:"date,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI         string        `json:"uri,omitempty"`
	URIBaseID   string        `json:"uriBaseId,omitempty"`
	Description *sarifMessage `json:"description,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine,omitempty"`
	StartColumn int `json:"startColumn,omitempty"`
	EndLine     int `json:"endLine,omitempty"`
	EndColumn   int `json:"endColumn,omitempty"`
}

// sarifHelp tells what to do about a finding of rule: take the secret
// out of service, since deleting it is not enough, or mark it as known.
func sarifHelp(rule string) string {
	a := Advice(rule)
	if a != "" {
		a = strings.ToUpper(a[:1]) + a[1:] + "."
	}
	return a + " Then replace the value where it is used, from a secret store or " +
		"the environment, and remove it from the code. Deleting it from the file " +
		"leaves it readable in git history; only revoking it makes it harmless. " +
		"If the value is not a secret (a test fixture, an example), add " +
		AllowMarker + " to its line or fp:<fingerprint> to .wardenignore."
}

// WriteSARIF writes res as a SARIF 2.1.0 log with one run, describing
// rules (normally [detect.Rules]) as the tool's rules. Secrets are always
// masked, whatever opts.Reveal says, because SARIF files are uploaded to
// code-scanning services.
//
// Columns are the byte columns of [Finding]; SARIF counts UTF-16 code
// units, which is the same on lines that are ASCII up to the secret.
func WriteSARIF(w io.Writer, res Result, rules []detect.Rule, opts ReportOptions) error {
	driver := sarifDriver{
		Name:           toolName,
		InformationURI: toolInformationURI,
		Version:        opts.ToolVersion,
	}
	index := map[string]int{}
	for _, r := range rules {
		if _, dup := index[r.ID]; dup {
			continue
		}
		index[r.ID] = len(driver.Rules)
		driver.Rules = append(driver.Rules, sarifRuleFor(r.ID, r.Description))
	}
	results := make([]sarifResult, 0, len(res.Findings))
	for _, f := range res.Findings {
		i, ok := index[f.RuleID]
		if !ok {
			// A finding of a rule not in rules still gets a descriptor,
			// so that its ruleIndex is valid.
			i = len(driver.Rules)
			index[f.RuleID] = i
			driver.Rules = append(driver.Rules, sarifRuleFor(f.RuleID, f.Description))
		}
		results = append(results, sarifResultFor(f, i))
	}
	inv := sarifInvocation{ExecutionSuccessful: true}
	for _, s := range res.Skipped {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:     "note",
			Message:   sarifMessage{Text: "skipped: " + s.Reason},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysicalLocation{ArtifactLocation: sarifArtifact(s.Path)}}},
		})
	}
	doc := sarifLog{
		Schema:  sarifSchema,
		Version: sarifVersion,
		Runs: []sarifRun{{
			Tool:        sarifTool{Driver: driver},
			Invocations: []sarifInvocation{inv},
			Results:     results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write SARIF report: %w", err)
	}
	return nil
}

// sarifRuleFor describes the rule id.
func sarifRuleFor(id, description string) sarifRule {
	if description == "" {
		description = "Secret found by rule " + id + "."
	}
	return sarifRule{
		ID:               id,
		ShortDescription: &sarifMessage{Text: description},
		FullDescription: &sarifMessage{Text: description + " A secret in a file or in git history " +
			"gives whoever can read it the access the secret grants."},
		Help:                 &sarifMessage{Text: sarifHelp(id)},
		DefaultConfiguration: &sarifConfiguration{Level: "error"},
		Properties:           &sarifRuleProps{Tags: []string{"security", "secret"}},
	}
}

// sarifResultFor describes f, whose rule is the driver's rule i.
func sarifResultFor(f Finding, i int) sarifResult {
	desc := f.Description
	if desc == "" {
		desc = "Secret found by rule " + f.RuleID + "."
	}
	r := sarifResult{
		RuleID:    f.RuleID,
		RuleIndex: i,
		Level:     "error",
		Message:   sarifMessage{Text: desc + " Masked value: " + Mask(f.Secret)},
		Locations: []sarifLocation{{PhysicalLocation: sarifPhysicalLocation{
			ArtifactLocation: sarifArtifact(f.File),
			Region:           sarifRegionFor(f),
		}}},
	}
	if f.Fingerprint != "" {
		// The file goes into the partial fingerprint, unlike into
		// Finding.Fingerprint: code-scanning services merge results
		// that share one, and the same secret in two files is two
		// places to clean up.
		r.PartialFingerprints = map[string]string{sarifFingerprintKey: Fingerprint(f.RuleID+"\x00"+f.File, f.Secret)}
	}
	if c := f.Commit; c != nil {
		r.Properties = &sarifResultProps{Commit: c.Hash, Author: c.Author, Date: formatDate(c.Date)}
	}
	return r
}

// sarifRegionFor returns the region of f, or nil if f has no position.
// SARIF's endColumn is the column after the region, Finding's the last
// column in it.
func sarifRegionFor(f Finding) *sarifRegion {
	if f.Line < 1 {
		return nil
	}
	r := &sarifRegion{StartLine: f.Line, StartColumn: max(f.Column, 0)}
	if f.EndLine >= f.Line && f.EndColumn >= 1 {
		r.EndLine = f.EndLine
		r.EndColumn = f.EndColumn + 1
	}
	return r
}

// sarifArtifact locates the file at p, a slash-separated path as
// [Finding.File] holds it: relative paths are URI references against
// %SRCROOT%, absolute ones file URIs, and standard input has no URI.
func sarifArtifact(p string) sarifArtifactLocation {
	switch {
	case p == "-":
		return sarifArtifactLocation{Description: &sarifMessage{Text: "standard input"}}
	case path.IsAbs(p):
		return sarifArtifactLocation{URI: "file://" + escapePath(p)}
	case isDrivePath(p):
		return sarifArtifactLocation{URI: "file:///" + escapePath(p)}
	default:
		return sarifArtifactLocation{URI: escapePath(p), URIBaseID: sarifSrcRoot}
	}
}

// isDrivePath reports whether p starts with a Windows drive letter
// ("C:/").
func isDrivePath(p string) bool {
	return len(p) >= 3 && p[1] == ':' && p[2] == '/' &&
		('a' <= p[0] && p[0] <= 'z' || 'A' <= p[0] && p[0] <= 'Z')
}

// escapePath escapes each segment of the slash-separated path p for use
// in a URI. Colons are escaped too, except after a drive letter, so that
// a relative path such as "a:b" is not read as a URI with scheme "a".
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if i == 0 && isDrivePath(p) {
			continue
		}
		segs[i] = strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
	}
	return strings.Join(segs, "/")
}
