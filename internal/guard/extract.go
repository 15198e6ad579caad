package guard

import (
	"strings"

	"github.com/wardenproject/warden/internal/provider"
)

// textRef is a JSON string value that holds text the guard inspects.
type textRef struct {
	v span // the string value, quotes included
	// untrusted marks text from the user or from tools, which is what the
	// injection check scores. System and developer prompts and earlier
	// assistant turns come from the application and are not scored: an
	// application does not inject into itself, and scoring its long system
	// prompts would mostly add false positives.
	untrusted bool
}

// extractor collects the text values of one document.
type extractor struct {
	doc  []byte
	refs []textRef
	// scored says whether the operation makes a model act on the text; for
	// embeddings, moderations and token counting nothing is scored.
	scored bool
}

func (x *extractor) str(v span, untrusted bool) {
	if isString(x.doc, v) {
		x.refs = append(x.refs, textRef{v, untrusted && x.scored})
	}
}

// each calls str for every member name of the object at v, duplicates
// included: if a caller sends a key twice, every copy is inspected.
func (x *extractor) each(v span, name string, fn func(span)) {
	for k, val := range members(x.doc, v) {
		if stringIs(x.doc, k, name) {
			fn(val)
		}
	}
}

func (x *extractor) all(v span, untrusted bool) {
	for _, s := range allStrings(x.doc, v, nil) {
		x.str(s, untrusted)
	}
}

// stringOrStrings takes a string, or every string inside an array (arrays
// of token ids hold none).
func (x *extractor) stringOrStrings(v span, untrusted bool) {
	switch kind(x.doc, v) {
	case '"':
		x.str(v, untrusted)
	case '[':
		x.all(v, untrusted)
	}
}

// trustedRole reports whether a message role is the application's own
// voice. Unknown roles count as untrusted.
func trustedRole(role string) bool {
	switch role {
	case "system", "developer", "assistant":
		return true
	}
	return false
}

// roleUntrusted returns whether the message at m is untrusted. With
// duplicate role keys, any untrusted one makes it untrusted.
func (x *extractor) roleUntrusted(m span) bool {
	seen := false
	for k, val := range members(x.doc, m) {
		if stringIs(x.doc, k, "role") {
			seen = true
			if !isString(x.doc, val) || !trustedRole(decodeString(x.doc, val)) {
				return true
			}
		}
	}
	return !seen
}

// extractInput returns the prompt texts of a request body for op. doc is
// valid JSON.
func extractInput(doc []byte, op provider.Op, dst []textRef) []textRef {
	x := &extractor{doc: doc, refs: dst, scored: true}
	r := root(doc)
	switch op {
	case provider.OpChat:
		x.each(r, "messages", func(msgs span) {
			for _, m := range elems(doc, msgs) {
				u := x.roleUntrusted(m)
				x.each(m, "content", func(c span) { x.chatContent(c, u) })
			}
		})
	case provider.OpCompletions:
		x.each(r, "prompt", func(v span) { x.stringOrStrings(v, true) })
		x.each(r, "suffix", func(v span) { x.str(v, true) })
	case provider.OpEmbeddings:
		x.scored = false
		x.each(r, "input", func(v span) { x.stringOrStrings(v, false) })
	case provider.OpModerations:
		x.scored = false
		x.each(r, "input", x.moderationInput)
	case provider.OpResponses:
		x.each(r, "instructions", func(v span) { x.str(v, false) })
		x.each(r, "input", x.responsesInput)
	case provider.OpMessages, provider.OpCountTokens:
		x.scored = op == provider.OpMessages
		x.each(r, "system", func(v span) { x.anthropicContent(v, false) })
		x.each(r, "messages", func(msgs span) {
			for _, m := range elems(doc, msgs) {
				u := x.roleUntrusted(m)
				x.each(m, "content", func(c span) { x.anthropicContent(c, u) })
			}
		})
	case provider.OpImages:
		x.each(r, "prompt", func(v span) { x.str(v, true) })
	case provider.OpSpeech:
		x.scored = false
		x.each(r, "input", func(v span) { x.str(v, false) })
	default:
		// Pass-through and anything else: every string value, since the
		// guard cannot know which of them a model will read.
		x.all(r, true)
	}
	return x.refs
}

// chatContent takes an OpenAI chat message's content: a string, or an
// array of parts of which text and refusal parts hold text. Image, audio
// and file parts hold URLs and base64 data, not prose, and are skipped;
// parts of any other type are inspected whole, so that a new part type
// does not slip past.
func (x *extractor) chatContent(c span, u bool) {
	switch kind(x.doc, c) {
	case '"':
		x.str(c, u)
	case '[':
		for _, part := range elems(x.doc, c) {
			x.part(part, u)
		}
	case '{':
		x.all(c, u)
	}
}

