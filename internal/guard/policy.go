package guard

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Action is what the guard does with a finding.
type Action string

// Actions. Allow ignores a finding; Flag records it in the verdicts only;
// Redact replaces it with a typed placeholder such as [EMAIL_1]; Mask keeps
// its last four characters and stars the rest; Pseudonymize replaces it
// like Redact but remembers the original, so that the placeholder is
// swapped back in the answer; Block refuses the request (or the answer).
const (
	Allow        Action = "allow"
	Flag         Action = "flag"
	Redact       Action = "redact"
	Mask         Action = "mask"
	Pseudonymize Action = "pseudonymize"
	Block        Action = "block"
)

// restore is the internal action for a pseudonym placeholder found in an
// answer: it is replaced by the original value.
const restore Action = "restore"

// strength orders the actions that rewrite text, for overlapping findings:
// the one that hides most wins.
func (a Action) strength() int {
	switch a {
	case Mask:
		return 1
	case Pseudonymize:
		return 2
	case Redact:
		return 3
	}
	return 0
}

// ClassPolicy says what to do with the findings of one class (PII or
// secrets).
type ClassPolicy struct {
	// Action applies to every type of the class without an override. The
	// empty action is Allow when applied and "keep the base" when merged.
	Action Action
	// Types overrides Action per finding type, e.g. {"email": "allow"}.
	Types map[string]Action
}

// action returns the action for findings of type typ.
func (c ClassPolicy) action(typ string) Action {
	if a := c.Types[typ]; a != "" {
		return a
	}
	if c.Action == "" {
		return Allow
	}
	return c.Action
}

// inactive reports whether the class policy lets everything through, so
// that its detector need not run.
func (c ClassPolicy) inactive() bool {
	if c.Action != "" && c.Action != Allow {
		return false
	}
	for _, a := range c.Types {
		if a != "" && a != Allow {
			return false
		}
	}
	return true
}

func (c ClassPolicy) merge(o ClassPolicy) ClassPolicy {
	if o.Action != "" {
		c.Action = o.Action
	}
	if len(o.Types) > 0 {
		// A fresh map: the base is shared by every request that uses it.
		t := make(map[string]Action, len(c.Types)+len(o.Types))
		maps.Copy(t, c.Types)
		for k, a := range o.Types {
			if a != "" {
				t[k] = a
			}
		}
		c.Types = t
	}
	return c
}

// InjectionPolicy says what to do when the prompt-injection score of a
// request reaches Threshold.
type InjectionPolicy struct {
	// Action is Allow (do not score), Flag or Block.
	Action Action
	// Threshold is the score, in (0, 1], from which Action applies. Zero
	// means DefaultInjectionThreshold.
	Threshold float64
}

// threshold returns the effective threshold.
func (p InjectionPolicy) threshold() float64 {
	if p.Threshold == 0 {
		return DefaultInjectionThreshold
	}
	return p.Threshold
}

// OutputPolicy says what to do with findings in answers. Pseudonymize is
// not an output action: the placeholders the input guard made are always
// swapped back, whatever this policy says.
type OutputPolicy struct {
	PII, Secrets ClassPolicy
}

// Policy is the guardrail configuration for one call. Policies are values;
// per-model, per-key and per-team overrides are merged onto a base with
// Merge.
type Policy struct {
	// PII and Secrets say what to do with findings in prompts.
	PII, Secrets ClassPolicy
	// Injection says what to do with a likely prompt injection.
	Injection InjectionPolicy
	// Output says what to do with findings in answers.
	Output OutputPolicy
}

// DefaultInjectionThreshold is the injection score from which the
// injection action applies when a policy sets none.
const DefaultInjectionThreshold = 0.8

// Default returns the policy Warden applies unless configured otherwise:
//
//   - PII in prompts is redacted: the model rarely needs the actual
//     address or number to do its work, and a placeholder keeps the
//     sentence readable.
//   - Secrets in prompts block the call: a key pasted into a prompt is a
//     leak to a third party, and the caller should learn of it rather
//     than have it quietly edited.
//   - Prompt injection is flagged from a score of 0.8: heuristic scores
//     have false positives, so they inform the audit log and alerts
//     rather than refuse by default.
//   - In answers, secrets are redacted (a model can repeat a key it saw in
//     a document) and PII is flagged: answers legitimately contain names
//     and addresses the caller asked about.
func Default() Policy {
	return Policy{
		PII:       ClassPolicy{Action: Redact},
		Secrets:   ClassPolicy{Action: Block},
		Injection: InjectionPolicy{Action: Flag, Threshold: DefaultInjectionThreshold},
		Output: OutputPolicy{
			PII:     ClassPolicy{Action: Flag},
			Secrets: ClassPolicy{Action: Redact},
		},
	}
}

// Merge returns p with the fields that override sets replacing p's: a
// non-empty action, a non-zero threshold, and per-type actions, which are
// merged type by type. Zero fields keep p's value, so an override names
// only what it changes. Neither p nor override is modified.
func (p Policy) Merge(override Policy) Policy {
	p.PII = p.PII.merge(override.PII)
	p.Secrets = p.Secrets.merge(override.Secrets)
	if override.Injection.Action != "" {
		p.Injection.Action = override.Injection.Action
	}
	if override.Injection.Threshold != 0 {
		p.Injection.Threshold = override.Injection.Threshold
	}
	p.Output.PII = p.Output.PII.merge(override.Output.PII)
	p.Output.Secrets = p.Output.Secrets.merge(override.Output.Secrets)
	return p
}

// Check reports every problem with p at once: unknown actions, actions
// that make no sense where they are used (pseudonymize in answers; redact
// for injection, which is a score for the whole request) and thresholds
// outside [0, 1]. Empty actions are valid, so that overrides can be
// checked too.
func (p Policy) Check() error {
	var errs []error
	inputActions := []Action{Allow, Flag, Redact, Mask, Pseudonymize, Block}
	outputActions := []Action{Allow, Flag, Redact, Mask, Block}
	errs = p.PII.check("pii", inputActions, errs)
	errs = p.Secrets.check("secrets", inputActions, errs)
	errs = p.Output.PII.check("output.pii", outputActions, errs)
	errs = p.Output.Secrets.check("output.secrets", outputActions, errs)
	if a := p.Injection.Action; a != "" && !slices.Contains([]Action{Allow, Flag, Block}, a) {
		errs = append(errs, fmt.Errorf("guard policy: injection.action %q is not one of allow, flag, block", a))
	}
	// The negated form also refuses NaN.
	if t := p.Injection.Threshold; !(t >= 0 && t <= 1) {
		errs = append(errs, fmt.Errorf("guard policy: injection.threshold %v is outside 0..1 (0 means the default, %v)", t, DefaultInjectionThreshold))
	}
	return errors.Join(errs...)
}

func (c ClassPolicy) check(name string, allowed []Action, errs []error) []error {
	if c.Action != "" && !slices.Contains(allowed, c.Action) {
		errs = append(errs, fmt.Errorf("guard policy: %s.action %q is not one of %v", name, c.Action, allowed))
	}
	for _, typ := range slices.Sorted(maps.Keys(c.Types)) {
		a := c.Types[typ]
		switch {
		case typ == "":
			errs = append(errs, fmt.Errorf("guard policy: %s.types has an empty type name", name))
		case a != "" && !slices.Contains(allowed, a):
			errs = append(errs, fmt.Errorf("guard policy: %s.types[%s] %q is not one of %v", name, typ, a, allowed))
		}
	}
	return errs
}
