package providertest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Say hello to me"}]}]}`

const messagesBody = `{"model":"claude-sonnet-4-5","max_tokens":64,"system":"Be brief.","messages":[{"role":"user","content":"Say hello to me"}]}`

// goldenCases pin the exact wire format of every endpoint.
var goldenCases = []struct {
	name string
	call call
}{
	{"openai_chat.txt", call{path: "/v1/chat/completions", header: openAIAuth(testKey), body: chatBody}},
	{"openai_chat_stream.txt", call{path: "/v1/chat/completions", header: openAIAuth(testKey),
		body: `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello to me"}]}`}},
	{"openai_chat_stream_plain.txt", call{path: "/v1/chat/completions", header: openAIAuth(testKey),
		body: `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`}},
	{"openai_completions.txt", call{path: "/v1/completions", header: openAIAuth(testKey),
		body: `{"model":"gpt-3.5-turbo-instruct","prompt":"Say hello to me"}`}},
	{"openai_completions_stream.txt", call{path: "/v1/completions", header: openAIAuth(testKey),
		body: `{"model":"gpt-3.5-turbo-instruct","prompt":["Say hello"],"stream":true,"stream_options":{"include_usage":true}}`}},
	{"openai_embeddings.txt", call{path: "/v1/embeddings", header: openAIAuth(testKey),
		body: `{"model":"text-embedding-3-small","input":["one two","three"],"dimensions":4}`}},
	{"openai_embeddings_base64.txt", call{path: "/v1/embeddings", header: openAIAuth(testKey),
		body: `{"model":"text-embedding-3-small","input":"one two","encoding_format":"base64"}`}},
	{"openai_models.txt", call{method: http.MethodGet, path: "/v1/models", header: openAIAuth(testKey)}},
	{"openai_model.txt", call{method: http.MethodGet, path: "/v1/models/gpt-4o", header: openAIAuth(testKey)}},
	{"openai_model_unknown.txt", call{method: http.MethodGet, path: "/v1/models/gpt-9", header: openAIAuth(testKey)}},
	{"openai_responses.txt", call{path: "/v1/responses", header: openAIAuth(testKey),
		body: `{"model":"gpt-4o","instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"Say hello to me"}]}]}`}},
	{"openai_responses_stream.txt", call{path: "/v1/responses", header: openAIAuth(testKey),
		body: `{"model":"gpt-4o","input":"Say hello to me","stream":true}`}},
	{"openai_images_url.txt", call{path: "/v1/images/generations", header: openAIAuth(testKey),
		body: `{"model":"dall-e-3","prompt":"a red fox"}`}},
	{"openai_images_b64.txt", call{path: "/v1/images/generations", header: openAIAuth(testKey),
		body: `{"model":"gpt-image-1","prompt":"a red fox","n":2}`}},
	{"openai_moderations.txt", call{path: "/v1/moderations", header: openAIAuth(testKey),
		body: `{"input":["a kind word","I will kill the process"]}`}},
	{"openai_not_found.txt", call{path: "/v1/nothing", header: openAIAuth(testKey), body: `{}`}},
	{"openai_bad_json.txt", call{path: "/v1/chat/completions", header: openAIAuth(testKey), body: `{"model":`}},
	{"azure_chat.txt", call{path: "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21", header: azureAuth(testKey),
		body: `{"messages":[{"role":"user","content":"Say hello"}]}`}},
	{"azure_no_version.txt", call{path: "/openai/deployments/prod-4o/chat/completions", header: azureAuth(testKey),
		body: `{"messages":[{"role":"user","content":"Say hello"}]}`}},
	{"anthropic_messages.txt", call{path: "/v1/messages", header: anthropicAuth(testKey), body: messagesBody}},
	{"anthropic_messages_stream.txt", call{path: "/v1/messages", header: anthropicAuth(testKey),
		body: strings.Replace(messagesBody, `"max_tokens":64`, `"max_tokens":64,"stream":true`, 1)}},
	{"anthropic_count_tokens.txt", call{path: "/v1/messages/count_tokens", header: anthropicAuth(testKey), body: messagesBody}},
	{"anthropic_no_max_tokens.txt", call{path: "/v1/messages", header: anthropicAuth(testKey),
		body: `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`}},
	{"google_generate.txt", call{path: "/v1beta/models/gemini-2.0-flash:generateContent", header: googleAuth(testKey),
		body: `{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"Say hello to me"}]}]}`}},
	{"google_stream.txt", call{path: "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", header: googleAuth(testKey),
		body: `{"contents":[{"parts":[{"text":"Say hello"}]}]}`}},
	{"google_count.txt", call{path: "/v1beta/models/gemini-2.0-flash:countTokens", header: googleAuth(testKey),
		body: `{"contents":[{"parts":[{"text":"Say hello"}]}]}`}},
	{"huggingface.txt", call{path: "/models/meta-llama/Llama-3.1-8B-Instruct", header: openAIAuth(testKey),
		body: `{"inputs":"Say hello","parameters":{"max_new_tokens":20}}`}},
}

