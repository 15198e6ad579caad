package providertest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"net/http"
	"slices"
	"strings"
	"unicode"
)

type chatRequest struct {
	Model         string         `json:"model"`
	Messages      []chatMessage  `json:"messages"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type openAIUsage struct {
	PromptTokens            int               `json:"prompt_tokens"`
	CompletionTokens        int               `json:"completion_tokens"`
	TotalTokens             int               `json:"total_tokens"`
	PromptTokensDetails     promptDetails     `json:"prompt_tokens_details"`
	CompletionTokensDetails completionDetails `json:"completion_tokens_details"`
}

type promptDetails struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens"`
}

type completionDetails struct {
	ReasoningTokens          int `json:"reasoning_tokens"`
	AudioTokens              int `json:"audio_tokens"`
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
}

func (x *exchange) openAIUsage(prompt, completion int) any {
	return x.usage(openAIUsage{
		PromptTokens:        prompt,
		CompletionTokens:    completion,
		TotalTokens:         prompt + completion,
		PromptTokensDetails: promptDetails{CachedTokens: x.cached(prompt)},
	})
}

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             any          `json:"usage,omitempty"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      chatReply       `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

type chatReply struct {
	Role        string          `json:"role"`
	Content     string          `json:"content"`
	Refusal     json.RawMessage `json:"refusal"`
	Annotations []any           `json:"annotations"`
}

type chatChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	ServiceTier       string        `json:"service_tier"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Choices           []chunkChoice `json:"choices"`
	Usage             any           `json:"usage,omitempty"`
}

type chunkChoice struct {
	Index        int             `json:"index"`
	Delta        chunkDelta      `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

type chunkDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

const fingerprint = "fp_fake"

