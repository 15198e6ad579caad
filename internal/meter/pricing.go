package meter

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// The pricing table
//
// The embedded pricing.json holds the providers' published list prices as
// they stood on the file's as_of date. They are list prices only: no
// negotiated discounts, batch or priority tiers, regional surcharges, or
// long-context tiers (Gemini 1.5 and 2.5 Pro charge more above 128k or
// 200k prompt tokens; the lower tier is listed). Anthropic cache writes are
// the five-minute ones (1.25 × input); DALL·E 3 is the standard 1024×1024
// image. Prices change: operators must check them against their providers'
// pages and override what differs, per model in the configuration
// (Table.With) or as a whole file (ParsePricing, `warden pricing update`).

//go:embed pricing.json
var pricingJSON []byte

// Price is what one model costs. Token prices are per million tokens;
// every field is an exact Amount so that costs add up without rounding.
type Price struct {
	// Provider is who sells the model: openai, anthropic, google, ...
	Provider string
	// InputPerMTok is charged for input tokens that are neither read from
	// nor written to a prompt cache.
	InputPerMTok Amount
	// OutputPerMTok is charged for output tokens, reasoning included.
	OutputPerMTok Amount
	// CachedInputPerMTok is charged for input tokens read from the cache.
	// A pricing entry that does not set it charges the input price.
	CachedInputPerMTok Amount
	// CacheWritePerMTok is charged for input tokens written to the cache
	// (Anthropic). A pricing entry that does not set it charges the input
	// price.
	CacheWritePerMTok Amount
	// PerImage is charged for each generated image.
	PerImage Amount
	// PerAudioSecond is charged for each second of transcribed audio.
	PerAudioSecond Amount
	// PerMChar is charged per million characters of synthesized speech.
	PerMChar Amount
	// MaxOutputTokens is the most the model writes in one answer; an
	// estimate uses it when the request sets no limit. Zero is unknown.
	MaxOutputTokens int64
}

// Limits on what a pricing entry may say. A larger value is a typo (a
// price per token written where a price per million belongs), and refusing
// it also keeps every cost far from overflow.
const (
	maxPerMTok         = 10_000 * USD
	maxPerImage        = 100 * USD
	maxPerAudioSecond  = 1 * USD
	maxPerMChar        = 10_000 * USD
	maxOutputTokensCap = 1 << 24
	maxModelNameLen    = 128
)

// priceEntry is one model of a table. Cached-input and cache-write prices
// that the source did not set follow the input price, even after an
// override changes it, so the flags are kept until Lookup resolves them.
type priceEntry struct {
	p                     Price
	hasCached, hasCacheWr bool
}

func (e priceEntry) resolve() Price {
	p := e.p
	if !e.hasCached {
		p.CachedInputPerMTok = p.InputPerMTok
	}
	if !e.hasCacheWr {
		p.CacheWritePerMTok = p.InputPerMTok
	}
	return p
}

// Table maps model names to prices. It is immutable and safe for
// concurrent use; With makes a changed copy.
type Table struct {
	asOf   string
	models map[string]priceEntry
}

// DefaultTable returns the table embedded in Warden. It is parsed once; a
// broken embedded file is caught by the package's tests, so it panics
// rather than start a gateway that cannot price anything.
func DefaultTable() *Table { return defaultTable() }

var defaultTable = sync.OnceValue(func() *Table {
	t, err := ParsePricing(bytes.NewReader(pricingJSON))
	if err != nil {
		panic(fmt.Sprintf("meter: the embedded pricing table is broken: %v", err))
	}
	return t
})

// AsOf returns the date (YYYY-MM-DD) the table's prices were taken on.
func (t *Table) AsOf() string { return t.asOf }

