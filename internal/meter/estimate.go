package meter

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/wardenproject/warden/internal/provider"
)

// Estimates before the call
//
// A token rate limit and a budget reservation must be decided before the
// provider says what a call used. Estimate reads the request and bounds
// the call from above. It is not a tokenizer: it counts about four
// characters of the request's text per token, rounded up, counts every
// non-ASCII character as a whole token, adds a few tokens per message for
// the chat framing, and counts an image as ImageInputTokens whatever its
// size. Real tokenizers give fewer tokens for almost every text, so the
// estimate is a deliberate over-estimate, and the settled cost, from the
// provider's usage report, is what is billed.

// Constants of the estimate.
const (
	// DefaultMaxOutputTokens bounds the output of a request that sets no
	// limit, for a model whose price gives none.
	DefaultMaxOutputTokens = 4096
	// ImageInputTokens is what an image in a prompt is assumed to cost,
	// above what the providers charge for their largest image tile sets.
	ImageInputTokens = 2048
	// TranscriptionBytesPerSecond is the bitrate (8 kbit/s, lower than any
	// usual speech encoding) an audio upload is assumed to have, so that
	// its length gives an upper bound of its duration.
	TranscriptionBytesPerSecond = 1000

	charsPerToken        = 4
	messageOverhead      = 4 // role and separators of one message
	replyOverhead        = 3 // the priming of the assistant's answer
	unreadableCharsToken = 3 // chars per token for a body that cannot be read
	maxChoices           = 128
)

// CallEstimate bounds a call before it is made.
type CallEstimate struct {
	// InputTokens is the estimated size of the prompt.
	InputTokens int64
	// MaxOutputTokens is the most the call can write: the request's own
	// limit, else the model's, else DefaultMaxOutputTokens; times the
	// number of choices asked for. Zero for operations without token
	// output (embeddings, images, audio, moderations).
	MaxOutputTokens int64
	// MaxCost is the input at the highest input price of the model (a
	// prompt may be written to the cache, which costs more than input)
	// plus the maximum output at the output price, plus images, audio and
	// characters at their prices.
	MaxCost Amount
	// FromLength is true when the body could not be read as the
	// operation's JSON and the input was estimated from its length alone
	// (one token per three bytes).
	FromLength bool
}

// Tokens returns input and maximum output together, what a token rate
// limit counts.
func (e CallEstimate) Tokens() int64 { return e.InputTokens + e.MaxOutputTokens }

// estimateRequest is the union of the request fields that carry prompt
// text or bound the output, over the OpenAI, Anthropic and Gemini request
// formats. Text fields hold counts only, so a large body costs no copy of
// its strings.
type estimateRequest struct {
	// Prompt text: messages, system, instructions, prompt, input, tools,
	// functions, response_format, text (the Responses API's output
	// format), and Gemini's contents and systemInstruction.
	text textCount
	// Elements of the message arrays (messages, contents), and of input,
	// which is one for the Responses API.
	messages, inputItems int64
	// The runes of input: what speech synthesis charges for.
	inputRunes int64

	// max_tokens, max_completion_tokens, max_output_tokens and Gemini's
	// generationConfig.maxOutputTokens: the largest.
	maxOutput reqNumber
	// n, best_of and Gemini's candidateCount: the largest.
	choices reqNumber
}

// textFields are the members of a request whose values are prompt text.
var textFields = map[string]bool{
	"messages": true, "system": true, "instructions": true, "prompt": true,
	"input": true, "tools": true, "functions": true, "response_format": true,
	"text": true, "contents": true, "systemInstruction": true, "system_instruction": true,
}

// readRequest reads the request object body, which json.Valid has
// accepted. A member that appears twice is counted twice.
func readRequest(body []byte) estimateRequest {
	var r estimateRequest
	w := textWalker{b: body}
	w.members(func(key []byte) {
		if textFields[string(key)] {
			c := w.measure()
			r.text.add(c)
			switch string(key) {
			case "messages", "contents":
				r.messages += c.elems
			case "input":
				r.inputItems += c.elems
				r.inputRunes += c.runes
			}
			return
		}
		switch string(key) {
		case "max_tokens", "max_completion_tokens", "max_output_tokens":
			r.maxOutput.set(w.number())
		case "n", "best_of":
			r.choices.set(w.number())
		case "generationConfig", "generation_config":
			w.members(func(key []byte) {
				switch string(key) {
				case "maxOutputTokens", "max_output_tokens":
					r.maxOutput.set(w.number())
				case "candidateCount", "candidate_count":
					r.choices.set(w.number())
				default:
					w.measure()
				}
			})
		default:
			w.measure()
		}
	})
	return r
}