// chatCompletions serves POST /v1/chat/completions.
func (x *exchange) chatCompletions() {
	var req chatRequest
	if !x.decode(&req) {
		return
	}
	model, ok := x.model(req.Model)
	if !ok {
		return
	}
	if len(req.Messages) == 0 {
		x.fail(http.StatusBadRequest, "empty_array", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
		return
	}
	if req.StreamOptions != nil && !req.Stream {
		x.badRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		return
	}
	prompt, lastUser := 0, ""
	for _, m := range req.Messages {
		t := textOf(m.Content)
		prompt += Tokens(t)
		if m.Role == "user" {
			lastUser = t
		}
	}
	text := x.reply(model, lastUser)
	completion := Tokens(text)
	stop := "stop"
	if !req.Stream {
		x.writeJSON(http.StatusOK, chatCompletion{
			ID:      x.id("chatcmpl-fake"),
			Object:  "chat.completion",
			Created: x.created(),
			Model:   model,
			Choices: []chatChoice{{
				Message:      chatReply{Role: "assistant", Content: text, Refusal: jsonNull, Annotations: []any{}},
				Logprobs:     jsonNull,
				FinishReason: stop,
			}},
			Usage:             x.openAIUsage(prompt, completion),
			ServiceTier:       "default",
			SystemFingerprint: fingerprint,
		})
		return
	}
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	chunk := func(delta chunkDelta, finish *string) chatChunk {
		c := chatChunk{
			ID:                x.id("chatcmpl-fake"),
			Object:            "chat.completion.chunk",
			Created:           x.created(),
			Model:             model,
			ServiceTier:       "default",
			SystemFingerprint: fingerprint,
			Choices:           []chunkChoice{{Delta: delta, Logprobs: jsonNull, FinishReason: finish}},
		}
		if includeUsage {
			// With include_usage every chunk carries "usage": null until
			// the last one.
			c.Usage = jsonNull
		}
		return c
	}
	s := x.startSSE()
	empty := ""
	if !s.event("", chunk(chunkDelta{Role: "assistant", Content: &empty}, nil)) {
		return
	}
	send := func(_ int, p string) bool { return s.event("", chunk(chunkDelta{Content: &p}, nil)) }
	if !s.content(x.pieces(text), send, x.openAIStreamError(s)) {
		return
	}
	if !s.event("", chunk(chunkDelta{}, &stop)) {
		return
	}
	if includeUsage {
		if u := x.openAIUsage(prompt, completion); u != nil {
			last := chunk(chunkDelta{}, nil)
			last.Choices = []chunkChoice{}
			last.Usage = u
			if !s.event("", last) {
				return
			}
		}
	}
	s.raw("", []byte("[DONE]"))
}

// openAIStreamError writes the error a chat or completions stream carries
// when it fails midway: a data event with an "error" object and no [DONE].
func (x *exchange) openAIStreamError(s *sseWriter) func() {
	return func() {
		status, msg := x.streamErrorStatus()
		s.event("", x.errorBody(status, "", msg))
	}
}

type completionRequest struct {
	Model         string         `json:"model"`
	Prompt        *promptInput   `json:"prompt"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
}

type textCompletion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             any                `json:"usage,omitempty"`
}

type completionChoice struct {
	Text         string          `json:"text"`
	Index        int             `json:"index"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

// completions serves the legacy POST /v1/completions.
func (x *exchange) completions() {
	var req completionRequest
	if !x.decode(&req) {
		return
	}
	model, ok := x.model(req.Model)
	if !ok {
		return
	}
	if req.Prompt == nil {
		x.badRequest("you must provide a prompt parameter")
		return
	}
	if req.StreamOptions != nil && !req.Stream {
		x.badRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		return
	}
	prompt := req.Prompt.count()
	lastUser := ""
	if n := len(req.Prompt.texts); n > 0 {
		lastUser = req.Prompt.texts[n-1]
	}
	text := x.reply(model, lastUser)
	completion := Tokens(text)
	stop := "stop"
	obj := func(choices []completionChoice) textCompletion {
		return textCompletion{
			ID:                x.id("cmpl-fake"),
			Object:            "text_completion",
			Created:           x.created(),
			Model:             model,
			SystemFingerprint: fingerprint,
			Choices:           choices,
		}
	}
	if !req.Stream {
		c := obj([]completionChoice{{Text: text, Logprobs: jsonNull, FinishReason: &stop}})
		c.Usage = x.openAIUsage(prompt, completion)
		x.writeJSON(http.StatusOK, c)
		return
	}
	s := x.startSSE()
	send := func(_ int, p string) bool {
		return s.event("", obj([]completionChoice{{Text: p, Logprobs: jsonNull}}))
	}
	if !s.content(x.pieces(text), send, x.openAIStreamError(s)) {
		return
	}
	if !s.event("", obj([]completionChoice{{Logprobs: jsonNull, FinishReason: &stop}})) {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		if u := x.openAIUsage(prompt, completion); u != nil {
			last := obj([]completionChoice{})
			last.Usage = u
			if !s.event("", last) {
				return
			}
		}
	}
	s.raw("", []byte("[DONE]"))
}

type embeddingRequest struct {
	Model          string       `json:"model"`
	Input          *promptInput `json:"input"`
	EncodingFormat string       `json:"encoding_format"`
	Dimensions     int          `json:"dimensions"`
}

type embeddingList struct {
	Object string      `json:"object"`
	Data   []embedding `json:"data"`
	Model  string      `json:"model"`
	Usage  any         `json:"usage,omitempty"`
}

type embedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

type embeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// DefaultDimensions is the length of an embedding when the request does not
// ask for one; real models use far more, which tests do not need.
const DefaultDimensions = 8

const maxDimensions = 4096

// embeddings serves POST /v1/embeddings: one deterministic unit vector per
// input, as floats or, with encoding_format "base64", as little-endian
// float32 bytes (what the official SDKs ask for by default).
func (x *exchange) embeddings() {
	var req embeddingRequest
	if !x.decode(&req) {
		return
	}
	model, ok := x.model(req.Model)
	if !ok {
		return
	}
	if req.Input == nil || len(req.Input.texts) == 0 {
		x.badRequest("'input' must be a non-empty string or array")
		return
	}
	dims := req.Dimensions
	switch {
	case dims == 0:
		dims = DefaultDimensions
	case dims < 0 || dims > maxDimensions:
		x.badRequest("'dimensions' must be between 1 and 4096")
		return
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		x.badRequest("'encoding_format' must be 'float' or 'base64'")
		return
	}
	list := embeddingList{Object: "list", Model: model, Data: make([]embedding, len(req.Input.texts))}
	for i, t := range req.Input.texts {
		v := vector(t, dims)
		var e any = v
		if req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
			}
			e = base64.StdEncoding.EncodeToString(b)
		}
		list.Data[i] = embedding{Object: "embedding", Index: i, Embedding: e}
	}
	n := req.Input.count()
	list.Usage = x.usage(embeddingUsage{PromptTokens: n, TotalTokens: n})
	x.writeJSON(http.StatusOK, list)
}