// TestGolden pins every endpoint's status, content type and body.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{Key: testKey})
			resp, body := do(t, s, tc.call)
			// The port changes from run to run; the rest must not.
			body = bytes.ReplaceAll(body, []byte(s.URL), []byte("http://127.0.0.1:PORT"))
			got := fmt.Appendf(nil, "HTTP %d %s\n\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			golden(t, tc.name, got)
		})
	}
}

// The structs below mirror the official schemas: if a field the SDKs read
// changes shape, decoding or the checks fail.

type oaUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

type oaChatCompletion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *oaUsage `json:"usage"`
}

type oaChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *oaUsage `json:"usage"`
}

type anMessage struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Role    string `json:"role"`
	Model   string `json:"model"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        *struct {
		InputTokens              int `json:"input_tokens"`
		OutputTokens             int `json:"output_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	} `json:"usage"`
}

type anEvent struct {
	Type         string     `json:"type"`
	Message      *anMessage `json:"message"`
	Index        int        `json:"index"`
	ContentBlock *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content_block"`
	Delta *struct {
		Type       string `json:"type"`
		Text       string `json:"text"`
		StopReason string `json:"stop_reason"`
	} `json:"delta"`
	Usage *struct {
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestChatCompletion(t *testing.T) {
	s := newServer(t, Options{Key: testKey, CachedTokens: 2})
	resp, body := do(t, s, call{path: "/v1/chat/completions", header: openAIAuth(testKey), body: chatBody})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var c oaChatCompletion
	decode(t, body, &c)
	want := ReplyText("gpt-4o-mini", DefaultChunks)
	switch {
	case c.Object != "chat.completion", c.ID == "", c.Created != fixedNow().Unix(), c.Model != "gpt-4o-mini":
		t.Errorf("envelope = %+v", c)
	case len(c.Choices) != 1 || c.Choices[0].Message.Role != "assistant" || c.Choices[0].Message.Content != want || c.Choices[0].FinishReason != "stop":
		t.Errorf("choices = %+v, want one assistant message %q", c.Choices, want)
	case c.Usage == nil:
		t.Fatal("usage missing")
	}
	// "Be brief." + "Say hello to me" = 6 words; the reply has 4.
	u := *c.Usage
	if u.PromptTokens != 6 || u.CompletionTokens != Tokens(want) || u.TotalTokens != 6+Tokens(want) || u.PromptTokensDetails.CachedTokens != 2 {
		t.Errorf("usage = %+v", u)
	}
	if resp.Header.Get("x-request-id") == "" {
		t.Error("no x-request-id header")
	}
}

func TestChatStream(t *testing.T) {
	tests := []struct {
		name         string
		chunks       int
		includeUsage bool
	}{
		{"default chunks with usage", 0, true},
		{"one chunk without usage", 1, false},
		{"more chunks than the base text has runes", 40, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{Key: testKey, Chunks: tc.chunks})
			body := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"one two three"}]}`
			if tc.includeUsage {
				body = strings.Replace(body, `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1)
			}
			resp, raw := do(t, s, call{path: "/v1/chat/completions", header: openAIAuth(testKey), body: body})
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Fatalf("Content-Type = %q", ct)
			}
			events := parseSSE(t, raw)
			if len(events) == 0 || events[len(events)-1].Data != "[DONE]" {
				t.Fatalf("stream does not end with [DONE]: %q", raw)
			}
			wantChunks := tc.chunks
			if wantChunks == 0 {
				wantChunks = DefaultChunks
			}
			var text strings.Builder
			var contentChunks, finishes int
			var usage *oaUsage
			for i, ev := range events[:len(events)-1] {
				var c oaChunk
				decode(t, []byte(ev.Data), &c)
				if c.Object != "chat.completion.chunk" || c.Model != "gpt-4o" || c.ID != "chatcmpl-fake000001" {
					t.Errorf("chunk %d envelope = %+v", i, c)
				}
				if c.Usage != nil {
					usage = c.Usage
					if len(c.Choices) != 0 {
						t.Errorf("usage chunk has choices: %s", ev.Data)
					}
					continue
				}
				if len(c.Choices) != 1 {
					t.Fatalf("chunk %d has %d choices", i, len(c.Choices))
				}
				ch := c.Choices[0]
				if i == 0 && ch.Delta.Role != "assistant" {
					t.Errorf("first chunk has no role: %s", ev.Data)
				}
				if ch.Delta.Content != nil && *ch.Delta.Content != "" {
					contentChunks++
					text.WriteString(*ch.Delta.Content)
				}
				if ch.FinishReason != nil {
					finishes++
				}
			}
			want := ReplyText("gpt-4o", wantChunks)
			if text.String() != want || contentChunks != wantChunks || finishes != 1 {
				t.Errorf("text %q in %d chunks with %d finishes, want %q in %d with 1", text.String(), contentChunks, finishes, want, wantChunks)
			}
			switch {
			case tc.includeUsage && usage == nil:
				t.Error("include_usage set but no usage chunk")
			case !tc.includeUsage && usage != nil:
				t.Error("usage chunk sent without include_usage")
			case usage != nil && (usage.PromptTokens != 3 || usage.CompletionTokens != Tokens(want)):
				t.Errorf("usage = %+v", *usage)
			}
		})
	}
}

