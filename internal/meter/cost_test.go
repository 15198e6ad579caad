package meter

import (
	"math"
	"testing"

	"github.com/wardenproject/warden/internal/provider"
)

func mustLookup(t testing.TB, model string) Price {
	t.Helper()
	p, ok := DefaultTable().Lookup(model)
	if !ok {
		t.Fatalf("Lookup(%q): not found in the default table", model)
	}
	return p
}

// TestCost checks the cost of known usage at the default table's prices
// against sums done by hand. Token prices are written per token in the
// comments: $2.50 per million tokens is 2,500 nano-dollars per token.
func TestCost(t *testing.T) {
	tests := []struct {
		name  string
		model string
		u     Usage
		want  Amount
	}{
		{
			// OpenAI counts cached tokens inside prompt_tokens.
			// 6,000 × 2,500 + 4,000 × 1,250 + 2,000 × 10,000
			// = 15,000,000 + 5,000,000 + 20,000,000
			"openai chat with cached prompt", "gpt-4o-2024-08-06",
			FromOpenAI(10_000, 2_000, 4_000),
			40_000_000,
		},
		{
			// 1,000 × 15,000 + 5,000 × 60,000 (reasoning is output)
			"openai reasoning", "o1",
			FromOpenAI(1_000, 5_000, 0),
			315_000_000,
		},
		{
			// 1 × 150 + 1 × 600
			"openai small", "gpt-4o-mini-2024-07-18",
			FromOpenAI(1, 1, 0),
			750,
		},
		{
			// Anthropic's input_tokens exclude the cache reads and writes.
			// 1,200 × 3,000 + 50,000 × 300 + 10,000 × 3,750 + 800 × 15,000
			// = 3,600,000 + 15,000,000 + 37,500,000 + 12,000,000
			"anthropic with cache reads and writes", "claude-sonnet-4-20250514",
			FromAnthropic(1_200, 800, 50_000, 10_000),
			68_100_000,
		},
		{
			// 333 × 800 + 1,001 × 80 + 77 × 4,000
			// = 266,400 + 80,080 + 308,000
			"anthropic haiku cache read", "claude-3-5-haiku-latest",
			FromAnthropic(333, 77, 1_001, 0),
			654_480,
		},
		{
			// Gemini: promptTokenCount includes the cached tokens; thinking
			// (1,000) is added to the 678 candidates by the caller.
			// 10,345 × 300 + 2,000 × 75 + 1,678 × 2,500
			// = 3,103,500 + 150,000 + 4,195,000
			"gemini with thinking and cache", "gemini-2.5-flash",
			FromOpenAI(12_345, 678+1_000, 2_000),
			7_448_500,
		},
		{
			// 7 × 75 + 3 × 18.75 = 525 + 56.25 = 581.25, rounded to 581
			"gemini rounding down", "models/gemini-1.5-flash-002",
			FromOpenAI(10, 0, 3),
			581,
		},
		{
			// 8 × 75 + 2 × 18.75 = 600 + 37.5 = 637.5, half up to 638
			"gemini rounding half up", "gemini-1.5-flash",
			FromOpenAI(10, 0, 2),
			638,
		},
		{
			// 100 × 100 + 100 × 300
			"mistral", "mistral-small-latest",
			FromOpenAI(100, 100, 0),
			40_000,
		},
		{
			// 1,234,567 × 20
			"embeddings small", "text-embedding-3-small",
			Usage{InputTokens: 1_234_567},
			24_691_340,
		},
		{
			// 1 × 130
			"embeddings large", "text-embedding-3-large",
			Usage{InputTokens: 1},
			130,
		},
		{
			// 3 × $0.04 = 3 × 40,000,000
			"image", "dall-e-3",
			Usage{Images: 3},
			120_000_000,
		},
		{
			// 61.5 s × $0.0001 = 61.5 × 100,000
			"transcription", "whisper-1",
			Usage{AudioMillis: 61_500},
			6_150_000,
		},
		{
			// $15 per million characters is 15,000 per character:
			// 4,096 × 15,000
			"speech", "tts-1",
			Usage{Characters: 4_096},
			61_440_000,
		},
		{
			"moderation is free", "omni-moderation-latest",
			Usage{InputTokens: 1_000_000, Images: 4},
			0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLookup(t, tt.model).Cost(tt.u); got != tt.want {
				t.Errorf("Cost = %d (%s), want %d (%s)", got, got, tt.want, tt.want)
			}
		})
	}
}

