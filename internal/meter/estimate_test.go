package meter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/provider"
)

// TestEstimate checks estimates worked out by hand. Text is counted in
// units (an ASCII character is one, any other character four), object keys
// included; tokens are the units over four, rounded up, plus four per
// message and three for the reply. MaxCost takes the input at the model's
// highest input price (Anthropic's cache write) and per-token prices are
// in nano-dollars.
func TestEstimate(t *testing.T) {
	image := `{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + strings.Repeat("QUFB", 50_000) + `"}}`
	tests := []struct {
		name       string
		op         provider.Op
		model      string
		body       string
		in, out    int64
		cost       Amount
		fromLength bool
	}{
		{
			// role 4 + user 4 + content 7 + "Hello, world!" 13 = 28 units,
			// 7 tokens + 4 + 3 = 14. 14 × 2,500 + 100 × 10,000.
			"openai chat", provider.OpChat, "gpt-4o",
			`{"model":"gpt-4o","messages":[{"role":"user","content":"Hello, world!"}],"max_tokens":100}`,
			14, 100, 35_000 + 1_000_000, false,
		},
		{
			// No limit in the request: the model's 16,384.
			// 14 × 2,500 + 16,384 × 10,000.
			"openai chat without a limit", provider.OpChat, "gpt-4o",
			`{"model":"gpt-4o","messages":[{"role":"user","content":"Hello, world!"}]}`,
			14, 16_384, 35_000 + 163_840_000, false,
		},
		{
			// Three choices of at most 10 tokens; max_completion_tokens
			// and max_tokens both set: the larger.
			"openai chat n", provider.OpChat, "gpt-4o-mini",
			`{"messages":[{"role":"user","content":"Hello, world!"}],"max_tokens":7,"max_completion_tokens":10,"n":3}`,
			14, 30, 14*150 + 30*600, false,
		},
		{
			// A fractional limit is rounded up; non-ASCII text: "héllo" is
			// h 1 + é 4 + llo 3 = 8 units, content 7, role 4, user 4:
			// 23 units, 6 tokens + 7.
			"non-ASCII text", provider.OpChat, "gpt-4o-mini",
			`{"messages":[{"role":"user","content":"héllo"}],"max_tokens":2.5}`,
			13, 3, 13*150 + 3*600, false,
		},
		{
			// system "Be brief." 9; role 4, user 4, content 7; the text
			// part: type 4 + text 4 + text 4 + Hi 2 = 14; the image part
			// 2,048 tokens whatever its 200 kB: 9+15+14 = 38 units + 8,192
			// = 8,230 units, 2,058 tokens + 4 + 3 = 2,065.
			// 2,065 × 3,750 (cache write) + 1,024 × 15,000.
			"anthropic with an image", provider.OpMessages, "claude-sonnet-4-20250514",
			`{"model":"claude-sonnet-4-20250514","max_tokens":1024,"system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"Hi"},` + image + `]}]}`,
			2_065, 1_024, 7_743_750 + 15_360_000, false,
		},
		{
			// instructions 9 + input 12 = 21 units, 6 tokens + 3.
			// 9 × 1,100 + 500 × 4,400.
			"responses", provider.OpResponses, "o4-mini",
			`{"model":"o4-mini","instructions":"Be terse.","input":"What is 2+2?","max_output_tokens":500}`,
			9, 500, 9_900 + 2_200_000, false,
		},
		{
			// "abc" + "defgh" = 8 units, 2 tokens, no output. 2 × 20.
			"embeddings", provider.OpEmbeddings, "text-embedding-3-small",
			`{"model":"text-embedding-3-small","input":["abc","defgh"]}`,
			2, 0, 40, false,
		},
		{
			// Token ids count by their digits: 4 + 5 = 9 units, 3 tokens.
			// best_of 3 × 16. 3 × 500 + 48 × 1,500 (gpt-3.5-turbo).
			"completions with token ids", provider.OpCompletions, "gpt-3.5-turbo-0125",
			`{"prompt":[1234,56789],"max_tokens":16,"best_of":3}`,
			3, 48, 1_500 + 72_000, false,
		},
		{
			// "a red fox" 9 units, 3 tokens; 2 × $0.04.
			"images", provider.OpImages, "dall-e-3",
			`{"model":"dall-e-3","prompt":"a red fox","n":2}`,
			3, 0, 80_000_000, false,
		},
		{
			// 5 characters × 15,000; "héllo" is 8 units, 2 tokens.
			"speech", provider.OpSpeech, "tts-1",
			`{"model":"tts-1","input":"héllo","voice":"alloy"}`,
			2, 0, 75_000, false,
		},
		{
			"moderations are free", provider.OpModerations, "omni-moderation-latest",
			`{"input":"some text"}`,
			3, 0, 0, false,
		},
		{
			"count tokens", provider.OpCountTokens, "claude-sonnet-4",
			`{"messages":[{"role":"user","content":"Hello"}]}`,
			0, 0, 0, false,
		},
		{
			// Gemini through passthrough: role 4 + user 4 + parts 5 + text 4
			// + Hi 2 = 19 units, 5 tokens + 4 + 3; 50 × 2 candidates.
			// 12 × 100 + 100 × 400.
			"gemini passthrough", provider.OpPassthrough, "gemini-2.0-flash",
			`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"maxOutputTokens":50,"candidateCount":2}}`,
			12, 100, 1_200 + 40_000, false,
		},
		{
			// A limit that is not a number is no limit: the default, as
			// the model sets none. 14 × 100 + 4,096 × 300.
			"default output", provider.OpChat, "mistral-small",
			`{"messages":[{"role":"user","content":"Hello, world!"}],"max_tokens":"lots"}`,
			14, DefaultMaxOutputTokens, 1_400 + 1_228_800, false,
		},
		{
			// 15 bytes: 5 tokens; the model's maximum output.
			"malformed", provider.OpChat, "gpt-4o",
			`{"messages": [{`,
			5, 16_384, 5*2_500 + 163_840_000, true,
		},
		{
			"not an object", provider.OpChat, "gpt-4o",
			`null`,
			2, 16_384, 2*2_500 + 163_840_000, true,
		},
		{
			// 30,000 bytes at 1,000 bytes a second: 30 s × 100,000.
			"transcription", provider.OpTranscriptions, "whisper-1",
			strings.Repeat("x", 30_000),
			0, 0, 3_000_000, false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustLookup(t, tt.model)
			got := Estimate(tt.op, []byte(tt.body), p)
			want := CallEstimate{InputTokens: tt.in, MaxOutputTokens: tt.out, MaxCost: tt.cost, FromLength: tt.fromLength}
			if got != want {
				t.Errorf("Estimate = %+v, want %+v", got, want)
			}
			if got.Tokens() != tt.in+tt.out {
				t.Errorf("Tokens() = %d", got.Tokens())
			}
		})
	}
}