func TestAnthropicMessages(t *testing.T) {
	s := newServer(t, Options{Key: testKey, CachedTokens: 2})
	resp, body := do(t, s, call{path: "/v1/messages", header: anthropicAuth(testKey), body: messagesBody})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var m anMessage
	decode(t, body, &m)
	want := ReplyText("claude-sonnet-4-5", DefaultChunks)
	if m.Type != "message" || m.Role != "assistant" || m.Model != "claude-sonnet-4-5" || !strings.HasPrefix(m.ID, "msg_") {
		t.Errorf("envelope = %+v", m)
	}
	if len(m.Content) != 1 || m.Content[0].Type != "text" || m.Content[0].Text != want {
		t.Errorf("content = %+v, want %q", m.Content, want)
	}
	if m.StopReason == nil || *m.StopReason != "end_turn" || m.StopSequence != nil {
		t.Errorf("stop = %v %v", m.StopReason, m.StopSequence)
	}
	// 6 prompt words, 2 of them from cache: input_tokens excludes those.
	if m.Usage == nil || m.Usage.InputTokens != 4 || m.Usage.CacheReadInputTokens != 2 || m.Usage.OutputTokens != Tokens(want) {
		t.Errorf("usage = %+v", m.Usage)
	}
	if resp.Header.Get("request-id") == "" {
		t.Error("no request-id header")
	}
}

