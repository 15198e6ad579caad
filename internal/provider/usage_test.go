package provider

import (
	"testing"
)

func TestParseUsage(t *testing.T) {
	openai := mustNew(t, Config{Name: "o", Type: OpenAI, BaseURL: "https://x/v1"})
	anthropic := mustNew(t, Config{Name: "a", Type: Anthropic, BaseURL: "https://x"})
	google := mustNew(t, Config{Name: "g", Type: Google, BaseURL: "https://x"})
	local := mustNew(t, Config{Name: "l", Type: HTTP, BaseURL: "http://x"})

	known := func(in, out, cached, write int64) Usage {
		return Usage{InputTokens: in, OutputTokens: out, CachedInputTokens: cached, CacheWriteInputTokens: write, Known: true}
	}
	tests := []struct {
		name string
		a    *Adapter
		op   Op
		body string
		want Usage
	}{
		{"openai chat", openai, OpChat,
			`{"id":"x","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150,"prompt_tokens_details":{"cached_tokens":100},"completion_tokens_details":{"reasoning_tokens":10}}}`,
			known(120, 30, 100, 0)},
		{"openai chat without details", openai, OpChat, `{"usage":{"prompt_tokens":5,"completion_tokens":7}}`, known(5, 7, 0, 0)},
		{"openai embeddings", openai, OpEmbeddings, `{"data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}`, known(8, 0, 0, 0)},
		{"openai responses", openai, OpResponses,
			`{"output":[],"usage":{"input_tokens":50,"input_tokens_details":{"cached_tokens":20},"output_tokens":9,"output_tokens_details":{"reasoning_tokens":3},"total_tokens":59}}`,
			known(50, 9, 20, 0)},
		{"openai image tokens", openai, OpImages, `{"data":[],"usage":{"input_tokens":10,"output_tokens":4160,"total_tokens":4170}}`, known(10, 4160, 0, 0)},
		{"anthropic", anthropic, OpMessages,
			`{"type":"message","usage":{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":1000,"output_tokens":55}}`,
			known(1210, 55, 1000, 200)},
		{"anthropic without cache fields", anthropic, OpMessages, `{"usage":{"input_tokens":10,"output_tokens":5}}`, known(10, 5, 0, 0)},
		{"anthropic format through a generic server", local, OpPassthrough,
			`{"usage":{"input_tokens":10,"cache_read_input_tokens":4,"output_tokens":5}}`, known(14, 5, 4, 0)},
		{"count tokens is free", anthropic, OpCountTokens, `{"input_tokens":2095}`, known(0, 0, 0, 0)},
		{"google", google, OpPassthrough,
			`{"candidates":[],"usageMetadata":{"promptTokenCount":40,"candidatesTokenCount":12,"thoughtsTokenCount":8,"cachedContentTokenCount":30,"totalTokenCount":60}}`,
			known(40, 20, 30, 0)},
		{"google without output", google, OpPassthrough, `{"usageMetadata":{"promptTokenCount":40}}`, known(40, 0, 0, 0)},
		{"google array of chunks", google, OpPassthrough,
			`[{"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1}},{"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":9}}]`,
			known(4, 9, 0, 0)},
		{"big but sane", openai, OpChat, `{"usage":{"prompt_tokens":1099511627776,"completion_tokens":0}}`, known(1<<40, 0, 0, 0)},

		{"empty", openai, OpChat, ``, Usage{}},
		{"not JSON", openai, OpChat, `<html>502</html>`, Usage{}},
		{"truncated", openai, OpChat, `{"usage":{"prompt_tokens":5,`, Usage{}},
		{"no usage", openai, OpChat, `{"choices":[]}`, Usage{}},
		{"usage null", openai, OpChat, `{"usage":null}`, Usage{}},
		{"usage empty", openai, OpChat, `{"usage":{}}`, Usage{}},
		{"usage a string", openai, OpChat, `{"usage":"lots"}`, Usage{}},
		{"count a string", openai, OpChat, `{"usage":{"prompt_tokens":"5","completion_tokens":1}}`, Usage{}},
		{"count a float", openai, OpChat, `{"usage":{"prompt_tokens":5.5,"completion_tokens":1}}`, Usage{}},
		{"count negative", openai, OpChat, `{"usage":{"prompt_tokens":-5,"completion_tokens":1}}`, Usage{}},
		{"count too big", openai, OpChat, `{"usage":{"prompt_tokens":1099511627777}}`, Usage{}},
		{"count overflows int64", openai, OpChat, `{"usage":{"prompt_tokens":99999999999999999999}}`, Usage{}},
		{"cached above input", openai, OpChat, `{"usage":{"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":6}}}`, Usage{}},
		{"top-level array of junk", google, OpPassthrough, `[1,2]`, Usage{}},
		{"empty array", google, OpPassthrough, `[]`, Usage{}},
		{"top-level number", openai, OpChat, `42`, Usage{}},
		{"google prompt missing", google, OpPassthrough, `{"usageMetadata":{"candidatesTokenCount":3}}`, Usage{}},
		{"google negative", google, OpPassthrough, `{"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":-1}}`, Usage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.ParseUsage(tt.op, []byte(tt.body)); got != tt.want {
				t.Fatalf("ParseUsage = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseUsage(f *testing.F) {
	for _, s := range []string{
		`{"usage":{"prompt_tokens":1,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1}}}`,
		`{"usage":{"input_tokens":1,"cache_read_input_tokens":3,"cache_creation_input_tokens":4,"output_tokens":2}}`,
		`{"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2}}`,
		`[{"usageMetadata":{"promptTokenCount":1}}]`, `{"usage":null}`, `[]`, ``, `{`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	types := []string{OpenAI, Anthropic, Google, HuggingFace, HTTP}
	ops := []Op{OpChat, OpEmbeddings, OpResponses, OpMessages, OpCountTokens, OpPassthrough}
	f.Fuzz(func(t *testing.T, body []byte, sel uint8) {
		a := mustNew(t, Config{Name: "p", Type: types[int(sel)%len(types)], BaseURL: "https://x"})
		u := a.ParseUsage(ops[int(sel/8)%len(ops)], body)
		if !u.Known {
			if u != (Usage{}) {
				t.Fatalf("unknown usage with counts: %+v", u)
			}
			return
		}
		if u.InputTokens < 0 || u.OutputTokens < 0 || u.CachedInputTokens < 0 || u.CacheWriteInputTokens < 0 {
			t.Fatalf("negative count: %+v", u)
		}
		if u.CachedInputTokens+u.CacheWriteInputTokens > u.InputTokens {
			t.Fatalf("cached parts exceed the input: %+v", u)
		}
	})
}
