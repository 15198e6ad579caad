package providertest

import (
	"encoding/json"
	"net/http"
)

type messagesRequest struct {
	Model     string             `json:"model"`
	MaxTokens *int               `json:"max_tokens"`
	System    json.RawMessage    `json:"system"`
	Messages  []anthropicMessage `json:"messages"`
	Stream    bool               `json:"stream"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// prompt counts the request's input tokens and finds its last user turn.
func (m messagesRequest) prompt() (tokens int, lastUser string) {
	tokens = Tokens(textOf(m.System))
	for _, msg := range m.Messages {
		t := textOf(msg.Content)
		tokens += Tokens(t)
		if msg.Role == "user" {
			lastUser = t
		}
	}
	return tokens, lastUser
}

type messageObject struct {
	ID           string           `json:"id"`
	Type         string           `json:"type"`
	Role         string           `json:"role"`
	Model        string           `json:"model"`
	Content      []anthropicBlock `json:"content"`
	StopReason   json.RawMessage  `json:"stop_reason"`
	StopSequence json.RawMessage  `json:"stop_sequence"`
	Usage        any              `json:"usage,omitempty"`
}

type anthropicBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthropicUsage struct {
	InputTokens              int    `json:"input_tokens"`
	CacheCreationInputTokens int    `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int    `json:"cache_read_input_tokens"`
	OutputTokens             int    `json:"output_tokens"`
	ServiceTier              string `json:"service_tier"`
}

// anthropicUsage reports prompt tokens the way Anthropic does: input_tokens
// excludes the part read from cache.
func (x *exchange) anthropicUsage(prompt, output int) any {
	cached := x.cached(prompt)
	return x.usage(anthropicUsage{
		InputTokens:          prompt - cached,
		CacheReadInputTokens: cached,
		OutputTokens:         output,
		ServiceTier:          "standard",
	})
}

// validMessages checks what the Messages API requires of both the create
// and the count_tokens calls.
func (x *exchange) validMessages(req messagesRequest) bool {
	switch {
	case req.Model == "":
		x.badRequest("model: Field required")
	case len(req.Messages) == 0:
		x.badRequest("messages: Field required")
	default:
		return true
	}
	return false
}

// messages serves POST /v1/messages.
func (x *exchange) messages() {
	var req messagesRequest
	if !x.decode(&req) || !x.validMessages(req) {
		return
	}
	if req.MaxTokens == nil {
		x.badRequest("max_tokens: Field required")
		return
	}
	if *req.MaxTokens < 1 {
		x.badRequest("max_tokens: Input should be greater than or equal to 1")
		return
	}
	prompt, lastUser := req.prompt()
	text := x.reply(req.Model, lastUser)
	output := Tokens(text)
	msg := messageObject{
		ID:           x.id("msg_fake"),
		Type:         "message",
		Role:         "assistant",
		Model:        req.Model,
		Content:      []anthropicBlock{{Type: "text", Text: text}},
		StopReason:   json.RawMessage(`"end_turn"`),
		StopSequence: jsonNull,
		Usage:        x.anthropicUsage(prompt, output),
	}
	if !req.Stream {
		x.writeJSON(http.StatusOK, msg)
		return
	}

	s := x.startSSE()
	start := msg
	start.Content = []anthropicBlock{}
	start.StopReason = jsonNull
	// message_start reports the input and a first output token; the final
	// output count comes in message_delta.
	start.Usage = x.anthropicUsage(prompt, min(1, output))
	if !s.event("message_start", obj("type", "message_start", "message", start)) ||
		!s.event("content_block_start", obj("type", "content_block_start", "index", 0, "content_block", anthropicBlock{Type: "text"})) ||
		!s.event("ping", obj("type", "ping")) {
		return
	}
	send := func(_ int, p string) bool {
		return s.event("content_block_delta", obj("type", "content_block_delta", "index", 0,
			"delta", obj("type", "text_delta", "text", p)))
	}
	fail := func() {
		status, m := x.streamErrorStatus()
		s.event("error", x.errorBody(status, "", m))
	}
	if !s.content(x.pieces(text), send, fail) {
		return
	}
	delta := obj("type", "message_delta", "delta", obj("stop_reason", "end_turn", "stop_sequence", nil))
	if u := x.usage(map[string]int{"output_tokens": output}); u != nil {
		delta = append(delta, "usage", u)
	}
	_ = s.event("content_block_stop", obj("type", "content_block_stop", "index", 0)) &&
		s.event("message_delta", delta) &&
		s.event("message_stop", obj("type", "message_stop"))
}

// countTokens serves POST /v1/messages/count_tokens.
func (x *exchange) countTokens() {
	var req messagesRequest
	if !x.decode(&req) || !x.validMessages(req) {
		return
	}
	n, _ := req.prompt()
	x.writeJSON(http.StatusOK, map[string]int{"input_tokens": n})
}