// The estimate is an over-estimate of real usage for ordinary English.
// The sentence is 10 tokens in OpenAI's o200k and cl100k tokenizers.
func TestEstimateOverestimates(t *testing.T) {
	body := `{"input":"The quick brown fox jumps over the lazy dog."}`
	if got := Estimate(provider.OpEmbeddings, []byte(body), Price{}); got.InputTokens < 10 {
		t.Errorf("InputTokens = %d, want at least 10", got.InputTokens)
	}
}

func TestEstimateCountsWhatIsSent(t *testing.T) {
	p := Price{InputPerMTok: USD, OutputPerMTok: USD}
	base := Estimate(provider.OpChat, []byte(`{"messages":[{"role":"user","content":"hi"}]}`), p)
	tests := []struct {
		name string
		body string
	}{
		{"system message", `{"messages":[{"role":"system","content":"be nice"},{"role":"user","content":"hi"}]}`},
		{"tools", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`},
		{"response format", `{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}}`},
		{"tool calls", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","function":{"arguments":"{\"city\":\"Paris\"}"}}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Estimate(provider.OpChat, []byte(tt.body), p)
			if got.InputTokens <= base.InputTokens || got.MaxCost <= base.MaxCost {
				t.Errorf("Estimate = %+v, not more than %+v", got, base)
			}
		})
	}
}

func FuzzEstimate(f *testing.F) {
	ops := []provider.Op{
		provider.OpChat, provider.OpCompletions, provider.OpEmbeddings, provider.OpResponses,
		provider.OpImages, provider.OpTranscriptions, provider.OpSpeech, provider.OpModerations,
		provider.OpMessages, provider.OpCountTokens, provider.OpPassthrough,
	}
	f.Add(uint8(0), []byte(`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}],"max_tokens":1e300,"n":-1}`))
	f.Add(uint8(8), []byte(`{"system":[{"type":"text","text":"\u00e9\n"}],"messages":[],"max_tokens":10}`))
	f.Add(uint8(3), []byte(`{"input":[{"type":"message","content":"x"}],"max_output_tokens":"9"}`))
	f.Add(uint8(10), []byte(`{"generationConfig":[1],"contents":{"a":[true,false,null,-1.5e3]}}`))
	f.Add(uint8(6), []byte(`{"input":"\ud83d\ude00 ok"}`))
	f.Add(uint8(4), []byte(`{"prompt":"x","n":1000000}`))
	f.Add(uint8(0), []byte("{\"messages\":[\"\xff\xfe\"]}"))
	f.Add(uint8(0), []byte(`[`))
	f.Fuzz(func(t *testing.T, opIndex uint8, body []byte) {
		op := ops[int(opIndex)%len(ops)]
		p := Price{InputPerMTok: maxPerMTok, CacheWritePerMTok: maxPerMTok, OutputPerMTok: maxPerMTok,
			PerImage: maxPerImage, PerAudioSecond: maxPerAudioSecond, PerMChar: maxPerMChar}
		e := Estimate(op, body, p)
		if json.Valid(body) {
			if ej := EstimateJSON(op, body, p); ej != e {
				t.Fatalf("EstimateJSON %+v differs from Estimate %+v on valid JSON", ej, e)
			}
		}
		if e.InputTokens < 0 || e.MaxOutputTokens < 0 || e.MaxCost < 0 {
			t.Fatalf("negative estimate %+v", e)
		}
		// Text is at most four units a byte, an image part (16 bytes at
		// least) 2,048 tokens, plus the framing.
		if limit := int64(len(body))*(ImageInputTokens/16+1) + replyOverhead; e.InputTokens > limit {
			t.Fatalf("InputTokens %d for %d bytes", e.InputTokens, len(body))
		}
		if e.MaxOutputTokens > maxOutputTokensCap*maxChoices {
			t.Fatalf("MaxOutputTokens %d", e.MaxOutputTokens)
		}
		if op != provider.OpCountTokens && op != provider.OpTranscriptions && !e.FromLength && !json.Valid(body) {
			t.Fatalf("invalid JSON %q read as a request", body)
		}
		if e.FromLength && e.InputTokens != (int64(len(body))+2)/3 {
			t.Fatalf("FromLength estimate %d for %d bytes", e.InputTokens, len(body))
		}
	})
}

// estimateChatBody builds a chat request of about size bytes: a system prompt
// and alternating turns of English text.
func estimateChatBody(size int) []byte {
	const sentence = "Warden checks every call against its key's budget before it is sent, and settles the cost afterwards. "
	var b bytes.Buffer
	b.WriteString(`{"model":"gpt-4o","max_tokens":512,"messages":[{"role":"system","content":"You are a careful assistant. Answer in short paragraphs."}`)
	for i := 0; b.Len() < size-200; i++ {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		fmt.Fprintf(&b, `,{"role":%q,"content":%q}`, role, strings.Repeat(sentence, 3))
	}
	b.WriteString(`],"temperature":0.2,"stream":true,"stream_options":{"include_usage":true}}`)
	return b.Bytes()
}

// BenchmarkEstimate measures Estimate against decoding the same body into
// map[string]any, the baseline any JSON-reading stage pays.
func BenchmarkEstimate(b *testing.B) {
	p := Price{InputPerMTok: 2500 * MicroUSD, OutputPerMTok: 10_000 * MicroUSD}
	for _, size := range []struct {
		name string
		n    int
	}{{"2KB", 2 << 10}, {"1MB", 1 << 20}} {
		body := estimateChatBody(size.n)
		b.Run("estimate/"+size.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if e := Estimate(provider.OpChat, body, p); e.FromLength || e.InputTokens == 0 {
					b.Fatalf("estimate %+v", e)
				}
			}
		})
		b.Run("map_baseline/"+size.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
