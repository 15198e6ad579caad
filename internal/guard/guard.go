// Package guard is Warden's guardrail engine. It reads prompts on the way
// to a model and answers on the way back, finds personal data and secrets
// with the detectors of package detect, scores prompts for injection, and
// acts on what it finds as the call's Policy says: let it pass, flag it in
// the verdicts, redact, mask or pseudonymize it, or refuse the call. It
// also validates request bodies (required fields, types, roles, limits)
// before they are sent anywhere.
//
// The guard knows the wire formats of the operations the gateway routes
// (OpenAI chat, completions, embeddings, responses and moderations;
// Anthropic messages and token counting) and where their text lives. On a
// pass-through route it inspects every string value of a JSON body (or the
// whole body, if it is UTF-8 text). Bodies are rewritten by splicing: only
// the string values whose text changes are replaced, and every other byte
// goes upstream as the caller sent it.
//
// Streamed answers go through a StreamGuard, which holds back a short
// window of text so that a secret or placeholder split across events is
// still caught, and forwards everything else at once.
package guard

import (
	"context"
	"errors"

	"github.com/wardenproject/warden/internal/detect"
)

// InjectionScorer rates how likely a text is to be a prompt injection,
// from 0 (benign) to 1 (certain). Implementations are safe for concurrent
// use.
type InjectionScorer interface {
	Score(ctx context.Context, text string) (float64, error)
}

// ClassInjection is the verdict class of the prompt-injection check.
const ClassInjection detect.Class = "injection"

// TypeInjection is the verdict type of the prompt-injection check.
const TypeInjection = "prompt_injection"

// DefaultMaxFindingLen is the default for Options.MaxFindingLen. Keys and
// tokens run to about 200 bytes (a JWT can be longer, but its header alone
// identifies it); personal data is far shorter.
const DefaultMaxFindingLen = 256

// Options configures a Guard. Every field but MaxFindingLen is required:
// a policy may turn a check off, but a missing detector is a
// configuration error, not a quietly disabled check.
type Options struct {
	// PII finds personal data; findings whose Class is empty count as PII.
	PII detect.Detector
	// Secrets finds keys and tokens; findings whose Class is empty count
	// as secrets.
	Secrets detect.Detector
	// Injection scores prompts for injection.
	Injection InjectionScorer
	// MaxFindingLen is the longest match, in bytes, the detectors can
	// report. A StreamGuard holds back this much text of an answer (or the
	// longest pseudonym placeholder, if longer) so that a match split
	// across events is seen whole. Zero means DefaultMaxFindingLen. A
	// longer match may still be caught, but its start can have been sent.
	MaxFindingLen int
}

// Guard applies guardrail policies to requests and answers. It is
// immutable and safe for concurrent use.
type Guard struct {
	pii, sec detect.Detector
	inj      InjectionScorer
	window   int
}

// New returns a Guard, or an error naming the missing dependency.
func New(o Options) (*Guard, error) {
	var errs []error
	if o.PII == nil {
		errs = append(errs, errors.New("guard: no PII detector; pass detect's PII detector"))
	}
	if o.Secrets == nil {
		errs = append(errs, errors.New("guard: no secret detector; pass detect's secret detector"))
	}
	if o.Injection == nil {
		errs = append(errs, errors.New("guard: no injection scorer; pass one (a policy with injection action allow turns scoring off)"))
	}
	if o.MaxFindingLen < 0 {
		errs = append(errs, errors.New("guard: MaxFindingLen must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	w := o.MaxFindingLen
	if w == 0 {
		w = DefaultMaxFindingLen
	}
	return &Guard{pii: o.PII, sec: o.Secrets, inj: o.Injection, window: w}, nil
}

// Verdict is one line of what the guard found in a request or answer:
// Count findings of one class and type, and the action taken on them.
type Verdict struct {
	// Class is detect.PII, detect.Secret or ClassInjection.
	Class detect.Class
	// Type is the finding type ("email", "openai_key"), or TypeInjection.
	Type string
	// Action is what was done. For injection it is Allow when the score
	// stayed below the threshold.
	Action Action
	// Count is the number of findings (for injection, 1 when the
	// threshold was reached and 0 otherwise).
	Count int
	// Score is the injection score; zero for other classes.
	Score float64
}

// ScorerFunc adapts a function to InjectionScorer.
type ScorerFunc func(ctx context.Context, text string) (float64, error)

// Score calls f.
func (f ScorerFunc) Score(ctx context.Context, text string) (float64, error) { return f(ctx, text) }
