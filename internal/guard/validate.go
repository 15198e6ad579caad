package guard

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/provider"
)

// ValidationLimits bounds what a request may ask for. Zero fields impose
// no limit.
type ValidationLimits struct {
	// MaxMessages bounds the number of messages (or Responses input
	// items) in a request.
	MaxMessages int
	// MaxChars bounds the characters of prompt text in a request, over
	// every text the input guard would inspect.
	MaxChars int
	// MaxTokens bounds max_tokens, max_completion_tokens and
	// max_output_tokens.
	MaxTokens int
	// AllowedParams, when not nil, is the set of top-level parameters a
	// request may carry; any other is refused. The fields an operation
	// requires are always allowed.
	AllowedParams map[string]bool
}

// Roles a message may have.
var (
	openAIRoles    = []string{"system", "user", "assistant", "tool", "developer", "function"}
	responsesRoles = []string{"system", "user", "assistant", "developer"}
	anthropicRoles = []string{"user", "assistant"}
)

// requiredParams are the top-level fields each operation must have.
var requiredParams = map[provider.Op][]string{
	provider.OpChat:        {"model", "messages"},
	provider.OpCompletions: {"model", "prompt"},
	provider.OpEmbeddings:  {"model", "input"},
	provider.OpResponses:   {"model", "input"},
	provider.OpModerations: {"model", "input"},
	provider.OpMessages:    {"model", "messages", "max_tokens"},
	provider.OpCountTokens: {"model", "messages"},
	provider.OpImages:      {"model", "prompt"},
	provider.OpSpeech:      {"model", "input"},
}

// maxTokenParams are the fields that bound the length of an answer.
var maxTokenParams = map[provider.Op][]string{
	provider.OpChat:        {"max_tokens", "max_completion_tokens"},
	provider.OpCompletions: {"max_tokens"},
	provider.OpResponses:   {"max_output_tokens"},
	provider.OpMessages:    {"max_tokens"},
}