func TestAnthropicStream(t *testing.T) {
	s := newServer(t, Options{Key: testKey, Chunks: 3})
	body := strings.Replace(messagesBody, `"max_tokens":64`, `"max_tokens":64,"stream":true`, 1)
	_, raw := do(t, s, call{path: "/v1/messages", header: anthropicAuth(testKey), body: body})
	events := parseSSE(t, raw)
	var names []string
	var text strings.Builder
	var input, output int
	for _, ev := range events {
		var e anEvent
		decode(t, []byte(ev.Data), &e)
		if e.Type != ev.Name {
			t.Errorf("event %q carries type %q", ev.Name, e.Type)
		}
		names = append(names, ev.Name)
		switch ev.Name {
		case "message_start":
			if e.Message == nil || e.Message.Usage == nil {
				t.Fatalf("message_start without usage: %s", ev.Data)
			}
			input = e.Message.Usage.InputTokens
		case "content_block_delta":
			if e.Delta == nil || e.Delta.Type != "text_delta" {
				t.Fatalf("delta = %s", ev.Data)
			}
			text.WriteString(e.Delta.Text)
		case "message_delta":
			if e.Delta == nil || e.Delta.StopReason != "end_turn" || e.Usage == nil {
				t.Fatalf("message_delta = %s", ev.Data)
			}
			output = e.Usage.OutputTokens
		}
	}
	wantNames := "message_start content_block_start ping content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(names, " "); got != wantNames {
		t.Errorf("events = %s\nwant     %s", got, wantNames)
	}
	want := ReplyText("claude-sonnet-4-5", 3)
	if text.String() != want || input != 6 || output != Tokens(want) {
		t.Errorf("text %q input %d output %d, want %q 6 %d", text.String(), input, output, want, Tokens(want))
	}
}

func TestResponses(t *testing.T) {
	s := newServer(t, Options{Key: testKey})
	_, body := do(t, s, call{path: "/v1/responses", header: openAIAuth(testKey),
		body: `{"model":"gpt-4o","input":[{"role":"user","content":"one two"},{"type":"function_call_output","call_id":"c1","output":"three"}]}`})
	var r struct {
		Object string `json:"object"`
		Status string `json:"status"`
		Model  string `json:"model"`
		Output []struct {
			Type    string `json:"type"`
			Role    string `json:"role"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		} `json:"output"`
		Usage struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	decode(t, body, &r)
	want := ReplyText("gpt-4o", DefaultChunks)
	if r.Object != "response" || r.Status != "completed" || len(r.Output) != 1 || r.Output[0].Type != "message" ||
		len(r.Output[0].Content) != 1 || r.Output[0].Content[0].Type != "output_text" || r.Output[0].Content[0].Text != want {
		t.Errorf("response = %s", body)
	}
	if r.Usage.InputTokens != 3 || r.Usage.OutputTokens != Tokens(want) || r.Usage.TotalTokens != 3+Tokens(want) {
		t.Errorf("usage = %+v", r.Usage)
	}

	_, raw := do(t, s, call{path: "/v1/responses", header: openAIAuth(testKey), body: `{"model":"gpt-4o","input":"hi","stream":true}`})
	var text strings.Builder
	var names []string
	for i, ev := range parseSSE(t, raw) {
		var e struct {
			Type     string `json:"type"`
			Sequence int    `json:"sequence_number"`
			Delta    string `json:"delta"`
		}
		decode(t, []byte(ev.Data), &e)
		if e.Type != ev.Name || e.Sequence != i {
			t.Errorf("event %d %q: type %q sequence %d", i, ev.Name, e.Type, e.Sequence)
		}
		names = append(names, ev.Name)
		if e.Type == "response.output_text.delta" {
			text.WriteString(e.Delta)
		}
	}
	if len(names) < 3 || names[0] != "response.created" || names[len(names)-1] != "response.completed" || text.String() != want {
		t.Errorf("events %v carry %q", names, text.String())
	}
}

func TestEmbeddings(t *testing.T) {
	s := newServer(t, Options{Key: testKey})
	tests := []struct {
		name, input, format string
		dims                int
		want                []string
		tokens              int
	}{
		{"string", `"one two three"`, "", 0, []string{"one two three"}, 3},
		{"array of strings", `["one","two three"]`, "float", 16, []string{"one", "two three"}, 3},
		{"base64", `["one","two three"]`, "base64", 5, []string{"one", "two three"}, 3},
		{"token ids", `[1,2,3,4]`, "", 0, []string{"[1,2,3,4]"}, 4},
		{"arrays of token ids", `[[1,2],[3]]`, "", 0, []string{"[1,2]", "[3]"}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"model":"text-embedding-3-small","input":%s,"encoding_format":%q,"dimensions":%d}`, tc.input, tc.format, tc.dims)
			resp, raw := do(t, s, call{path: "/v1/embeddings", header: openAIAuth(testKey), body: body})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, raw)
			}
			var l struct {
				Object string `json:"object"`
				Model  string `json:"model"`
				Data   []struct {
					Object    string `json:"object"`
					Index     int    `json:"index"`
					Embedding any    `json:"embedding"`
				} `json:"data"`
				Usage struct {
					PromptTokens int `json:"prompt_tokens"`
					TotalTokens  int `json:"total_tokens"`
				} `json:"usage"`
			}
			decode(t, raw, &l)
			if l.Object != "list" || l.Model != "text-embedding-3-small" || len(l.Data) != len(tc.want) {
				t.Fatalf("list = %s", raw)
			}
			dims := tc.dims
			if dims == 0 {
				dims = DefaultDimensions
			}
			for i, d := range l.Data {
				if d.Object != "embedding" || d.Index != i {
					t.Errorf("item %d = %+v", i, d)
				}
				got := floats(t, d.Embedding)
				want := Vector(tc.want[i], dims)
				if len(got) != dims {
					t.Fatalf("item %d has %d dimensions, want %d", i, len(got), dims)
				}
				for j := range got {
					if float32(got[j]) != want[j] {
						t.Fatalf("item %d = %v, want %v", i, got, want)
					}
				}
			}
			if l.Usage.PromptTokens != tc.tokens || l.Usage.TotalTokens != tc.tokens {
				t.Errorf("usage = %+v, want %d", l.Usage, tc.tokens)
			}
		})
	}
}

