package providertest

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultModels is what GET /v1/models lists when Options.Models is nil.
var DefaultModels = []string{
	"gpt-4o",
	"gpt-4o-mini",
	"gpt-4.1",
	"o3-mini",
	"gpt-3.5-turbo-instruct",
	"text-embedding-3-small",
	"text-embedding-3-large",
	"omni-moderation-latest",
	"dall-e-3",
	"gpt-image-1",
	"tts-1",
	"whisper-1",
}

// Tokens is the fake's tokenizer: one token per whitespace-separated word.
func Tokens(s string) int {
	n := 0
	in := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			in = false
			continue
		}
		if !in {
			n++
			in = true
		}
	}
	return n
}

// ReplyText is the fake's reply to model when streams have chunks pieces:
// "Hello from fake <model>", extended with " lorem" words while it has
// fewer runes than chunks so that every chunk carries text.
func ReplyText(model string, chunks int) string {
	s := "Hello from fake " + model
	for utf8.RuneCountInString(s) < chunks {
		s += " lorem"
	}
	return s
}

// split cuts s into at most n pieces of near-equal rune counts; a string
// shorter than n runes gives one piece per rune.
func split(s string, n int) []string {
	count := utf8.RuneCountInString(s)
	if count == 0 {
		return nil
	}
	n = min(n, count)
	pieces := make([]string, 0, n)
	start, runes := 0, 0
	for i := range n {
		end := start
		want := (i + 1) * count / n
		for runes < want {
			_, size := utf8.DecodeRuneInString(s[end:])
			end += size
			runes++
		}
		pieces = append(pieces, s[start:end])
		start = end
	}
	return pieces
}

// vector is a deterministic unit vector of dims floats derived from text,
// standing in for an embedding.
func vector(text string, dims int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(text))
	state := h.Sum64() | 1
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		// xorshift64*: cheap, deterministic, and spread enough to look
		// like an embedding.
		state ^= state >> 12
		state ^= state << 25
		state ^= state >> 27
		f := float64(state*2685821657736338717>>11)/float64(1<<53)*2 - 1
		v[i] = float32(f)
		norm += f * f
	}
	if norm = math.Sqrt(norm); norm > 0 {
		for i := range v {
			v[i] = float32(float64(v[i]) / norm)
		}
	}
	return v
}

// textOf collects the text in a JSON value that is either a string or an
// array of content parts with a "text" field (OpenAI, Anthropic and
// Responses content all take one of these forms). Other parts (images,
// tool calls) carry no countable text.
func textOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text    string          `json:"text"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		t := p.Text
		if t == "" {
			// Anthropic tool_result blocks nest their text one level down.
			t = textOf(p.Content)
		}
		if t == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	return b.String()
}

// promptInput is a legacy prompt or an embeddings/moderations input: a
// string, an array of strings, an array of token ids or an array of arrays
// of token ids. Each element is one input; token arrays count one token per
// id.
type promptInput struct {
	texts  []string
	tokens []int // per input: token count when given as ids, else -1
}

func (p *promptInput) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		p.add(s, -1)
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	var ids []int
	if json.Unmarshal(b, &ids) == nil && len(ids) > 0 {
		p.add(idsText(ids), len(ids))
		return nil
	}
	for _, el := range list {
		if err := json.Unmarshal(el, &s); err == nil {
			p.add(s, -1)
			continue
		}
		if err := json.Unmarshal(el, &ids); err == nil {
			p.add(idsText(ids), len(ids))
			continue
		}
		var part struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(el, &part); err != nil {
			return err
		}
		p.add(part.Text, -1)
	}
	return nil
}

func (p *promptInput) add(text string, tokens int) {
	p.texts = append(p.texts, text)
	p.tokens = append(p.tokens, tokens)
}

// count is the prompt's token count under the fake's tokenizer.
func (p promptInput) count() int {
	n := 0
	for i, t := range p.texts {
		if p.tokens[i] >= 0 {
			n += p.tokens[i]
		} else {
			n += Tokens(t)
		}
	}
	return n
}

// idsText is the stand-in text of a token-id input, so that equal ids give
// equal embeddings.
func idsText(ids []int) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// object is a JSON object that keeps its keys in the order given, so that
// events read like the real ones ("type" first).
type object []any

// obj builds an object from alternating keys and values.
func obj(kv ...any) object { return object(kv) }

func (o object) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i := 0; i+1 < len(o); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(o[i])
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(o[i+1])
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}
