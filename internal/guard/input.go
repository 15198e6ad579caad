package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/provider"
)

// InputResult is what the input guard made of a request.
type InputResult struct {
	// Body is the request body to send upstream: rewritten, or the very
	// slice that was passed in if nothing changed.
	Body []byte
	// Verdicts lists what was found and done, for the audit log and
	// metrics. It is filled when the request is refused, too.
	Verdicts []Verdict
	// Pseudonyms holds the placeholders to swap back in the answer; nil
	// if nothing was pseudonymized.
	Pseudonyms *Pseudonyms
}

// Input inspects a request body for op under policy p. It finds personal
// data and secrets in every prompt text, acts on each finding as p says,
// and scores untrusted text (user and tool content) for prompt injection.
//
// A finding whose action is Block refuses the request with an
// *apperr.Error of code ContentBlocked; an injection score at or above the
// threshold with action Block refuses it with code PromptInjection. The
// messages name what was found, never the text. The injection scorer
// failing refuses the request too (Unavailable): a check that cannot run
// does not pass. InputResult.Verdicts is filled in every case.
//
// Multipart bodies (audio transcriptions) are not inspected; nor is a
// pass-through body that is neither JSON nor UTF-8 text.
func (g *Guard) Input(ctx context.Context, op provider.Op, body []byte, p Policy) (InputResult, error) {
	res := InputResult{Body: body}
	e := g.newEngine(p.PII, p.Secrets, nil)
	inj := p.Injection.Action == Flag || p.Injection.Action == Block
	if !e.active() && !inj || op == provider.OpTranscriptions {
		return res, nil
	}
	var refs []textRef
	raw := false
	switch {
	case json.Valid(body):
		refs = extractInput(body, op, make([]textRef, 0, 8))
	case op == provider.OpPassthrough:
		if !utf8.Valid(body) {
			return res, nil
		}
		raw = true
		refs = []textRef{{v: span{0, len(body)}, untrusted: true}}
	default:
		return res, apperr.New(apperr.Invalid, "the request body is not valid JSON")
	}

	ps := &Pseudonyms{}
	e.names.ps = ps
	var (
		edits                  []edit
		untrusted              []string
		rewrites, flags, block []hit
		buf                    []byte
	)
	for _, r := range refs {
		var text string
		if raw {
			text = string(body)
		} else {
			text = decodeString(body, r.v)
		}
		if inj && r.untrusted && text != "" {
			untrusted = append(untrusted, text)
		}
		if !e.active() {
			continue
		}
		rewrites, flags, block = e.scan(text, rewrites[:0], flags[:0], block[:0])
		e.count(flags)
		if len(block) > 0 {
			e.count(block)
			res.Verdicts = e.verdicts(nil)
			return res, blocked("request", block)
		}
		if len(rewrites) == 0 {
			continue
		}
		e.count(rewrites)
		buf = e.render(buf[:0], text, rewrites)
		if raw {
			edits = append(edits, edit{r.v, append([]byte(nil), buf...)})
		} else {
			edits = append(edits, edit{r.v, appendJSONStringBytes(make([]byte, 0, len(buf)+8), buf)})
		}
	}
	res.Verdicts = e.verdicts(nil)

	if inj && len(untrusted) > 0 {
		score, err := g.inj.Score(ctx, strings.Join(untrusted, "\n\n"))
		if err != nil {
			return res, apperr.Wrap(apperr.Unavailable, "the prompt-injection check could not run; try again", err)
		}
		v := Verdict{Class: ClassInjection, Type: TypeInjection, Action: Allow, Score: score}
		if score >= p.Injection.threshold() {
			v.Action, v.Count = p.Injection.Action, 1
		}
		res.Verdicts = append(res.Verdicts, v)
		if v.Action == Block {
			return res, &apperr.Error{
				Code:    apperr.PromptInjection,
				Message: fmt.Sprintf("the request was blocked as a likely prompt injection (score %.2f)", score),
			}
		}
	}
	res.Body = applyEdits(body, edits)
	if ps.Len() > 0 {
		res.Pseudonyms = ps
	}
	return res, nil
}

// appendJSONStringBytes is appendJSONString for a byte slice.
func appendJSONStringBytes(dst, b []byte) []byte {
	return appendJSONString(dst, string(b))
}

// OutputResult is what the output guard made of an answer.
type OutputResult struct {
	// Body is the answer to send to the caller: rewritten, or the very
	// slice that was passed in if nothing changed.
	Body []byte
	// Verdicts lists what was found and done.
	Verdicts []Verdict
}

// Output inspects a complete (non-streamed) answer for op under p.Output
// and swaps the placeholders in ps back for the original values, whatever
// the policy says. Findings are looked for in the answer as the model
// wrote it, before the swap: values the caller sent come back to the
// caller unchanged, while new ones the model produced meet the policy.
// Placeholders made here for new findings are numbered after those in ps.
//
// A finding whose action is Block refuses the answer (ContentBlocked). An
// answer that should hold text but is not JSON is refused as an Upstream
// error rather than passed on unchecked.
func (g *Guard) Output(ctx context.Context, op provider.Op, body []byte, p Policy, ps *Pseudonyms) (OutputResult, error) {
	res := OutputResult{Body: body}
	e := g.newEngine(p.Output.PII, p.Output.Secrets, ps)
	if !e.active() {
		return res, nil
	}
	var refs []textRef
	raw := false
	switch op {
	case provider.OpChat, provider.OpCompletions, provider.OpResponses, provider.OpMessages, provider.OpPassthrough:
	default:
		return res, nil
	}
	switch {
	case json.Valid(body):
		refs = extractOutput(body, op, root(body), nil)
	case op == provider.OpPassthrough:
		if !utf8.Valid(body) {
			return res, nil
		}
		raw = true
		refs = []textRef{{v: span{0, len(body)}}}
	default:
		return res, apperr.New(apperr.Upstream, "the upstream answer is not valid JSON")
	}
	var edits []edit
	for _, r := range refs {
		text := string(body)
		if !raw {
			text = decodeString(body, r.v)
		}
		out, changed, err := e.whole(text, true)
		if err != nil {
			res.Verdicts = e.verdicts(nil)
			return res, err
		}
		if !changed {
			continue
		}
		if raw {
			edits = append(edits, edit{r.v, []byte(out)})
		} else {
			edits = append(edits, edit{r.v, appendJSONString(nil, out)})
		}
	}
	res.Body = applyEdits(body, edits)
	res.Verdicts = e.verdicts(nil)
	return res, nil
}

// whole applies the engine to a complete answer text, counting what it
// finds if count.
func (e *engine) whole(text string, count bool) (string, bool, error) {
	rewrites, flags, block := e.scan(text, nil, nil, nil)
	if count {
		e.count(flags)
		e.count(block)
	}
	if len(block) > 0 {
		return "", false, blocked("answer", block)
	}
	if len(rewrites) == 0 {
		return text, false, nil
	}
	if count {
		e.count(rewrites)
	}
	return string(e.render(make([]byte, 0, len(text)), text, rewrites)), true, nil
}