// part takes one content part of an OpenAI chat or responses message.
func (x *extractor) part(p span, u bool) {
	switch kind(x.doc, p) {
	case '"':
		x.str(p, u)
		return
	case '{':
	default:
		return
	}
	switch lookupString(x.doc, p, "type") {
	case "text", "input_text", "output_text":
		x.each(p, "text", func(v span) { x.str(v, u) })
	case "refusal":
		x.each(p, "refusal", func(v span) { x.str(v, u) })
	case "image_url", "input_image", "input_audio", "file", "input_file":
	default:
		x.all(p, u)
	}
}

// moderationInput takes a moderation input: a string, strings, or
// multimodal parts of which text parts hold text.
func (x *extractor) moderationInput(v span) {
	switch kind(x.doc, v) {
	case '"':
		x.str(v, false)
	case '[':
		for _, e := range elems(x.doc, v) {
			x.part(e, false)
		}
	}
}

// responsesInput takes the input of a Responses API request: a string (a
// user message) or a list of items. Message items hold content; tool
// output items (function_call_output and the other *_call_output types)
// hold what a tool returned, which is untrusted. Other items (earlier
// function calls, reasoning, references) are the model's own output or
// opaque, and are skipped.
func (x *extractor) responsesInput(v span) {
	switch kind(x.doc, v) {
	case '"':
		x.str(v, true)
	case '[':
		for _, item := range elems(x.doc, v) {
			if !isObject(x.doc, item) {
				x.str(item, true)
				continue
			}
			typ := lookupString(x.doc, item, "type")
			_, hasRole := lookup(x.doc, item, "role")
			switch {
			case hasRole || typ == "message":
				u := x.roleUntrusted(item)
				x.each(item, "content", func(c span) { x.chatContent(c, u) })
			case strings.HasSuffix(typ, "_call_output"):
				x.each(item, "output", func(o span) { x.chatContent(o, true) })
			}
		}
	}
}

// anthropicContent takes an Anthropic system prompt or message content: a
// string or an array of blocks. Text blocks hold text; tool results hold a
// string or blocks of their own; text documents hold their data. Images,
// tool calls and thinking blocks are skipped (thinking blocks carry a
// signature that any edit would break).
func (x *extractor) anthropicContent(c span, u bool) {
	switch kind(x.doc, c) {
	case '"':
		x.str(c, u)
	case '[':
		for _, b := range elems(x.doc, c) {
			x.anthropicBlock(b, u)
		}
	}
}

func (x *extractor) anthropicBlock(b span, u bool) {
	switch lookupString(x.doc, b, "type") {
	case "text":
		x.each(b, "text", func(v span) { x.str(v, u) })
	case "tool_result":
		x.each(b, "content", func(v span) { x.anthropicContent(v, u) })
	case "document":
		x.each(b, "source", func(src span) {
			if lookupString(x.doc, src, "type") == "text" {
				x.each(src, "data", func(v span) { x.str(v, u) })
			}
		})
	}
}

// extractOutput returns the answer texts of a response body for op, with
// r the span of the response object. Other operations' answers hold no
// text the guard inspects (vectors, scores, images, audio), except for
// pass-through, where every string is inspected.
func extractOutput(doc []byte, op provider.Op, r span, dst []textRef) []textRef {
	x := &extractor{doc: doc, refs: dst}
	switch op {
	case provider.OpChat:
		x.each(r, "choices", func(cs span) {
			for _, c := range elems(doc, cs) {
				x.each(c, "message", func(m span) {
					x.each(m, "content", func(v span) { x.chatContent(v, false) })
				})
			}
		})
	case provider.OpCompletions:
		x.each(r, "choices", func(cs span) {
			for _, c := range elems(doc, cs) {
				x.each(c, "text", func(v span) { x.str(v, false) })
			}
		})
	case provider.OpResponses:
		x.each(r, "output", func(items span) {
			for _, item := range elems(doc, items) {
				x.responsesItem(item)
			}
		})
	case provider.OpMessages:
		x.each(r, "content", func(v span) { x.anthropicContent(v, false) })
	case provider.OpPassthrough:
		x.all(r, false)
	}
	return x.refs
}

// responsesItem takes the text parts of one output item of a response.
func (x *extractor) responsesItem(item span) {
	if lookupString(x.doc, item, "type") != "message" {
		return
	}
	x.each(item, "content", func(c span) {
		for _, p := range elems(x.doc, c) {
			if lookupString(x.doc, p, "type") == "output_text" {
				x.each(p, "text", func(v span) { x.str(v, false) })
			}
		}
	})
}
