package config

import (
	"regexp"
	"strings"
)

// Problem is one thing wrong with a configuration.
//
// None of its fields ever holds a value taken from the file or the
// environment: values may be credentials pasted in the wrong place, and
// these messages end up in terminals, CI logs and bug reports. Names of
// settings, providers and models do appear, unless they themselves look
// like a key.
type Problem struct {
	// Source says where the offending value came from: "file:line:col" for
	// the YAML file, the variable name (e.g. WARDEN_SERVER_ADDR) for the
	// environment, or "" when the problem was found by Validate on a Config
	// that was changed after loading.
	Source string
	// Field is the dotted path of the setting, e.g. providers.openai.api_key
	// or server.trusted_proxies[2]; "" for problems not tied to one setting,
	// such as an unknown environment variable.
	Field string
	// Message says what is wrong and what is allowed instead.
	Message string
}

// String formats the problem as "source: field: message", leaving out the
// parts that are empty.
func (p Problem) String() string {
	var b strings.Builder
	if p.Source != "" {
		b.WriteString(p.Source)
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is the error Load, Parse and Validate return: every problem found,
// not just the first, so that one run of `warden doctor` shows them all.
// Use errors.As to get at the individual problems.
type Problems []Problem

// Error lists the problems one per line.
func (p Problems) Error() string {
	lines := make([]string, len(p))
	for i, q := range p {
		lines[i] = q.String()
	}
	return strings.Join(lines, "\n")
}

// keyBoundaryRE finds text shaped like a provider or Warden API key that
// starts at the beginning of a value or after a non-alphanumeric character.
// The boundary keeps ordinary words such as "task-runner-data-directory"
// (which contains "sk-") from being mistaken for keys.
var keyBoundaryRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9])(?:sk-ant-|sk-proj-|sk-|hf_|AIza|wdn_)[A-Za-z0-9_-]{16,}`)

// keyAnywhereRE is the same shape without the boundary. It is only used to
// decide whether a name may be printed in a message: there a false alarm
// costs nothing (the name is replaced by a placeholder) while a miss leaks.
var keyAnywhereRE = regexp.MustCompile(`(?:sk-|hf_|AIza|wdn_)[A-Za-z0-9_-]{16,}`)

// looksLikeKey reports whether s contains something shaped like an API key.
func looksLikeKey(s string) bool { return keyBoundaryRE.MatchString(s) }

// printableNameRE is what a key or map name must look like to be echoed in
// a message.
var printableNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,127}$`)

// hiddenName stands in for a name that is not safe to print.
const hiddenName = "<name not shown>"

// printable returns name if it is safe to put in a message, and a
// placeholder otherwise.
func printable(name string) string {
	if printableNameRE.MatchString(name) && !keyAnywhereRE.MatchString(name) {
		return name
	}
	return hiddenName
}

// closest returns the candidate nearest to s by edit distance, ignoring
// case, and that distance.
func closest(s string, candidates []string) (string, int) {
	best, bestDist := "", -1
	s = strings.ToLower(s)
	for _, c := range candidates {
		d := editDistance(s, strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, bestDist
}

// editDistance is the Levenshtein distance between a and b, in bytes (all
// names compared here are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