// Estimate bounds the call op (a provider.Op) with request body at price
// p. It never fails: a body it cannot read is estimated from its length.
// Token counting (messages.count_tokens) is free and uses no tokens, so
// it is estimated at zero.
func Estimate(op provider.Op, body []byte, p Price) CallEstimate {
	return estimate(op, body, p, false)
}

// EstimateJSON is Estimate for a body the caller has already decoded as
// JSON, which saves checking it again; it gives the same result.
func EstimateJSON(op provider.Op, body []byte, p Price) CallEstimate {
	return estimate(op, body, p, true)
}

func estimate(op provider.Op, body []byte, p Price, valid bool) CallEstimate {
	var u Usage
	var est CallEstimate
	switch op {
	case provider.OpCountTokens:
		return CallEstimate{}
	case provider.OpTranscriptions:
		// The body is a multipart upload of the audio; its size bounds the
		// duration.
		u.AudioMillis = int64(len(body)) * 1000 / TranscriptionBytesPerSecond
	default:
		if !isJSONObject(body) || (!valid && !json.Valid(body)) {
			est.FromLength = true
			u.InputTokens = ceilDiv(int64(len(body)), unreadableCharsToken)
			switch op {
			case provider.OpImages:
				u.Images = 1
			case provider.OpSpeech:
				u.Characters = int64(len(body))
			}
			u.OutputTokens = outputBound(op, nil, p)
			break
		}
		req := readRequest(body)
		u.InputTokens = req.inputTokens(op)
		u.OutputTokens = outputBound(op, &req, p)
		switch op {
		case provider.OpImages:
			u.Images = max(1, min(req.choices.v, maxChoices))
		case provider.OpSpeech:
			u.Characters = req.inputRunes
		}
	}
	est.InputTokens = u.InputTokens
	est.MaxOutputTokens = u.OutputTokens
	worst := p
	worst.InputPerMTok = max(p.InputPerMTok, p.CachedInputPerMTok, p.CacheWritePerMTok)
	est.MaxCost = worst.Cost(u)
	return est
}

// inputTokens turns the counted text into tokens.
func (r *estimateRequest) inputTokens(op provider.Op) int64 {
	tokens := ceilDiv(r.text.units, charsPerToken)
	msgs := r.messages
	if op == provider.OpResponses {
		msgs += r.inputItems
	}
	if msgs > 0 || op == provider.OpChat || op == provider.OpMessages || op == provider.OpResponses {
		tokens += msgs*messageOverhead + replyOverhead
	}
	return tokens
}

// outputBound is the most output op can produce. req is nil for a body
// that could not be read.
func outputBound(op provider.Op, req *estimateRequest, p Price) int64 {
	switch op {
	case provider.OpEmbeddings, provider.OpModerations, provider.OpImages,
		provider.OpSpeech, provider.OpTranscriptions, provider.OpCountTokens:
		return 0
	}
	limit, choices := int64(0), int64(1)
	if req != nil {
		// When a request sets more than one limit, the larger is taken.
		limit = req.maxOutput.v
		choices = max(1, req.choices.v)
	}
	if limit == 0 {
		limit = p.MaxOutputTokens
	}
	if limit == 0 {
		limit = DefaultMaxOutputTokens
	}
	return min(limit, maxOutputTokensCap) * min(choices, maxChoices)
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// isJSONObject reports whether body starts, after white space, with '{'.
// encoding/json would decode a bare null into an empty request.
func isJSONObject(body []byte) bool {
	for _, c := range body {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return false
}

// reqNumber is the largest positive whole number set for a request field,
// such as max_tokens. Anything else (zero, negative, a string) leaves it
// unset (zero); a fraction is rounded up. Huge values are capped, so that
// products stay far from overflow.
type reqNumber struct{ v int64 }

// set takes the raw JSON value b into account.
func (c *reqNumber) set(b []byte) {
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return // null, a string, an object, a negative number: not a limit
	}
	var f float64
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		f = float64(n)
	} else if f, err = strconv.ParseFloat(string(b), 64); err != nil {
		f = math.MaxInt64 // out of range: as large as can be
	}
	c.v = max(c.v, int64(math.Ceil(min(f, maxOutputTokensCap))))
}

// textCount measures the text of a JSON value: in units of a quarter
// token (an ASCII character is one unit, any other character four), the
// characters of its strings (runes), and, for an array, its elements.
// Object keys and numbers count as text, since tool schemas and token
// arrays are prompt too; an object whose "type" names an image part is
// ImageInputTokens, whatever it holds.
type textCount struct{ units, runes, elems int64 }

func (c *textCount) add(o textCount) {
	c.units += o.units
	c.runes += o.runes
	c.elems += o.elems
}

// textWalker walks a JSON document that json.Valid has accepted. It still
// checks every index, so that a bug or an unexpected input ends the reqNumber
// instead of a request.
type textWalker struct {
	b            []byte
	i            int
	depth        int
	units, runes int64
	elems        int64 // of the outermost array
}