// floats decodes an embedding sent as a JSON array or as base64
// little-endian float32s.
func floats(t *testing.T, v any) []float64 {
	t.Helper()
	switch e := v.(type) {
	case []any:
		out := make([]float64, len(e))
		for i, f := range e {
			out[i] = f.(float64)
		}
		return out
	case string:
		b, err := base64.StdEncoding.DecodeString(e)
		if err != nil || len(b)%4 != 0 {
			t.Fatalf("bad base64 embedding %q: %v", e, err)
		}
		out := make([]float64, len(b)/4)
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
		return out
	}
	t.Fatalf("embedding of type %T", v)
	return nil
}

func TestVectorIsUnitLength(t *testing.T) {
	for _, text := range []string{"", "a", "one two three"} {
		var sum float64
		for _, f := range Vector(text, 64) {
			sum += float64(f) * float64(f)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("Vector(%q) has squared norm %v", text, sum)
		}
	}
}

func TestOtherOpenAIEndpoints(t *testing.T) {
	s := newServer(t, Options{Key: testKey})

	resp, raw := do(t, s, call{path: "/v1/audio/speech", header: openAIAuth(testKey), body: `{"model":"tts-1","input":"hi","voice":"alloy"}`})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "audio/mpeg" || !bytes.HasPrefix(raw, []byte("ID3")) {
		t.Errorf("speech: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), raw[:min(8, len(raw))])
	}
	resp, raw = do(t, s, call{path: "/v1/audio/speech", header: openAIAuth(testKey), body: `{"model":"tts-1","input":"hi","voice":"alloy","response_format":"wav"}`})
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(raw, []byte("RIFF")) || string(raw[8:12]) != "WAVE" {
		t.Errorf("speech wav: %d %q", resp.StatusCode, raw[:min(12, len(raw))])
	}

	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("model", "whisper-1")
	fw, _ := mw.CreateFormFile("file", "hello.mp3")
	_, _ = fw.Write(mp3Audio())
	_ = mw.Close()
	hdr := openAIAuth(testKey)
	hdr["Content-Type"] = mw.FormDataContentType()
	resp, raw = do(t, s, call{path: "/v1/audio/transcriptions", header: hdr, body: form.String()})
	var tr struct {
		Text string `json:"text"`
	}
	decode(t, raw, &tr)
	if resp.StatusCode != http.StatusOK || tr.Text != ReplyText("whisper-1", DefaultChunks) {
		t.Errorf("transcription: %d %s", resp.StatusCode, raw)
	}
	resp, raw = do(t, s, call{path: "/v1/audio/transcriptions", header: openAIAuth(testKey), body: `{}`})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("transcription without a form: %d %s", resp.StatusCode, raw)
	}

	_, raw = do(t, s, call{path: "/v1/images/generations", header: openAIAuth(testKey), body: `{"prompt":"fox","n":2}`})
	var img struct {
		Data []struct {
			URL     string `json:"url"`
			B64JSON string `json:"b64_json"`
		} `json:"data"`
	}
	decode(t, raw, &img)
	if len(img.Data) != 2 || !strings.HasPrefix(img.Data[0].URL, s.URL+"/images/") {
		t.Fatalf("images = %s", raw)
	}
	// The URL is served, without a key, as a real PNG.
	resp, raw = do(t, s, call{method: http.MethodGet, path: strings.TrimPrefix(img.Data[0].URL, s.URL)})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(raw, pngImage) || !bytes.HasPrefix(raw, []byte("\x89PNG")) {
		t.Errorf("image URL: %d %q", resp.StatusCode, raw)
	}

	_, raw = do(t, s, call{path: "/v1/moderations", header: openAIAuth(testKey), body: `{"input":"a useful skill"}`})
	var mod struct {
		Results []struct {
			Flagged bool `json:"flagged"`
		} `json:"results"`
	}
	decode(t, raw, &mod)
	if len(mod.Results) != 1 || mod.Results[0].Flagged {
		t.Errorf("\"skill\" must not be flagged for \"kill\": %s", raw)
	}
}