// Validate checks a request body for op before it goes anywhere: that it
// is a JSON object with the fields the operation requires, of the right
// types, that messages have known roles and well-formed content, and that
// it stays within limits. The error is an *apperr.Error (Invalid, 400)
// whose Param names the field at fault, e.g. "messages[2].role".
// Pass-through and multipart (transcription) bodies are not validated:
// their shape is the upstream's business.
func Validate(op provider.Op, body []byte, l ValidationLimits) error {
	required, known := requiredParams[op]
	if !known {
		return nil
	}
	if !json.Valid(body) {
		return apperr.New(apperr.Invalid, "the request body is not valid JSON")
	}
	r := root(body)
	if !isObject(body, r) {
		return apperr.New(apperr.Invalid, "the request body must be a JSON object")
	}
	// The top-level members are listed once; every check below looks them
	// up in this list instead of scanning the body again.
	v := validator{doc: body, op: op, top: make([]field, 0, 16)}
	for k, val := range members(body, r) {
		v.top = append(v.top, field{decodeString(body, k), val})
	}
	if l.AllowedParams != nil {
		for _, f := range v.top {
			if !l.AllowedParams[f.name] && !contains(required, f.name) {
				return invalid(f.name, fmt.Sprintf("unrecognized request argument %q; this gateway does not allow it", f.name))
			}
		}
	}
	for _, name := range required {
		f, ok := v.get(name)
		if !ok || isNull(body, f) {
			return invalid(name, fmt.Sprintf("you must provide the %s parameter", name))
		}
	}
	if err := v.common(l); err != nil {
		return err
	}
	if err := v.shape(l); err != nil {
		return err
	}
	if l.MaxChars > 0 {
		n := 0
		for _, ref := range extractInput(body, op, nil) {
			n += utf8.RuneCountInString(decodeString(body, ref.v))
		}
		if n > l.MaxChars {
			// The main text field takes the blame: the total is over all.
			return invalid(required[1], fmt.Sprintf("the prompt has %d characters; this gateway allows at most %d", n, l.MaxChars))
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func invalid(param, msg string) error {
	return &apperr.Error{Code: apperr.Invalid, Param: param, Message: msg}
}

type validator struct {
	doc []byte
	op  provider.Op
	top []field
}

// field is a top-level member of a request.
type field struct {
	name string
	v    span
}

// get returns the top-level member name; the last one if it is repeated,
// as lookup does.
func (v validator) get(name string) (span, bool) {
	for i := len(v.top) - 1; i >= 0; i-- {
		if v.top[i].name == name {
			return v.top[i].v, true
		}
	}
	return span{}, false
}

// common checks the parameters most operations share.
func (v validator) common(l ValidationLimits) error {
	m, _ := v.get("model")
	if !isString(v.doc, m) || m.end-m.start == 2 {
		return invalid("model", "model must be a non-empty string")
	}
	for _, tf := range v.top {
		name, f := tf.name, tf.v
		switch name {
		case "stream":
			if c := kind(v.doc, f); c != 't' && c != 'f' && c != 'n' {
				return invalid(name, "stream must be true or false")
			}
		case "temperature", "top_p", "frequency_penalty", "presence_penalty":
			if !isNumber(v.doc, f) && !isNull(v.doc, f) {
				return invalid(name, name+" must be a number")
			}
		case "n":
			if !isNull(v.doc, f) {
				if n, ok := parseUint(v.doc[f.start:f.end]); !ok || n < 1 {
					return invalid(name, "n must be a positive integer")
				}
			}
		}
		if contains(maxTokenParams[v.op], name) && !isNull(v.doc, f) {
			n, ok := parseUint(v.doc[f.start:f.end])
			if !ok || n < 1 {
				return invalid(name, name+" must be a positive integer")
			}
			if l.MaxTokens > 0 && n > l.MaxTokens {
				return invalid(name, fmt.Sprintf("%s is %d; this gateway allows at most %d", name, n, l.MaxTokens))
			}
		}
	}
	return nil
}

func isNumber(doc []byte, v span) bool {
	c := kind(doc, v)
	return c == '-' || c >= '0' && c <= '9'
}

// shape checks the operation's own fields.
func (v validator) shape(l ValidationLimits) error {
	switch v.op {
	case provider.OpChat:
		return v.messages(l, openAIRoles, v.openAIContent)
	case provider.OpMessages, provider.OpCountTokens:
		if s, ok := v.get("system"); ok && !isNull(v.doc, s) {
			if err := v.blocks("system", s); err != nil {
				return err
			}
		}
		return v.messages(l, anthropicRoles, v.anthropicContent)
	case provider.OpCompletions:
		return v.stringOrArray("prompt")
	case provider.OpEmbeddings, provider.OpModerations:
		return v.stringOrArray("input")
	case provider.OpResponses:
		return v.responsesInput(l)
	case provider.OpImages:
		return v.stringField("prompt")
	case provider.OpSpeech:
		return v.stringField("input")
	}
	return nil
}

func (v validator) stringField(name string) error {
	f, _ := v.get(name)
	if !isString(v.doc, f) {
		return invalid(name, name+" must be a string")
	}
	return nil
}

func (v validator) stringOrArray(name string) error {
	f, _ := v.get(name)
	if !isString(v.doc, f) && !isArray(v.doc, f) {
		return invalid(name, name+" must be a string or an array")
	}
	return nil
}

// messages checks a messages array: its length, each message's role and
// content.
func (v validator) messages(l ValidationLimits, roles []string, content func(param string, role string, c span, ok bool) error) error {
	msgs, _ := v.get("messages")
	if !isArray(v.doc, msgs) {
		return invalid("messages", "messages must be an array")
	}
	n := 0
	for i, m := range elems(v.doc, msgs) {
		n++
		param := fmt.Sprintf("messages[%d]", i)
		if !isObject(v.doc, m) {
			return invalid(param, param+" must be an object")
		}
		rv, ok := lookup(v.doc, m, "role")
		if !ok || !isString(v.doc, rv) {
			return invalid(param+".role", param+".role is required and must be a string")
		}
		role := decodeString(v.doc, rv)
		if !contains(roles, role) {
			return invalid(param+".role", fmt.Sprintf("%s.role %q is not one of %s", param, role, strings.Join(roles, ", ")))
		}
		c, ok := lookup(v.doc, m, "content")
		if err := content(param+".content", role, c, ok); err != nil {
			return err
		}
	}
	if n == 0 {
		return invalid("messages", "messages must not be empty")
	}
	if l.MaxMessages > 0 && n > l.MaxMessages {
		return invalid("messages", fmt.Sprintf("the request has %d messages; this gateway allows at most %d", n, l.MaxMessages))
	}
	return nil
}

// openAIContent checks a chat message's content: a string or an array of
// typed parts; assistant (with tool calls) and function messages may have
// none.
func (v validator) openAIContent(param, role string, c span, ok bool) error {
	if !ok || isNull(v.doc, c) {
		if role == "assistant" || role == "function" {
			return nil
		}
		return invalid(param, param+" is required for "+role+" messages")
	}
	return v.blocks(param, c)
}

// anthropicContent checks an Anthropic message's content: a string or an
// array of typed blocks.
func (v validator) anthropicContent(param, _ string, c span, ok bool) error {
	if !ok || isNull(v.doc, c) {
		return invalid(param, param+" is required")
	}
	return v.blocks(param, c)
}

// blocks checks a string or an array of objects that each have a string
// "type".
func (v validator) blocks(param string, c span) error {
	switch kind(v.doc, c) {
	case '"':
		return nil
	case '[':
		for j, p := range elems(v.doc, c) {
			pp := fmt.Sprintf("%s[%d]", param, j)
			if !isObject(v.doc, p) {
				return invalid(pp, pp+" must be an object")
			}
			if t, ok := lookup(v.doc, p, "type"); !ok || !isString(v.doc, t) {
				return invalid(pp+".type", pp+".type is required and must be a string")
			}
		}
		return nil
	}
	return invalid(param, param+" must be a string or an array of content parts")
}

// responsesInput checks a Responses API input: a string or an array of
// items, of which messages need a known role and content.
func (v validator) responsesInput(l ValidationLimits) error {
	in, _ := v.get("input")
	switch kind(v.doc, in) {
	case '"':
		return nil
	case '[':
	default:
		return invalid("input", "input must be a string or an array of input items")
	}
	n := 0
	for i, item := range elems(v.doc, in) {
		n++
		param := fmt.Sprintf("input[%d]", i)
		if !isObject(v.doc, item) {
			return invalid(param, param+" must be an object")
		}
		rv, hasRole := lookup(v.doc, item, "role")
		if !hasRole {
			if t, ok := lookup(v.doc, item, "type"); !ok || !isString(v.doc, t) {
				return invalid(param+".type", param+" needs a role or a type")
			}
			continue
		}
		if !isString(v.doc, rv) || !contains(responsesRoles, decodeString(v.doc, rv)) {
			return invalid(param+".role", fmt.Sprintf("%s.role must be one of %s", param, strings.Join(responsesRoles, ", ")))
		}
		c, ok := lookup(v.doc, item, "content")
		if !ok || isNull(v.doc, c) {
			return invalid(param+".content", param+".content is required")
		}
		if err := v.blocks(param+".content", c); err != nil {
			return err
		}
	}
	if l.MaxMessages > 0 && n > l.MaxMessages {
		return invalid("input", fmt.Sprintf("the request has %d input items; this gateway allows at most %d", n, l.MaxMessages))
	}
	return nil
}