func TestCostRoundsOnceAtTheEnd(t *testing.T) {
	// One nano-dollar per million tokens on every token kind: each term
	// alone is less than half a nano-dollar, their sum is not.
	p := Price{InputPerMTok: 1, CachedInputPerMTok: 1, CacheWritePerMTok: 1, OutputPerMTok: 1}
	u := Usage{InputTokens: 200_000, CachedInputTokens: 200_000, CacheWriteInputTokens: 50_000, OutputTokens: 50_000}
	if got := p.Cost(u); got != 1 {
		t.Errorf("Cost = %d, want 1 (0.5 nano-dollar rounded half up)", got)
	}
	u.OutputTokens--
	if got := p.Cost(u); got != 0 {
		t.Errorf("Cost = %d, want 0 (0.499999 nano-dollar)", got)
	}
}

func TestCostEdges(t *testing.T) {
	top := Price{InputPerMTok: maxPerMTok, OutputPerMTok: maxPerMTok, PerImage: maxPerImage, PerAudioSecond: maxPerAudioSecond}
	tests := []struct {
		name string
		p    Price
		u    Usage
		want Amount
	}{
		{"negative counts are zero", top, Usage{InputTokens: -5, OutputTokens: -1, Images: -1, AudioMillis: -1}, 0},
		{"saturates", top, Usage{InputTokens: math.MaxInt64, OutputTokens: math.MaxInt64}, math.MaxInt64},
		{"large but exact", top, Usage{InputTokens: 1_000_000}, maxPerMTok},
		{"zero price", Price{}, Usage{InputTokens: 1 << 40}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Cost(tt.u); got != tt.want {
				t.Errorf("Cost = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestUsageConversions(t *testing.T) {
	tests := []struct {
		name string
		got  Usage
		want Usage
	}{
		{
			"provider usage includes cache reads and writes",
			FromProvider(provider.Usage{InputTokens: 1_210, OutputTokens: 55, CachedInputTokens: 1_000, CacheWriteInputTokens: 200, Known: true}),
			Usage{InputTokens: 10, OutputTokens: 55, CachedInputTokens: 1_000, CacheWriteInputTokens: 200},
		},
		{
			"anthropic report",
			FromAnthropic(10, 55, 1_000, 200),
			Usage{InputTokens: 10, OutputTokens: 55, CachedInputTokens: 1_000, CacheWriteInputTokens: 200},
		},
		{
			"openai report",
			FromOpenAI(120, 30, 100),
			Usage{InputTokens: 20, OutputTokens: 30, CachedInputTokens: 100},
		},
		{
			"openai cached above prompt is capped",
			FromOpenAI(5, 1, 9),
			Usage{InputTokens: 0, OutputTokens: 1, CachedInputTokens: 5},
		},
		{
			"negative provider counts",
			FromProvider(provider.Usage{InputTokens: 3, CachedInputTokens: 5, OutputTokens: -1}),
			Usage{InputTokens: 0, CachedInputTokens: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}
}

// The same call billed from either report costs the same.
func TestCostSameForEitherConvention(t *testing.T) {
	p := mustLookup(t, "claude-3-7-sonnet-20250219")
	viaProvider := p.Cost(FromProvider(provider.Usage{InputTokens: 5_300, OutputTokens: 40, CachedInputTokens: 5_000, CacheWriteInputTokens: 250}))
	viaAnthropic := p.Cost(FromAnthropic(50, 40, 5_000, 250))
	if viaProvider != viaAnthropic {
		t.Errorf("from provider.Usage %s, from Anthropic's report %s", viaProvider, viaAnthropic)
	}
	// 50 × 3,000 + 5,000 × 300 + 250 × 3,750 + 40 × 15,000
	if want := Amount(150_000 + 1_500_000 + 937_500 + 600_000); viaAnthropic != want {
		t.Errorf("cost %d, want %d", viaAnthropic, want)
	}
}