// Models returns the model names the table prices, sorted.
func (t *Table) Models() []string {
	names := make([]string, 0, len(t.models))
	for name := range t.models {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Lookup returns the price of model. It tries the name as given (case
// does not matter), then without a provider prefix ("openai/gpt-4o",
// "models/gemini-1.5-pro"), each time also with date and version suffixes
// taken off one by one: claude-3-5-haiku-20241022 and claude-3-5-haiku-latest
// are claude-3-5-haiku, gpt-4o-2024-08-06 is gpt-4o, gemini-2.0-flash-001
// is gemini-2.0-flash, mistral-large-2411 is mistral-large. Only dates and
// versions are taken off, never words: gpt-4o-mini is not gpt-4o. An
// unknown model is not priced at all (false); the caller decides whether
// that call may go ahead.
func (t *Table) Lookup(model string) (Price, bool) {
	name := strings.ToLower(strings.TrimSpace(model))
	if e, ok := t.find(name); ok {
		return e.resolve(), true
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		if e, ok := t.find(name[i+1:]); ok {
			return e.resolve(), true
		}
	}
	return Price{}, false
}

// find looks name up, then name without its version suffixes.
func (t *Table) find(name string) (priceEntry, bool) {
	for range 6 {
		if name == "" {
			break
		}
		if e, ok := t.models[name]; ok {
			return e, true
		}
		shorter, ok := stripVersion(name)
		if !ok {
			break
		}
		name = shorter
	}
	return priceEntry{}, false
}

// stripVersion takes one date or version suffix off name: -latest,
// -preview, -exp, @YYYYMMDD (Vertex), -vN or -vN:N, -YYYY-MM-DD, -MM-DD
// after -preview, a run of 3, 4 or 8 digits (-001, -2411, -0125,
// -20241022), and the alias -0 (claude-sonnet-4-0).
func stripVersion(name string) (string, bool) {
	for _, word := range []string{"-latest", "-preview", "-exp"} {
		if s, ok := strings.CutSuffix(name, word); ok {
			return s, true
		}
	}
	if i := strings.LastIndexByte(name, '@'); i > 0 && allDigits(name[i+1:]) {
		return name[:i], true
	}
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return name, false
	}
	tail := name[i+1:]
	switch {
	case len(tail) >= 2 && tail[0] == 'v' && isVersionNumber(tail[1:]):
		return name[:i], true
	case len(tail) == 2 && allDigits(tail):
		// -YYYY-MM-DD, or -MM-DD of a preview: take the whole date.
		head := name[:i]
		if len(head) >= 8 && head[len(head)-8] == '-' && head[len(head)-3] == '-' &&
			allDigits(head[len(head)-7:len(head)-3]) && allDigits(head[len(head)-2:]) {
			return head[:len(head)-8], true
		}
		if len(head) >= 11 && head[len(head)-3] == '-' && allDigits(head[len(head)-2:]) &&
			strings.HasSuffix(head[:len(head)-3], "-preview") {
			return head[:len(head)-3], true
		}
	case (len(tail) == 3 || len(tail) == 4 || len(tail) == 8) && allDigits(tail):
		return name[:i], true
	case tail == "0":
		return name[:i], true
	}
	return name, false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isVersionNumber matches "2" and "2:0" (Bedrock's -v2:0).
func isVersionNumber(s string) bool {
	major, minor, found := strings.Cut(s, ":")
	return allDigits(major) && (!found || allDigits(minor))
}

// pricingFile is the document ParsePricing reads.
type pricingFile struct {
	AsOf   string          `json:"as_of"`
	Models json.RawMessage `json:"models"`
}

// wirePrice is one model's entry. Pointers tell an absent price from a
// zero one: an absent cached price follows the input price, a zero one is
// free.
type wirePrice struct {
	Provider       string   `json:"provider"`
	Input          *float64 `json:"input_cost_per_mtok"`
	Output         *float64 `json:"output_cost_per_mtok"`
	CachedInput    *float64 `json:"cached_input_cost_per_mtok"`
	CacheWrite     *float64 `json:"cache_write_cost_per_mtok"`
	PerImage       *float64 `json:"per_image"`
	PerAudioSecond *float64 `json:"per_audio_second"`
	PerMChar       *float64 `json:"per_mchar"`
	MaxOutput      *int64   `json:"max_output_tokens"`
}

// ParsePricing reads a pricing table in the format of the embedded
// pricing.json:
//
//	{"as_of": "2025-08-15",
//	 "models": {"gpt-4o": {"provider": "openai",
//	   "input_cost_per_mtok": 2.5, "output_cost_per_mtok": 10, ...}}}
//
// Decoding is strict: an unknown field, a duplicate model, a negative or
// absurd price, or a price finer than a nano-dollar is an error that names
// the model and the field.
func ParsePricing(r io.Reader) (*Table, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f pricingFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("pricing: reading the file: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("pricing: the file has data after its JSON object; it must hold exactly one object")
	}
	if _, err := time.Parse(time.DateOnly, f.AsOf); err != nil {
		return nil, fmt.Errorf("pricing: as_of %q is not a date; write the day the prices were taken as YYYY-MM-DD", f.AsOf)
	}
	if len(f.Models) == 0 || bytes.Equal(f.Models, []byte("null")) {
		return nil, errors.New(`pricing: the file has no "models" object; add one with an entry per model`)
	}
	models, err := parseModels(f.Models)
	if err != nil {
		return nil, err
	}
	return &Table{asOf: f.AsOf, models: models}, nil
}

// parseModels reads the "models" object entry by entry, so that an error
// names its model and duplicates are caught (encoding/json would keep the
// last one silently).
func parseModels(raw json.RawMessage) (map[string]priceEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New(`pricing: "models" must be an object of model name to price`)
	}
	models := make(map[string]priceEntry)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("pricing: reading models: %w", err)
		}
		name := tok.(string) // object keys are always strings
		if err := checkModelName(name); err != nil {
			return nil, err
		}
		if _, dup := models[name]; dup {
			return nil, fmt.Errorf("pricing: model %q appears twice; keep one entry", name)
		}
		var body json.RawMessage
		if err := dec.Decode(&body); err != nil {
			return nil, fmt.Errorf("pricing: model %q: %w", name, err)
		}
		e, err := parseEntry(name, body)
		if err != nil {
			return nil, err
		}
		models[name] = e
	}
	if len(models) == 0 {
		return nil, errors.New(`pricing: "models" is empty; a table must price at least one model`)
	}
	return models, nil
}

// checkModelName accepts the names Lookup can find: lower case, no space
// or slash (a provider prefix is taken off before the lookup).
func checkModelName(name string) error {
	if name == "" || len(name) > maxModelNameLen {
		return fmt.Errorf("pricing: model name %q must be 1 to %d characters", name, maxModelNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == ':' || c == '@') {
			return fmt.Errorf("pricing: model name %q may hold only lower-case letters, digits and - . _ : @", name)
		}
	}
	return nil
}

func parseEntry(name string, body []byte) (priceEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var w wirePrice
	if err := dec.Decode(&w); err != nil {
		// The decoder's message names the unknown or mistyped field.
		return priceEntry{}, fmt.Errorf("pricing: model %q: %w", name, err)
	}
	if w.Provider == "" {
		return priceEntry{}, fmt.Errorf("pricing: model %q has no provider; set it to who sells the model, such as openai, anthropic or google", name)
	}
	e := priceEntry{p: Price{Provider: w.Provider}}
	fields := []struct {
		key   string
		v     *float64
		dst   *Amount
		limit Amount
	}{
		{"input_cost_per_mtok", w.Input, &e.p.InputPerMTok, maxPerMTok},
		{"output_cost_per_mtok", w.Output, &e.p.OutputPerMTok, maxPerMTok},
		{"cached_input_cost_per_mtok", w.CachedInput, &e.p.CachedInputPerMTok, maxPerMTok},
		{"cache_write_cost_per_mtok", w.CacheWrite, &e.p.CacheWritePerMTok, maxPerMTok},
		{"per_image", w.PerImage, &e.p.PerImage, maxPerImage},
		{"per_audio_second", w.PerAudioSecond, &e.p.PerAudioSecond, maxPerAudioSecond},
		{"per_mchar", w.PerMChar, &e.p.PerMChar, maxPerMChar},
	}
	for _, f := range fields {
		if f.v == nil {
			continue
		}
		a, err := priceFromDollars(*f.v, f.limit)
		if err != nil {
			return priceEntry{}, fmt.Errorf("pricing: model %q: %s: %w", name, f.key, err)
		}
		*f.dst = a
	}
	e.hasCached, e.hasCacheWr = w.CachedInput != nil, w.CacheWrite != nil
	if w.MaxOutput != nil {
		if *w.MaxOutput < 0 || *w.MaxOutput > maxOutputTokensCap {
			return priceEntry{}, fmt.Errorf("pricing: model %q: max_output_tokens %d must be between 0 and %d", name, *w.MaxOutput, maxOutputTokensCap)
		}
		e.p.MaxOutputTokens = *w.MaxOutput
	}
	return e, nil
}

// priceFromDollars converts a price the file writes as a float. The
// float must stand for a whole number of nano-dollars: a finer price
// would be silently rounded, which for a price per million tokens hides
// a typo. The tolerance is float noise (a few parts in 1e16; a tenth of
// a nano-dollar at the largest price allowed), not a rounding allowance.
func priceFromDollars(d float64, limit Amount) (Amount, error) {
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return 0, errors.New("not a number")
	}
	if d < 0 {
		return 0, fmt.Errorf("%g is negative; a price is zero or more", d)
	}
	a, ok := FromDollars(d)
	if !ok || a > limit {
		return 0, fmt.Errorf("%g is more than %s; check the unit (prices per million tokens, per image, per second, per million characters)", d, limit)
	}
	if x := d * float64(USD); math.Abs(x-float64(a)) > 1e-14*max(1, x) {
		return 0, fmt.Errorf("%g is finer than a nano-dollar; round it to nine decimals", d)
	}
	return a, nil
}