func TestGoogleAndHuggingFace(t *testing.T) {
	s := newServer(t, Options{Key: testKey})
	_, raw := do(t, s, call{path: "/v1beta/models/gemini-2.0-flash:generateContent?key=" + testKey, header: map[string]string{"Content-Type": "application/json"},
		body: `{"contents":[{"role":"user","parts":[{"text":"one two"},{"text":"three"}]}]}`})
	var g struct {
		Candidates []struct {
			Content struct {
				Role  string `json:"role"`
				Parts []struct {
					Text string `json:"text"`
				} `json:"parts"`
			} `json:"content"`
			FinishReason string `json:"finishReason"`
		} `json:"candidates"`
		UsageMetadata struct {
			PromptTokenCount     int `json:"promptTokenCount"`
			CandidatesTokenCount int `json:"candidatesTokenCount"`
			TotalTokenCount      int `json:"totalTokenCount"`
		} `json:"usageMetadata"`
	}
	decode(t, raw, &g)
	want := ReplyText("gemini-2.0-flash", DefaultChunks)
	if len(g.Candidates) != 1 || g.Candidates[0].Content.Role != "model" || len(g.Candidates[0].Content.Parts) != 1 ||
		g.Candidates[0].Content.Parts[0].Text != want || g.Candidates[0].FinishReason != "STOP" {
		t.Errorf("gemini = %s", raw)
	}
	if u := g.UsageMetadata; u.PromptTokenCount != 3 || u.CandidatesTokenCount != Tokens(want) || u.TotalTokenCount != 3+Tokens(want) {
		t.Errorf("usageMetadata = %+v", u)
	}

	// Without alt=sse, streamGenerateContent answers one JSON array.
	_, raw = do(t, s, call{path: "/v1beta/models/gemini-2.0-flash:streamGenerateContent", header: googleAuth(testKey),
		body: `{"contents":[{"parts":[{"text":"hi"}]}]}`})
	var arr []map[string]any
	decode(t, raw, &arr)
	if len(arr) != DefaultChunks {
		t.Errorf("stream array has %d items: %s", len(arr), raw)
	}

	_, raw = do(t, s, call{path: "/models/gpt2", header: openAIAuth(testKey), body: `{"inputs":"hi"}`})
	var hf []struct {
		GeneratedText string `json:"generated_text"`
	}
	decode(t, raw, &hf)
	if len(hf) != 1 || hf[0].GeneratedText != ReplyText("gpt2", DefaultChunks) {
		t.Errorf("hugging face = %s", raw)
	}
}

