package providertest

import (
	"encoding/json"
	"net/http"
	"strings"
)

type geminiRequest struct {
	Contents          []geminiContent `json:"contents"`
	SystemInstruction *geminiContent  `json:"systemInstruction"`
}

type geminiContent struct {
	Role  string       `json:"role,omitempty"`
	Parts []geminiPart `json:"parts"`
}

type geminiPart struct {
	Text string `json:"text"`
}

func (c geminiContent) text() string {
	var b strings.Builder
	for _, p := range c.Parts {
		if p.Text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p.Text)
	}
	return b.String()
}

type geminiResponse struct {
	Candidates    []geminiCandidate `json:"candidates"`
	UsageMetadata any               `json:"usageMetadata,omitempty"`
	ModelVersion  string            `json:"modelVersion"`
	ResponseID    string            `json:"responseId"`
}

type geminiCandidate struct {
	Content      geminiContent `json:"content"`
	FinishReason string        `json:"finishReason,omitempty"`
	Index        int           `json:"index"`
}

type geminiUsage struct {
	PromptTokenCount     int `json:"promptTokenCount"`
	CandidatesTokenCount int `json:"candidatesTokenCount"`
	TotalTokenCount      int `json:"totalTokenCount"`
}

// gemini serves POST /v1beta/models/{model}:{method} for generateContent,
// streamGenerateContent (SSE with alt=sse, else one JSON array) and
// countTokens.
func (x *exchange) gemini() {
	model, method, _ := strings.Cut(x.r.PathValue("action"), ":")
	switch method {
	case "generateContent", "streamGenerateContent", "countTokens":
	default:
		x.notFound()
		return
	}
	var req geminiRequest
	if !x.decode(&req) {
		return
	}
	if len(req.Contents) == 0 {
		x.badRequest("* GenerateContentRequest.contents: contents is not specified")
		return
	}
	prompt, lastUser := 0, ""
	if req.SystemInstruction != nil {
		prompt += Tokens(req.SystemInstruction.text())
	}
	for _, c := range req.Contents {
		t := c.text()
		prompt += Tokens(t)
		if c.Role == "" || c.Role == "user" {
			lastUser = t
		}
	}
	if method == "countTokens" {
		x.writeJSON(http.StatusOK, map[string]int{"totalTokens": prompt})
		return
	}
	text := x.reply(model, lastUser)
	output := Tokens(text)
	resp := func(piece, finish string, usage any) geminiResponse {
		return geminiResponse{
			Candidates: []geminiCandidate{{
				Content:      geminiContent{Role: "model", Parts: []geminiPart{{Text: piece}}},
				FinishReason: finish,
			}},
			UsageMetadata: usage,
			ModelVersion:  model,
			ResponseID:    x.id("fake"),
		}
	}
	usage := x.usage(geminiUsage{PromptTokenCount: prompt, CandidatesTokenCount: output, TotalTokenCount: prompt + output})
	if method == "generateContent" {
		x.writeJSON(http.StatusOK, resp(text, "STOP", usage))
		return
	}
	pieces := x.pieces(text)
	if x.r.URL.Query().Get("alt") != "sse" {
		all := make([]geminiResponse, len(pieces))
		for i, p := range pieces {
			all[i] = resp(p, "", nil)
		}
		if len(all) > 0 {
			all[len(all)-1] = resp(pieces[len(pieces)-1], "STOP", usage)
		}
		x.writeJSON(http.StatusOK, all)
		return
	}
	s := x.startSSE()
	send := func(i int, p string) bool {
		if i == len(pieces)-1 {
			return s.event("", resp(p, "STOP", usage))
		}
		return s.event("", resp(p, "", nil))
	}
	fail := func() {
		status, msg := x.streamErrorStatus()
		s.event("", x.errorBody(status, "", msg))
	}
	s.content(pieces, send, fail)
}

type hfRequest struct {
	Inputs json.RawMessage `json:"inputs"`
}

// huggingFace serves POST /models/{model}: the serverless text-generation
// task, answered with [{"generated_text": ...}].
func (x *exchange) huggingFace() {
	var req hfRequest
	if !x.decode(&req) {
		return
	}
	if len(req.Inputs) == 0 {
		x.badRequest("Missing inputs")
		return
	}
	model := x.r.PathValue("model")
	text := x.reply(model, textOf(req.Inputs))
	x.writeJSON(http.StatusOK, []map[string]string{{"generated_text": text}})
}