// measure walks the value at w.i and returns its counts alone.
func (w *textWalker) measure() textCount {
	outer := *w
	w.units, w.runes, w.elems, w.depth = 0, 0, 0, 0
	w.value()
	c := textCount{units: w.units, runes: w.runes, elems: w.elems}
	w.units, w.runes, w.elems, w.depth = outer.units, outer.runes, outer.elems, outer.depth
	return c
}

// members calls member for each member of the object at w.i, with w.i
// at the member's value; member must walk past the value. A value that
// is not an object is walked past.
func (w *textWalker) members(member func(key []byte)) {
	w.space()
	if w.i >= len(w.b) || w.b[w.i] != '{' {
		w.measure()
		return
	}
	w.i++
	for w.i < len(w.b) {
		w.space()
		if w.i >= len(w.b) {
			return
		}
		switch w.b[w.i] {
		case '}':
			w.i++
			return
		case ',':
			w.i++
			continue
		case '"':
		default:
			w.i = len(w.b) // not JSON after all
			return
		}
		start := w.i
		key := w.str()
		w.space()
		if w.i < len(w.b) && w.b[w.i] == ':' {
			w.i++
		}
		w.space()
		member(key)
		if w.i <= start {
			w.i = len(w.b) // no progress
		}
	}
}

// number returns the raw literal at w.i if it is a number or a literal,
// and walks past whatever value is there.
func (w *textWalker) number() []byte {
	w.space()
	start := w.i
	w.measure()
	if start < len(w.b) && w.b[start] != '"' && w.b[start] != '{' && w.b[start] != '[' {
		return w.b[start:w.i]
	}
	return nil
}

func (w *textWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\r', '\n':
			w.i++
		default:
			return
		}
	}
}

// value walks the value at w.i and leaves w.i after it.
func (w *textWalker) value() {
	w.space()
	if w.i >= len(w.b) {
		return
	}
	switch w.b[w.i] {
	case '"':
		w.str()
	case '{':
		w.object()
	case '[':
		w.array()
	default: // number, true, false, null
		start := w.i
		for w.i < len(w.b) && !isDelim(w.b[w.i]) {
			w.i++
		}
		w.units += int64(w.i - start)
	}
}

func (w *textWalker) array() {
	w.depth++
	defer func() { w.depth-- }()
	w.i++ // '['
	for w.i < len(w.b) {
		w.space()
		if w.i >= len(w.b) {
			return
		}
		switch w.b[w.i] {
		case ']':
			w.i++
			return
		case ',':
			w.i++
			continue
		}
		if w.depth == 1 {
			w.elems++
		}
		before := w.i
		w.value()
		if w.i == before {
			w.i = len(w.b) // no progress: not JSON after all
		}
	}
}

func (w *textWalker) object() {
	w.depth++
	defer func() { w.depth-- }()
	startUnits := w.units
	image := false
	w.i++ // '{'
	for w.i < len(w.b) {
		w.space()
		if w.i >= len(w.b) {
			return
		}
		switch w.b[w.i] {
		case '}':
			w.i++
			if image {
				w.units = startUnits + ImageInputTokens*charsPerToken
			}
			return
		case ',':
			w.i++
			continue
		case '"':
		default:
			w.i = len(w.b) // not JSON after all
			return
		}
		key := w.str()
		w.space()
		if w.i < len(w.b) && w.b[w.i] == ':' {
			w.i++
		}
		w.space()
		if string(key) == "type" && w.i < len(w.b) && w.b[w.i] == '"' {
			switch string(w.str()) {
			case "image", "image_url", "input_image":
				image = true
			}
			continue
		}
		before := w.i
		w.value()
		if w.i == before {
			w.i = len(w.b)
		}
	}
}

// str walks the string at w.i, counts it, and returns its raw contents
// (escapes not decoded).
func (w *textWalker) str() []byte {
	start := w.i + 1
	j := start
	b := w.b
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			w.i = j + 1
			return b[start:j]
		case c == '\\':
			if j+1 < len(b) && b[j+1] == 'u' {
				w.units += charsPerToken // any escaped character: a token
				j += 6
			} else {
				w.units++
				j += 2
			}
			w.runes++
		case c < 0x80:
			w.units++
			w.runes++
			j++
		default:
			if c&0xC0 != 0x80 { // the first byte of a character
				w.units += charsPerToken
				w.runes++
			}
			j++
		}
	}
	w.i = len(b)
	return b[start:min(j, len(b))]
}

func isDelim(c byte) bool {
	switch c {
	case ',', ']', '}', ' ', '\t', '\r', '\n', ':':
		return true
	}
	return false
}
