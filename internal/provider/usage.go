package provider

import (
	"bytes"
	"encoding/json"
)

// Usage is what a call consumed, in one shape for every provider.
// InputTokens counts all input tokens, including those read from and
// written to the provider's prompt cache; CachedInputTokens and
// CacheWriteInputTokens are those parts of it, which are priced
// differently. (Anthropic reports the three apart; they are added up
// here so that InputTokens means the same for every provider.)
type Usage struct {
	InputTokens, OutputTokens, CachedInputTokens int64
	CacheWriteInputTokens                        int64
	// Known is false when the response carried no usable usage report.
	Known bool
}

// maxTokens bounds every count. A larger value is taken as malformed
// rather than billed; it also keeps the sums far from overflow.
const maxTokens = 1 << 40

// wireUsage is the "usage" object of OpenAI (chat and completions use
// prompt/completion_tokens, the Responses API input/output_tokens) and of
// Anthropic. Fields are pointers so that absent and zero differ.
type wireUsage struct {
	PromptTokens     *int64        `json:"prompt_tokens"`
	CompletionTokens *int64        `json:"completion_tokens"`
	InputTokens      *int64        `json:"input_tokens"`
	OutputTokens     *int64        `json:"output_tokens"`
	PromptDetails    *cachedTokens `json:"prompt_tokens_details"`
	InputDetails     *cachedTokens `json:"input_tokens_details"`
	CacheRead        *int64        `json:"cache_read_input_tokens"`
	CacheCreation    *int64        `json:"cache_creation_input_tokens"`
}

type cachedTokens struct {
	CachedTokens *int64 `json:"cached_tokens"`
}

// googleUsage is Gemini's usageMetadata.
type googleUsage struct {
	PromptTokenCount        *int64 `json:"promptTokenCount"`
	CandidatesTokenCount    *int64 `json:"candidatesTokenCount"`
	CachedContentTokenCount *int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      *int64 `json:"thoughtsTokenCount"`
}

// merge overwrites w's fields with those o has. Anthropic's message_delta
// counts are cumulative, so the latest value of each field is the total.
func (w *wireUsage) merge(o *wireUsage) {
	set := func(dst **int64, src *int64) {
		if src != nil {
			*dst = src
		}
	}
	set(&w.PromptTokens, o.PromptTokens)
	set(&w.CompletionTokens, o.CompletionTokens)
	set(&w.InputTokens, o.InputTokens)
	set(&w.OutputTokens, o.OutputTokens)
	set(&w.CacheRead, o.CacheRead)
	set(&w.CacheCreation, o.CacheCreation)
	if o.PromptDetails != nil && o.PromptDetails.CachedTokens != nil {
		w.PromptDetails = o.PromptDetails
	}
	if o.InputDetails != nil && o.InputDetails.CachedTokens != nil {
		w.InputDetails = o.InputDetails
	}
}

// count reads an optional count: absent is 0, out of range is not ok.
func count(p *int64, ok *bool) int64 {
	if p == nil {
		return 0
	}
	if *p < 0 || *p > maxTokens {
		*ok = false
		return 0
	}
	return *p
}

// usage converts w. Anthropic reports input_tokens without the cached
// parts, OpenAI's input and prompt counts include them; anthropic says
// which reading applies.
func (w *wireUsage) usage(anthropic bool) Usage {
	ok := true
	var u Usage
	switch {
	case (anthropic || w.CacheRead != nil || w.CacheCreation != nil) && w.InputTokens != nil:
		read, write := count(w.CacheRead, &ok), count(w.CacheCreation, &ok)
		u = Usage{
			InputTokens:           count(w.InputTokens, &ok) + read + write,
			OutputTokens:          count(w.OutputTokens, &ok),
			CachedInputTokens:     read,
			CacheWriteInputTokens: write,
		}
	case w.PromptTokens != nil:
		u = Usage{InputTokens: count(w.PromptTokens, &ok), OutputTokens: count(w.CompletionTokens, &ok)}
		if w.PromptDetails != nil {
			u.CachedInputTokens = count(w.PromptDetails.CachedTokens, &ok)
		}
	case w.InputTokens != nil:
		u = Usage{InputTokens: count(w.InputTokens, &ok), OutputTokens: count(w.OutputTokens, &ok)}
		if w.InputDetails != nil {
			u.CachedInputTokens = count(w.InputDetails.CachedTokens, &ok)
		}
	default:
		return Usage{}
	}
	if !ok || u.CachedInputTokens > u.InputTokens {
		return Usage{}
	}
	u.Known = true
	return u
}

// usage converts g. Thinking tokens are billed as output, and Gemini
// counts them apart from the candidates.
func (g *googleUsage) usage() Usage {
	if g.PromptTokenCount == nil {
		return Usage{}
	}
	ok := true
	u := Usage{
		InputTokens:       count(g.PromptTokenCount, &ok),
		OutputTokens:      count(g.CandidatesTokenCount, &ok) + count(g.ThoughtsTokenCount, &ok),
		CachedInputTokens: count(g.CachedContentTokenCount, &ok),
	}
	if !ok || u.CachedInputTokens > u.InputTokens {
		return Usage{}
	}
	u.Known = true
	return u
}

// usageDoc is the part of a response body that reports usage.
type usageDoc struct {
	Usage         *wireUsage   `json:"usage"`
	UsageMetadata *googleUsage `json:"usageMetadata"`
}

// ParseUsage reads usage from a non-streaming response body: OpenAI
// (usage.prompt_tokens, completion_tokens and
// prompt_tokens_details.cached_tokens; embeddings have prompt_tokens only;
// the Responses API has usage.input_tokens, output_tokens and
// input_tokens_details.cached_tokens), Anthropic (usage.input_tokens,
// output_tokens, cache_read_input_tokens, cache_creation_input_tokens) and
// Google (usageMetadata; a JSON array of chunks, as streamGenerateContent
// returns without alt=sse, gives the last chunk's). Token counting
// (OpMessages count_tokens) is free, so it is Known with zero counts. A
// missing, malformed or out-of-range report gives Known false.
func (a *Adapter) ParseUsage(op Op, body []byte) Usage {
	if op == OpCountTokens {
		return Usage{Known: true}
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var chunks []json.RawMessage
		if json.Unmarshal(body, &chunks) != nil || len(chunks) == 0 {
			return Usage{}
		}
		body = chunks[len(chunks)-1]
	}
	var doc usageDoc
	if json.Unmarshal(body, &doc) != nil {
		return Usage{}
	}
	switch {
	case doc.Usage != nil:
		return doc.Usage.usage(a.typ == Anthropic || op == OpMessages)
	case doc.UsageMetadata != nil:
		return doc.UsageMetadata.usage()
	}
	return Usage{}
}