// Override changes some fields of one model's price; nil fields keep the
// base entry's value. It is what a per-model pricing block of the
// configuration becomes (see ParseOverride).
type Override struct {
	Provider           *string
	InputPerMTok       *Amount
	OutputPerMTok      *Amount
	CachedInputPerMTok *Amount
	CacheWritePerMTok  *Amount
	PerImage           *Amount
	PerAudioSecond     *Amount
	PerMChar           *Amount
	MaxOutputTokens    *int64
}

// ParseOverride reads a per-model configuration block keyed like the
// pricing file (input_cost_per_mtok, output_cost_per_mtok,
// cached_input_cost_per_mtok, cache_write_cost_per_mtok, per_image,
// per_audio_second, per_mchar, max_output_tokens), with the same checks.
// An unknown key is an error that names it.
func ParseOverride(model string, fields map[string]float64) (Override, error) {
	var o Override
	for key, v := range fields {
		var dst **Amount
		limit := maxPerMTok
		switch key {
		case "input_cost_per_mtok":
			dst = &o.InputPerMTok
		case "output_cost_per_mtok":
			dst = &o.OutputPerMTok
		case "cached_input_cost_per_mtok":
			dst = &o.CachedInputPerMTok
		case "cache_write_cost_per_mtok":
			dst = &o.CacheWritePerMTok
		case "per_image":
			dst, limit = &o.PerImage, maxPerImage
		case "per_audio_second":
			dst, limit = &o.PerAudioSecond, maxPerAudioSecond
		case "per_mchar":
			dst, limit = &o.PerMChar, maxPerMChar
		case "max_output_tokens":
			if v < 0 || v > maxOutputTokensCap || v != math.Trunc(v) {
				return Override{}, fmt.Errorf("pricing override for %q: max_output_tokens %g must be a whole number between 0 and %d", model, v, maxOutputTokensCap)
			}
			n := int64(v)
			o.MaxOutputTokens = &n
			continue
		default:
			return Override{}, fmt.Errorf("pricing override for %q: unknown key %q; use input_cost_per_mtok, output_cost_per_mtok, cached_input_cost_per_mtok, cache_write_cost_per_mtok, per_image, per_audio_second, per_mchar or max_output_tokens", model, key)
		}
		a, err := priceFromDollars(v, limit)
		if err != nil {
			return Override{}, fmt.Errorf("pricing override for %q: %s: %w", model, key, err)
		}
		*dst = &a
	}
	return o, nil
}

