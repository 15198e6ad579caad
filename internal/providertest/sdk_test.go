package providertest

import (
	"context"
	"errors"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// These tests prove the fake's OpenAI wire format against the official Go
// SDK: if the SDK cannot parse an answer, the fake is wrong.

func sdkClient(s *Server, key string, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(s.URL + "/v1/"),
		option.WithAPIKey(key),
		option.WithHTTPClient(s.Client()),
		option.WithMaxRetries(0),
	}, opts...)...)
}

func TestSDKChat(t *testing.T) {
	s := newServer(t, Options{Key: testKey, CachedTokens: 1})
	client := sdkClient(s, testKey)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."),
			openai.UserMessage("Say hello to me"),
		},
	}
	want := ReplyText("gpt-4o-mini", DefaultChunks)

	c, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if len(c.Choices) != 1 || c.Choices[0].Message.Content != want || c.Choices[0].FinishReason != "stop" || c.Model != "gpt-4o-mini" {
		t.Errorf("chat = %s", c.RawJSON())
	}
	if c.Usage.PromptTokens != 6 || c.Usage.CompletionTokens != int64(Tokens(want)) || c.Usage.PromptTokensDetails.CachedTokens != 1 {
		t.Errorf("usage = %s", c.Usage.RawJSON())
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("accumulator refused chunk %s", stream.Current().RawJSON())
		}
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	// role chunk + content chunks + finish chunk + usage chunk
	if chunks != DefaultChunks+3 {
		t.Errorf("%d chunks, want %d", chunks, DefaultChunks+3)
	}
	if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != want || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("accumulated %+v", acc.Choices)
	}
	if acc.Usage.PromptTokens != 6 || acc.Usage.CompletionTokens != int64(Tokens(want)) || acc.Usage.TotalTokens != int64(6+Tokens(want)) {
		t.Errorf("accumulated usage = %+v", acc.Usage)
	}
}

func TestSDKEmbeddingsAndModels(t *testing.T) {
	s := newServer(t, Options{Key: testKey})
	client := sdkClient(s, testKey)
	ctx := context.Background()

	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{"", openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
		e, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model:          openai.EmbeddingModelTextEmbedding3Small,
			Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one two", "three"}},
			Dimensions:     openai.Int(6),
			EncodingFormat: format,
		})
		if err != nil {
			t.Fatalf("embeddings (%q): %v", format, err)
		}
		if len(e.Data) != 2 || e.Usage.PromptTokens != 3 {
			t.Fatalf("embeddings (%q) = %s", format, e.RawJSON())
		}
		for i, text := range []string{"one two", "three"} {
			want := Vector(text, 6)
			got := e.Data[i].Embedding
			if len(got) != len(want) {
				t.Fatalf("embedding %d (%q) has %d dimensions", i, format, len(got))
			}
			for j := range want {
				if float32(got[j]) != want[j] {
					t.Fatalf("embedding %d (%q) = %v, want %v", i, format, got, want)
				}
			}
		}
	}

	page, err := client.Models.List(ctx)
	if err != nil {
		t.Fatalf("models: %v", err)
	}
	if len(page.Data) != len(DefaultModels) || page.Data[0].ID != DefaultModels[0] || page.Data[0].OwnedBy != "openai" {
		t.Errorf("models = %s", page.RawJSON())
	}
	m, err := client.Models.Get(ctx, "gpt-4o")
	if err != nil || m.ID != "gpt-4o" {
		t.Errorf("model gpt-4o = %v, %v", m, err)
	}
}

func TestSDKResponses(t *testing.T) {
	s := newServer(t, Options{Key: testKey})
	client := sdkClient(s, testKey)
	ctx := context.Background()
	params := responses.ResponseNewParams{
		Model: "gpt-4o",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello")},
	}
	want := ReplyText("gpt-4o", DefaultChunks)
	r, err := client.Responses.New(ctx, params)
	if err != nil {
		t.Fatalf("responses: %v", err)
	}
	if r.OutputText() != want || r.Usage.InputTokens != 2 || r.Usage.OutputTokens != int64(Tokens(want)) {
		t.Errorf("response = %s", r.RawJSON())
	}

	stream := client.Responses.NewStreaming(ctx, params)
	var text string
	var completed bool
	for stream.Next() {
		switch ev := stream.Current().AsAny().(type) {
		case responses.ResponseTextDeltaEvent:
			text += ev.Delta
		case responses.ResponseCompletedEvent:
			completed = ev.Response.OutputText() == want && ev.Response.Usage.OutputTokens == int64(Tokens(want))
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("responses stream: %v", err)
	}
	if text != want || !completed {
		t.Errorf("streamed %q, completed with the full text: %v", text, completed)
	}
}

func TestSDKErrors(t *testing.T) {
	s := newServer(t, Options{Key: testKey})
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}

	wrong := sdkClient(s, "sk-wrong-key-000000000")
	_, err := wrong.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" {
		t.Errorf("wrong key: %v", err)
	}

	client := sdkClient(s, testKey)
	s.Fail("/v1/chat", 1, Fault{Status: 429, RetryAfter: "0"})
	_, err = client.Chat.Completions.New(ctx, params)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "rate_limit_exceeded" || apiErr.Type != "requests" {
		t.Errorf("429: %v", err)
	}

	// With retries on, the SDK honours the 429 and gets through on the
	// second try.
	s.Reset()
	s.Fail("/v1/chat", 1, Fault{Status: 429, RetryAfter: "0"})
	retrying := sdkClient(s, testKey, option.WithMaxRetries(1))
	c, err := retrying.Chat.Completions.New(ctx, params)
	if err != nil || len(c.Choices) != 1 {
		t.Fatalf("retried chat: %v", err)
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}

	// A stream cut short surfaces as an error, not as a clean end.
	s.Fail("/v1/chat", 1, Fault{TruncateAfterChunks: 2})
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	for stream.Next() {
	}
	if stream.Err() == nil {
		t.Error("truncated stream ended without an error")
	}

	// So does an error event in the middle of a stream.
	s.Fail("/v1/chat", 1, Fault{ErrorAfterChunks: 1, Message: "midway"})
	stream = client.Chat.Completions.NewStreaming(ctx, params)
	for stream.Next() {
	}
	if stream.Err() == nil {
		t.Error("stream with an error event ended cleanly")
	}
}