// Vector is the embedding the fake returns for input text with dims
// dimensions, for tests that check a vector came through intact.
func Vector(text string, dims int) []float32 {
	return vector(text, dims)
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

// modelCreated is a fixed creation time for listed models: a model's age
// does not depend on when it is listed.
const modelCreated = 1700000000

func model(id string) modelObject {
	return modelObject{ID: id, Object: "model", Created: modelCreated, OwnedBy: "openai"}
}

func (x *exchange) listModels() {
	l := modelList{Object: "list", Data: make([]modelObject, len(x.h.opts.Models))}
	for i, id := range x.h.opts.Models {
		l.Data[i] = model(id)
	}
	x.writeJSON(http.StatusOK, l)
}

func (x *exchange) getModel() {
	id := x.r.PathValue("id")
	if !slices.Contains(x.h.opts.Models, id) {
		x.fail(http.StatusNotFound, "model_not_found", "The model '"+id+"' does not exist")
		return
	}
	x.writeJSON(http.StatusOK, model(id))
}

type responsesRequest struct {
	Model           string          `json:"model"`
	Input           json.RawMessage `json:"input"`
	Instructions    string          `json:"instructions"`
	Stream          bool            `json:"stream"`
	MaxOutputTokens *int            `json:"max_output_tokens"`
}

type responseObject struct {
	ID                 string          `json:"id"`
	Object             string          `json:"object"`
	CreatedAt          int64           `json:"created_at"`
	Status             string          `json:"status"`
	Error              json.RawMessage `json:"error"`
	IncompleteDetails  json.RawMessage `json:"incomplete_details"`
	Instructions       json.RawMessage `json:"instructions"`
	MaxOutputTokens    *int            `json:"max_output_tokens"`
	Model              string          `json:"model"`
	Output             []responseItem  `json:"output"`
	ParallelToolCalls  bool            `json:"parallel_tool_calls"`
	PreviousResponseID json.RawMessage `json:"previous_response_id"`
	Reasoning          map[string]any  `json:"reasoning"`
	Store              bool            `json:"store"`
	Temperature        float64         `json:"temperature"`
	Text               map[string]any  `json:"text"`
	ToolChoice         string          `json:"tool_choice"`
	Tools              []any           `json:"tools"`
	TopP               float64         `json:"top_p"`
	Truncation         string          `json:"truncation"`
	Usage              any             `json:"usage"`
	User               json.RawMessage `json:"user"`
	Metadata           map[string]any  `json:"metadata"`
}

type responseItem struct {
	Type    string         `json:"type"`
	ID      string         `json:"id"`
	Status  string         `json:"status"`
	Role    string         `json:"role"`
	Content []responsePart `json:"content"`
}

type responsePart struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
}

type responseUsage struct {
	InputTokens         int            `json:"input_tokens"`
	InputTokensDetails  map[string]int `json:"input_tokens_details"`
	OutputTokens        int            `json:"output_tokens"`
	OutputTokensDetails map[string]int `json:"output_tokens_details"`
	TotalTokens         int            `json:"total_tokens"`
}