// With returns a copy of t with overrides applied. A model t already
// prices keeps the fields an override leaves nil (the name is looked up
// as Lookup does, so an override of "gpt-4o-2024-08-06" starts from
// gpt-4o); a new model starts from nothing, with cached and cache-write
// input at its input price. Every override is checked and all problems
// are reported together.
func (t *Table) With(overrides map[string]Override) (*Table, error) {
	models := make(map[string]priceEntry, len(t.models)+len(overrides))
	for name, e := range t.models {
		models[name] = e
	}
	var errs []error
	names := make([]string, 0, len(overrides))
	for name := range overrides {
		names = append(names, name)
	}
	slices.Sort(names) // stable error order
	for _, raw := range names {
		o := overrides[raw]
		name := strings.ToLower(strings.TrimSpace(raw))
		if err := checkModelName(name); err != nil {
			errs = append(errs, err)
			continue
		}
		base, _ := t.find(name)
		e, err := base.apply(name, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		models[name] = e
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Table{asOf: t.asOf, models: models}, nil
}

func (e priceEntry) apply(name string, o Override) (priceEntry, error) {
	if o.Provider != nil {
		e.p.Provider = *o.Provider
	}
	fields := []struct {
		key   string
		v     *Amount
		dst   *Amount
		limit Amount
	}{
		{"input_cost_per_mtok", o.InputPerMTok, &e.p.InputPerMTok, maxPerMTok},
		{"output_cost_per_mtok", o.OutputPerMTok, &e.p.OutputPerMTok, maxPerMTok},
		{"cached_input_cost_per_mtok", o.CachedInputPerMTok, &e.p.CachedInputPerMTok, maxPerMTok},
		{"cache_write_cost_per_mtok", o.CacheWritePerMTok, &e.p.CacheWritePerMTok, maxPerMTok},
		{"per_image", o.PerImage, &e.p.PerImage, maxPerImage},
		{"per_audio_second", o.PerAudioSecond, &e.p.PerAudioSecond, maxPerAudioSecond},
		{"per_mchar", o.PerMChar, &e.p.PerMChar, maxPerMChar},
	}
	for _, f := range fields {
		if f.v == nil {
			continue
		}
		if *f.v < 0 || *f.v > f.limit {
			return priceEntry{}, fmt.Errorf("pricing override for %q: %s %s must be between $0 and %s", name, f.key, *f.v, f.limit)
		}
		*f.dst = *f.v
	}
	if o.CachedInputPerMTok != nil {
		e.hasCached = true
	}
	if o.CacheWritePerMTok != nil {
		e.hasCacheWr = true
	}
	if o.MaxOutputTokens != nil {
		if n := *o.MaxOutputTokens; n < 0 || n > maxOutputTokensCap {
			return priceEntry{}, fmt.Errorf("pricing override for %q: max_output_tokens %d must be between 0 and %d", name, n, maxOutputTokensCap)
		}
		e.p.MaxOutputTokens = *o.MaxOutputTokens
	}
	return e, nil
}