func TestReplyOption(t *testing.T) {
	s := newServer(t, Options{Reply: func(model, lastUser string) string { return "echo " + lastUser + " via " + model }})
	_, raw := do(t, s, call{path: "/v1/chat/completions", header: openAIAuth("any"),
		body: `{"model":"m","messages":[{"role":"user","content":"first"},{"role":"assistant","content":"x"},{"role":"user","content":"second"}]}`})
	var c oaChatCompletion
	decode(t, raw, &c)
	if len(c.Choices) != 1 || c.Choices[0].Message.Content != "echo second via m" {
		t.Errorf("reply = %s", raw)
	}
}

func TestBadRequests(t *testing.T) {
	s := newServer(t, Options{})
	tests := []struct {
		name string
		call call
		want int
	}{
		{"chat without model", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: `{"messages":[{"role":"user","content":"x"}]}`}, 400},
		{"chat without messages", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: `{"model":"m","messages":[]}`}, 400},
		{"stream_options without stream", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: `{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}`}, 400},
		{"completions without prompt", call{path: "/v1/completions", header: openAIAuth("k"), body: `{"model":"m"}`}, 400},
		{"embeddings without input", call{path: "/v1/embeddings", header: openAIAuth("k"), body: `{"model":"m"}`}, 400},
		{"embeddings with bad input", call{path: "/v1/embeddings", header: openAIAuth("k"), body: `{"model":"m","input":{"a":1}}`}, 400},
		{"embeddings too many dimensions", call{path: "/v1/embeddings", header: openAIAuth("k"), body: `{"model":"m","input":"x","dimensions":5000}`}, 400},
		{"embeddings bad format", call{path: "/v1/embeddings", header: openAIAuth("k"), body: `{"model":"m","input":"x","encoding_format":"hex"}`}, 400},
		{"responses without input", call{path: "/v1/responses", header: openAIAuth("k"), body: `{"model":"m"}`}, 400},
		{"responses with bad input", call{path: "/v1/responses", header: openAIAuth("k"), body: `{"model":"m","input":7}`}, 400},
		{"images without prompt", call{path: "/v1/images/generations", header: openAIAuth("k"), body: `{}`}, 400},
		{"images too many", call{path: "/v1/images/generations", header: openAIAuth("k"), body: `{"prompt":"x","n":11}`}, 400},
		{"speech without voice", call{path: "/v1/audio/speech", header: openAIAuth("k"), body: `{"model":"tts-1","input":"x"}`}, 400},
		{"moderations without input", call{path: "/v1/moderations", header: openAIAuth("k"), body: `{}`}, 400},
		{"messages without version", call{path: "/v1/messages", header: map[string]string{"x-api-key": "k"}, body: messagesBody}, 400},
		{"messages without model", call{path: "/v1/messages", header: anthropicAuth("k"), body: `{"max_tokens":1,"messages":[{"role":"user","content":"x"}]}`}, 400},
		{"messages with zero max_tokens", call{path: "/v1/messages", header: anthropicAuth("k"), body: `{"model":"c","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`}, 400},
		{"gemini unknown method", call{path: "/v1beta/models/g:embed", header: googleAuth("k"), body: `{}`}, 404},
		{"gemini without contents", call{path: "/v1beta/models/g:generateContent", header: googleAuth("k"), body: `{}`}, 400},
		{"hugging face without inputs", call{path: "/models/gpt2", header: openAIAuth("k"), body: `{}`}, 400},
		{"wrong method", call{method: http.MethodGet, path: "/v1/chat/completions", header: openAIAuth("k")}, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := do(t, s, tc.call)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, raw)
			}
			var anyErr map[string]any
			decode(t, raw, &anyErr)
			if _, ok := anyErr["error"]; !ok {
				t.Errorf("error body without \"error\": %s", raw)
			}
		})
	}
}