// responses serves POST /v1/responses, streamed as the typed events of the
// Responses API (no [DONE]; response.completed ends a stream).
func (x *exchange) responses() {
	var req responsesRequest
	if !x.decode(&req) {
		return
	}
	model, ok := x.model(req.Model)
	if !ok {
		return
	}
	if len(req.Input) == 0 {
		x.badRequest("Missing required parameter: 'input'.")
		return
	}
	prompt, lastUser, err := responsesInput(req.Input)
	if err != nil {
		x.badRequest("Invalid 'input': expected a string or an array of input items.")
		return
	}
	prompt += Tokens(req.Instructions)
	text := x.reply(model, lastUser)
	completion := Tokens(text)
	msgID := x.id("msg_fake")
	part := responsePart{Type: "output_text", Text: text, Annotations: []any{}}
	item := responseItem{Type: "message", ID: msgID, Status: "completed", Role: "assistant", Content: []responsePart{part}}
	resp := responseObject{
		ID:                 x.id("resp_fake"),
		Object:             "response",
		CreatedAt:          x.created(),
		Status:             "completed",
		Error:              jsonNull,
		IncompleteDetails:  jsonNull,
		Instructions:       jsonNull,
		MaxOutputTokens:    req.MaxOutputTokens,
		Model:              model,
		Output:             []responseItem{item},
		ParallelToolCalls:  true,
		PreviousResponseID: jsonNull,
		Reasoning:          map[string]any{"effort": nil, "summary": nil},
		Store:              true,
		Temperature:        1,
		Text:               map[string]any{"format": map[string]string{"type": "text"}},
		ToolChoice:         "auto",
		Tools:              []any{},
		TopP:               1,
		Truncation:         "disabled",
		Usage: x.usage(responseUsage{
			InputTokens:         prompt,
			InputTokensDetails:  map[string]int{"cached_tokens": x.cached(prompt)},
			OutputTokens:        completion,
			OutputTokensDetails: map[string]int{"reasoning_tokens": 0},
			TotalTokens:         prompt + completion,
		}),
		User:     jsonNull,
		Metadata: map[string]any{},
	}
	if req.Instructions != "" {
		resp.Instructions, _ = json.Marshal(req.Instructions)
	}
	if resp.Usage == nil {
		resp.Usage = jsonNull
	}
	if !req.Stream {
		x.writeJSON(http.StatusOK, resp)
		return
	}

	s := x.startSSE()
	seq := 0
	// ev writes one Responses event: its type, its sequence number, then
	// the event's own fields.
	ev := func(typ string, fields ...any) bool {
		o := append(obj("type", typ, "sequence_number", seq), fields...)
		seq++
		return s.event(typ, o)
	}
	pending := resp
	pending.Status = "in_progress"
	pending.Output = []responseItem{}
	pending.Usage = jsonNull
	emptyItem := item
	emptyItem.Status = "in_progress"
	emptyItem.Content = []responsePart{}
	emptyPart := part
	emptyPart.Text = ""
	at := func(fields ...any) []any {
		return append([]any{"item_id", msgID, "output_index", 0, "content_index", 0}, fields...)
	}
	if !ev("response.created", "response", pending) ||
		!ev("response.in_progress", "response", pending) ||
		!ev("response.output_item.added", "output_index", 0, "item", emptyItem) ||
		!ev("response.content_part.added", at("part", emptyPart)...) {
		return
	}
	send := func(_ int, p string) bool {
		return ev("response.output_text.delta", at("delta", p, "logprobs", []any{})...)
	}
	fail := func() {
		status, msg := x.streamErrorStatus()
		typ, code := openAIErrorType(status)
		if code == "" {
			code = typ
		}
		ev("error", "code", code, "message", msg, "param", nil)
	}
	if !s.content(x.pieces(text), send, fail) {
		return
	}
	_ = ev("response.output_text.done", at("text", text, "logprobs", []any{})...) &&
		ev("response.content_part.done", at("part", part)...) &&
		ev("response.output_item.done", "output_index", 0, "item", item) &&
		ev("response.completed", "response", resp)
}

