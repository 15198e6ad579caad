package meter

import (
	"math"
	"math/bits"

	"github.com/wardenproject/warden/internal/provider"
)

// Usage is what one call consumed, in the units prices are quoted in.
//
// InputTokens excludes cached and cache-write tokens: the three input
// counts are disjoint and each is billed at its own price. That is
// Anthropic's convention; OpenAI's prompt_tokens and Gemini's
// promptTokenCount include the cached tokens, and provider.Usage includes
// both cached and cache-write tokens. Build a Usage with FromProvider,
// FromOpenAI or FromAnthropic rather than by hand, so that cached tokens
// are neither billed twice nor missed.
type Usage struct {
	InputTokens           int64 `json:"input_tokens"`
	CachedInputTokens     int64 `json:"cached_input_tokens,omitempty"`
	CacheWriteInputTokens int64 `json:"cache_write_input_tokens,omitempty"`
	OutputTokens          int64 `json:"output_tokens"`
	Images                int64 `json:"images,omitempty"`
	// AudioMillis is transcribed audio in milliseconds (whole numbers keep
	// the cost exact; a provider reporting seconds as a float is rounded
	// up to the millisecond by the caller).
	AudioMillis int64 `json:"audio_millis,omitempty"`
	// Characters is the length of text turned into speech.
	Characters int64 `json:"characters,omitempty"`
}

// FromProvider converts the gateway's view of a call's usage, whose
// InputTokens include the cached and cache-write tokens.
func FromProvider(u provider.Usage) Usage {
	return Usage{
		InputTokens:           max(0, u.InputTokens-u.CachedInputTokens-u.CacheWriteInputTokens),
		CachedInputTokens:     max(0, u.CachedInputTokens),
		CacheWriteInputTokens: max(0, u.CacheWriteInputTokens),
		OutputTokens:          max(0, u.OutputTokens),
	}
}

// FromOpenAI converts OpenAI's usage report (prompt_tokens or
// input_tokens, completion_tokens or output_tokens, and
// prompt_tokens_details.cached_tokens), where the prompt count includes
// the cached tokens. Gemini's usageMetadata reads the same way
// (promptTokenCount includes cachedContentTokenCount; add
// thoughtsTokenCount to the output).
func FromOpenAI(promptTokens, completionTokens, cachedTokens int64) Usage {
	cached := min(max(0, cachedTokens), max(0, promptTokens))
	return Usage{
		InputTokens:       max(0, promptTokens) - cached,
		CachedInputTokens: cached,
		OutputTokens:      max(0, completionTokens),
	}
}

// FromAnthropic converts Anthropic's usage report, whose input_tokens
// already exclude cache_read_input_tokens and cache_creation_input_tokens.
func FromAnthropic(inputTokens, outputTokens, cacheReadTokens, cacheCreationTokens int64) Usage {
	return Usage{
		InputTokens:           max(0, inputTokens),
		CachedInputTokens:     max(0, cacheReadTokens),
		CacheWriteInputTokens: max(0, cacheCreationTokens),
		OutputTokens:          max(0, outputTokens),
	}
}

// Cost returns what u costs at price p, exact to the nano-dollar: every
// term is summed in 128-bit integers in units of a millionth of a
// nano-dollar, and the total is rounded half up once, at the end. Negative
// counts are taken as zero; a cost beyond an int64 saturates.
func (p Price) Cost(u Usage) Amount {
	var s sum128
	s.add(u.InputTokens, p.InputPerMTok, 1)
	s.add(u.CachedInputTokens, p.CachedInputPerMTok, 1)
	s.add(u.CacheWriteInputTokens, p.CacheWritePerMTok, 1)
	s.add(u.OutputTokens, p.OutputPerMTok, 1)
	s.add(u.Characters, p.PerMChar, 1)
	s.add(u.Images, p.PerImage, perMillion)
	s.add(u.AudioMillis, p.PerAudioSecond, perMillion/1000)
	return s.amount()
}

// perMillion is the denominator of the token, character and audio prices.
const perMillion = 1_000_000

// sum128 is an unsigned 128-bit sum of products, in millionths of a
// nano-dollar. The inputs are bounded (counts by int64, prices by the
// pricing limits), but a sum of int64 × int64 products needs 128 bits.
type sum128 struct {
	hi, lo   uint64
	overflow bool
}

// add adds n × price × scale; n and price below zero count as zero.
func (s *sum128) add(n int64, price Amount, scale uint64) {
	if n <= 0 || price <= 0 {
		return
	}
	// price × scale fits in 64 bits for every allowed price; check anyway.
	hi, ps := bits.Mul64(uint64(price), scale)
	if hi != 0 {
		s.overflow = true
		return
	}
	hi, lo := bits.Mul64(uint64(n), ps)
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, lo, 0)
	s.hi, carry = bits.Add64(s.hi, hi, carry)
	if carry != 0 {
		s.overflow = true
	}
}

// amount divides the sum by a million, rounding half up.
func (s *sum128) amount() Amount {
	if s.overflow || s.hi >= perMillion {
		return Amount(math.MaxInt64)
	}
	q, r := bits.Div64(s.hi, s.lo, perMillion)
	if r >= perMillion/2 {
		q++
	}
	if q > math.MaxInt64 {
		return Amount(math.MaxInt64)
	}
	return Amount(q)
}