// responsesInput counts the tokens of a Responses input (a string or a list
// of items whose content is a string or a list of parts) and finds the last
// user turn.
func responsesInput(raw json.RawMessage) (tokens int, lastUser string, err error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return Tokens(s), s, nil
	}
	var items []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
		Output  json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return 0, "", err
	}
	for _, it := range items {
		t := textOf(it.Content)
		if t == "" {
			// Tool results carry their text in "output".
			t = textOf(it.Output)
		}
		tokens += Tokens(t)
		if it.Role == "user" {
			lastUser = t
		}
	}
	return tokens, lastUser, nil
}

type imageRequest struct {
	Model          string `json:"model"`
	Prompt         string `json:"prompt"`
	N              int    `json:"n"`
	ResponseFormat string `json:"response_format"`
}

type imageData struct {
	B64JSON       string `json:"b64_json,omitempty"`
	URL           string `json:"url,omitempty"`
	RevisedPrompt string `json:"revised_prompt,omitempty"`
}

type imagesResponse struct {
	Created int64       `json:"created"`
	Data    []imageData `json:"data"`
	Usage   any         `json:"usage,omitempty"`
}

// imageGenerations serves POST /v1/images/generations with a 1×1 PNG, as
// base64 or as a URL on this server (GET /images/{name}). gpt-image models
// always answer base64 and report token usage, as the real ones do.
func (x *exchange) imageGenerations() {
	var req imageRequest
	if !x.decode(&req) {
		return
	}
	if req.Prompt == "" {
		x.badRequest("Missing required parameter: 'prompt'.")
		return
	}
	if req.Model == "" {
		req.Model = "dall-e-2"
	}
	n := req.N
	if n <= 0 {
		n = 1
	}
	if n > 10 {
		x.badRequest("Invalid 'n': integer above maximum value. Expected a value <= 10.")
		return
	}
	gptImage := strings.HasPrefix(req.Model, "gpt-image")
	out := imagesResponse{Created: x.created(), Data: make([]imageData, n)}
	for i := range out.Data {
		if gptImage || req.ResponseFormat == "b64_json" {
			out.Data[i].B64JSON = base64.StdEncoding.EncodeToString(pngImage)
		} else {
			out.Data[i].URL = "http://" + x.r.Host + "/images/" + x.id("img_fake") + ".png"
		}
		if req.Model == "dall-e-3" {
			out.Data[i].RevisedPrompt = req.Prompt
		}
	}
	if gptImage {
		in := Tokens(req.Prompt)
		out.Usage = x.usage(obj(
			"input_tokens", in,
			"input_tokens_details", obj("text_tokens", in, "image_tokens", 0),
			"output_tokens", n,
			"total_tokens", in+n,
		))
	}
	x.writeJSON(http.StatusOK, out)
}

// imageFile serves the PNG that image URLs point at.
func (x *exchange) imageFile() {
	x.writeBody(http.StatusOK, "image/png", pngImage)
}

// pngImage is a valid 1×1 transparent PNG.
var pngImage = func() []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, 1, 1))); err != nil {
		panic("providertest: encoding image: " + err.Error())
	}
	return b.Bytes()
}()

type speechRequest struct {
	Model          string `json:"model"`
	Input          string `json:"input"`
	Voice          string `json:"voice"`
	ResponseFormat string `json:"response_format"`
}

// speech serves POST /v1/audio/speech with a short silent MP3 (or WAV).
func (x *exchange) speech() {
	var req speechRequest
	if !x.decode(&req) {
		return
	}
	if _, ok := x.model(req.Model); !ok {
		return
	}
	if req.Input == "" || req.Voice == "" {
		x.badRequest("Missing required parameters: 'input' and 'voice'.")
		return
	}
	switch req.ResponseFormat {
	case "", "mp3":
		x.writeBody(http.StatusOK, "audio/mpeg", mp3Audio())
	case "wav":
		x.writeBody(http.StatusOK, "audio/wav", wavAudio())
	default:
		x.badRequest("Invalid 'response_format': the fake supports 'mp3' and 'wav'.")
	}
}

// mp3Audio is an ID3 tag followed by one silent MPEG-1 Layer III frame
// (128 kbit/s, 44.1 kHz: 417 bytes).
func mp3Audio() []byte {
	b := []byte("ID3\x04\x00\x00\x00\x00\x00\x00")
	frame := make([]byte, 417)
	copy(frame, []byte{0xff, 0xfb, 0x90, 0x64})
	return append(b, frame...)
}

// wavAudio is a valid WAV file with 100 ms of 16-bit mono silence.
func wavAudio() []byte {
	const rate, samples = 16000, 1600
	data := 2 * samples
	b := make([]byte, 44+data)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], rate)
	binary.LittleEndian.PutUint32(b[28:], 2*rate)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	return b
}

type transcriptionResponse struct {
	Text  string `json:"text"`
	Usage any    `json:"usage,omitempty"`
}

// transcription serves POST /v1/audio/transcriptions and translations: a
// multipart upload with a file and a model, answered with the reply text.
func (x *exchange) transcription() {
	if err := x.r.ParseMultipartForm(maxBody); err != nil {
		x.badRequest("Could not parse multipart form.")
		return
	}
	model := x.r.FormValue("model")
	if model == "" {
		model = x.r.PathValue("deployment")
	}
	f, fh, err := x.r.FormFile("file")
	if err != nil || model == "" {
		x.badRequest("Missing required parameters: 'file' and 'model'.")
		return
	}
	_ = f.Close()
	text := x.reply(model, fh.Filename)
	switch x.r.FormValue("response_format") {
	case "", "json", "verbose_json":
		x.writeJSON(http.StatusOK, transcriptionResponse{
			Text:  text,
			Usage: x.usage(obj("type", "duration", "seconds", 1)),
		})
	case "text":
		x.writeBody(http.StatusOK, "text/plain; charset=utf-8", []byte(text+"\n"))
	default:
		x.badRequest("Invalid 'response_format': the fake supports 'json', 'verbose_json' and 'text'.")
	}
}

type moderationRequest struct {
	Model string       `json:"model"`
	Input *promptInput `json:"input"`
}

type moderationResult struct {
	Flagged                   bool                `json:"flagged"`
	Categories                map[string]bool     `json:"categories"`
	CategoryScores            map[string]float64  `json:"category_scores"`
	CategoryAppliedInputTypes map[string][]string `json:"category_applied_input_types"`
}

// moderationCategories are the categories of the omni moderation model.
var moderationCategories = []string{
	"harassment", "harassment/threatening", "hate", "hate/threatening",
	"illicit", "illicit/violent", "self-harm", "self-harm/instructions",
	"self-harm/intent", "sexual", "sexual/minors", "violence", "violence/graphic",
}

// moderations serves POST /v1/moderations. An input is flagged for
// violence exactly when it contains the word "kill", so tests can steer the
// verdict.
func (x *exchange) moderations() {
	var req moderationRequest
	if !x.decode(&req) {
		return
	}
	if req.Input == nil || len(req.Input.texts) == 0 {
		x.badRequest("Missing required parameter: 'input'.")
		return
	}
	if req.Model == "" {
		req.Model = "omni-moderation-latest"
	}
	results := make([]moderationResult, len(req.Input.texts))
	for i, t := range req.Input.texts {
		r := moderationResult{
			Categories:                map[string]bool{},
			CategoryScores:            map[string]float64{},
			CategoryAppliedInputTypes: map[string][]string{},
		}
		for _, c := range moderationCategories {
			r.Categories[c] = false
			r.CategoryScores[c] = 0.0001
			r.CategoryAppliedInputTypes[c] = []string{"text"}
		}
		if hasWord(t, "kill") {
			r.Flagged = true
			r.Categories["violence"] = true
			r.CategoryScores["violence"] = 0.98
		}
		results[i] = r
	}
	x.writeJSON(http.StatusOK, obj("id", x.id("modr-fake"), "model", req.Model, "results", results))
}

// hasWord reports whether word occurs in s as a whole word, ignoring case.
func hasWord(s, word string) bool {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}
