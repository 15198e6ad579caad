package meter

import (
	"bytes"
	"strings"
	"testing"
)

func TestDefaultTable(t *testing.T) {
	tab := DefaultTable()
	if tab != DefaultTable() {
		t.Error("DefaultTable parsed the embedded file more than once")
	}
	if tab.AsOf() == "" {
		t.Error("AsOf is empty")
	}
	tokens := []string{
		"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3", "o3-mini", "o4-mini",
		"claude-3-haiku", "claude-3-5-haiku", "claude-3-5-sonnet", "claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4",
		"gemini-1.5-flash", "gemini-1.5-pro", "gemini-2.0-flash", "gemini-2.5-flash", "gemini-2.5-pro",
		"mistral-large", "mistral-small", "codestral",
	}
	for _, m := range tokens {
		p, ok := tab.Lookup(m)
		if !ok {
			t.Errorf("%s: missing", m)
			continue
		}
		if p.Provider == "" || p.InputPerMTok <= 0 || p.OutputPerMTok <= p.InputPerMTok || p.CachedInputPerMTok > p.InputPerMTok {
			t.Errorf("%s: implausible price %+v", m, p)
		}
	}
	for _, m := range []string{"text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"} {
		if p, ok := tab.Lookup(m); !ok || p.InputPerMTok <= 0 || p.OutputPerMTok != 0 {
			t.Errorf("%s: %+v, %v; want an input price only", m, p, ok)
		}
	}
	if p, ok := tab.Lookup("dall-e-3"); !ok || p.PerImage <= 0 {
		t.Errorf("dall-e-3: %+v, %v; want a price per image", p, ok)
	}
	if p, ok := tab.Lookup("whisper-1"); !ok || p.PerAudioSecond <= 0 {
		t.Errorf("whisper-1: %+v, %v; want a price per second", p, ok)
	}
	if p, ok := tab.Lookup("tts-1"); !ok || p.PerMChar <= 0 {
		t.Errorf("tts-1: %+v, %v; want a price per character", p, ok)
	}
	if p, ok := tab.Lookup("omni-moderation-latest"); !ok || p != (Price{Provider: "openai"}) {
		t.Errorf("omni-moderation-latest: %+v, %v; want free", p, ok)
	}
	// Anthropic cache writes cost more than input, cache reads less.
	for _, m := range []string{"claude-3-haiku", "claude-3-5-haiku", "claude-3-5-sonnet", "claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4"} {
		p, _ := tab.Lookup(m)
		if p.CacheWritePerMTok <= p.InputPerMTok || p.CachedInputPerMTok >= p.InputPerMTok {
			t.Errorf("%s: cache write %s, read %s, input %s", m, p.CacheWritePerMTok, p.CachedInputPerMTok, p.InputPerMTok)
		}
	}
	// Exact conversion from the file's floats.
	p, _ := tab.Lookup("gemini-1.5-flash")
	if p.InputPerMTok != 75*MicroUSD*1000 || p.CachedInputPerMTok != 18_750_000 {
		t.Errorf("gemini-1.5-flash: input %d, cached %d nano-dollars per million", p.InputPerMTok, p.CachedInputPerMTok)
	}
}

func TestLookup(t *testing.T) {
	tab := DefaultTable()
	tests := []struct {
		name string
		want string // "" for not found
	}{
		{"gpt-4o", "gpt-4o"},
		{"GPT-4o", "gpt-4o"},
		{"gpt-4o-2024-08-06", "gpt-4o"},
		{"gpt-4o-2024-05-13", "gpt-4o-2024-05-13"}, // priced apart
		{"gpt-4o-mini", "gpt-4o-mini"},
		{"gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
		{"openai/gpt-4o-mini", "gpt-4o-mini"},
		{"gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"},
		{"o3-mini-2025-01-31", "o3-mini"},
		{"o1-preview", "o1"},
		{"gpt-3.5-turbo-0125", "gpt-3.5-turbo"},
		{"claude-3-5-haiku-20241022", "claude-3-5-haiku"},
		{"claude-3-5-haiku-latest", "claude-3-5-haiku"},
		{"anthropic/claude-3-5-haiku-20241022", "claude-3-5-haiku"},
		{"claude-3-haiku-20240307", "claude-3-haiku"},
		{"claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"},
		{"claude-sonnet-4-0", "claude-sonnet-4"},
		{"claude-opus-4-1-20250805", "claude-opus-4-1"},
		{"models/gemini-1.5-pro-002", "gemini-1.5-pro"},
		{"gemini-2.0-flash-001", "gemini-2.0-flash"},
		{"gemini-2.0-flash-exp", "gemini-2.0-flash"},
		{"gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"},
		{"gemini-2.0-flash-lite-001", "gemini-2.0-flash-lite"},
		{"mistral-large-2411", "mistral-large"},
		{"mistral-small-latest", "mistral-small"},
		{"text-embedding-3-small", "text-embedding-3-small"},
		{"unknown-model", ""},
		{"", ""},
		{"gpt-4o-mini-tts", ""},
		{"ft:gpt-4o-mini-2024-07-18:org::abc", ""},
		{"claude-3-5-haiku-v", ""},
		{"gemini-1.5-flash-8", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tab.Lookup(tt.name)
			if tt.want == "" {
				if ok {
					t.Errorf("Lookup(%q) = %+v, want not found", tt.name, got)
				}
				return
			}
			want := tab.models[tt.want].resolve()
			if !ok || got != want {
				t.Errorf("Lookup(%q) = %+v, %v; want %s's %+v", tt.name, got, ok, tt.want, want)
			}
		})
	}
}

// Version stripping takes off dates and versions, never words: a smaller
// model the table lacks must not be priced as its larger sibling.
func TestLookupDoesNotStripWords(t *testing.T) {
	tab := parseTable(t, `{"as_of":"2025-01-01","models":{
		"gpt-4o":{"provider":"openai","input_cost_per_mtok":2.5},
		"gpt-4.1":{"provider":"openai","input_cost_per_mtok":2},
		"o3":{"provider":"openai","input_cost_per_mtok":2},
		"claude-3-haiku":{"provider":"anthropic","input_cost_per_mtok":0.25},
		"gemini-1.5-flash":{"provider":"google","input_cost_per_mtok":0.075}}}`)
	for _, name := range []string{
		"gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano", "gpt-4.1-mini-2025-04-14", "o3-mini", "o3-pro",
		"claude-3-5-haiku", "gemini-1.5-flash-8b", "gemini-1.5-flash-8b-001", "gpt-4", "o",
	} {
		if p, ok := tab.Lookup(name); ok {
			t.Errorf("Lookup(%q) = %+v; want not found", name, p)
		}
	}
	if _, ok := tab.Lookup("gpt-4o-2024-11-20"); !ok {
		t.Error("Lookup(gpt-4o-2024-11-20) not found; want gpt-4o")
	}
}

func parseTable(t *testing.T, doc string) *Table {
	t.Helper()
	tab, err := ParsePricing(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("ParsePricing: %v", err)
	}
	return tab
}

func TestParsePricingDefaults(t *testing.T) {
	tab := parseTable(t, `{"as_of":"2025-01-01","models":{
		"a":{"provider":"x","input_cost_per_mtok":2,"output_cost_per_mtok":8},
		"free-cache":{"provider":"x","input_cost_per_mtok":2,"cached_input_cost_per_mtok":0,"cache_write_cost_per_mtok":0}}}`)
	a, _ := tab.Lookup("a")
	if a.CachedInputPerMTok != 2*USD || a.CacheWritePerMTok != 2*USD {
		t.Errorf("unset cache prices: %+v; want the input price", a)
	}
	f, _ := tab.Lookup("free-cache")
	if f.CachedInputPerMTok != 0 || f.CacheWritePerMTok != 0 || f.InputPerMTok != 2*USD {
		t.Errorf("zero cache prices: %+v; want zero", f)
	}
	if got := tab.Models(); len(got) != 2 || got[0] != "a" || got[1] != "free-cache" {
		t.Errorf("Models() = %v", got)
	}
}

func TestParsePricingErrors(t *testing.T) {
	const head = `{"as_of":"2025-01-01","models":`
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the error
	}{
		{"unknown model field", head + `{"gpt-x":{"provider":"openai","input_cost_per_mtoken":1}}}`, []string{`"gpt-x"`, "input_cost_per_mtoken"}},
		{"unknown top-level field", `{"as_of":"2025-01-01","modles":{}}`, []string{"modles"}},
		{"negative", head + `{"m":{"provider":"p","output_cost_per_mtok":-1}}}`, []string{`"m"`, "output_cost_per_mtok", "negative"}},
		{"absurd per mtok", head + `{"m":{"provider":"p","input_cost_per_mtok":1e6}}}`, []string{`"m"`, "input_cost_per_mtok", "unit"}},
		{"absurd per image", head + `{"m":{"provider":"p","per_image":500}}}`, []string{"per_image"}},
		{"absurd per second", head + `{"m":{"provider":"p","per_audio_second":6}}}`, []string{"per_audio_second"}},
		{"finer than a nano-dollar", head + `{"m":{"provider":"p","per_audio_second":0.0000000001}}}`, []string{"per_audio_second", "nano-dollar"}},
		{"string price", head + `{"m":{"provider":"p","input_cost_per_mtok":"2.5"}}}`, []string{`"m"`, "input_cost_per_mtok"}},
		{"duplicate model", head + `{"m":{"provider":"p"},"m":{"provider":"p"}}}`, []string{`"m"`, "twice"}},
		{"no provider", head + `{"m":{"input_cost_per_mtok":1}}}`, []string{`"m"`, "provider"}},
		{"bad max output", head + `{"m":{"provider":"p","max_output_tokens":-1}}}`, []string{"max_output_tokens"}},
		{"fractional max output", head + `{"m":{"provider":"p","max_output_tokens":1.5}}}`, []string{"max_output_tokens"}},
		{"upper-case name", head + `{"GPT":{"provider":"p"}}}`, []string{`"GPT"`, "lower-case"}},
		{"slash in name", head + `{"openai/gpt":{"provider":"p"}}}`, []string{"openai/gpt"}},
		{"no models", `{"as_of":"2025-01-01"}`, []string{"models"}},
		{"empty models", head + `{}}`, []string{"empty"}},
		{"models not an object", head + `[]}`, []string{"object"}},
		{"entry not an object", head + `{"m":3}}`, []string{`"m"`}},
		{"bad date", `{"as_of":"August 2025","models":{"m":{"provider":"p"}}}`, []string{"as_of", "YYYY-MM-DD"}},
		{"trailing data", head + `{"m":{"provider":"p"}}} {}`, []string{"exactly one"}},
		{"not JSON", `as_of: 2025-01-01`, []string{"reading"}},
		{"empty", ``, []string{"reading"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePricing(strings.NewReader(tt.doc))
			if err == nil {
				t.Fatal("ParsePricing succeeded; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

func amountPtr(a Amount) *Amount { return &a }

func TestWith(t *testing.T) {
	base := parseTable(t, `{"as_of":"2025-01-01","models":{
		"m":{"provider":"p","input_cost_per_mtok":2,"output_cost_per_mtok":8,"max_output_tokens":100},
		"c":{"provider":"p","input_cost_per_mtok":3,"cached_input_cost_per_mtok":0.3,"output_cost_per_mtok":15}}}`)
	got, err := base.With(map[string]Override{
		"m":            {OutputPerMTok: amountPtr(6 * USD)},
		"c":            {InputPerMTok: amountPtr(4 * USD)},
		"m-2025-01-01": {InputPerMTok: amountPtr(1 * USD)},
		"New-Model":    {InputPerMTok: amountPtr(USD / 10)},
	})
	if err != nil {
		t.Fatalf("With: %v", err)
	}
	tests := []struct {
		model string
		want  Price
	}{
		// A partial override keeps the other fields, and an unset cached
		// price follows the new input price.
		{"m", Price{Provider: "p", InputPerMTok: 2 * USD, CachedInputPerMTok: 2 * USD, CacheWritePerMTok: 2 * USD, OutputPerMTok: 6 * USD, MaxOutputTokens: 100}},
		{"c", Price{Provider: "p", InputPerMTok: 4 * USD, CachedInputPerMTok: 3 * USD / 10, CacheWritePerMTok: 4 * USD, OutputPerMTok: 15 * USD}},
		// A dated name starts from its base entry.
		{"m-2025-01-01", Price{Provider: "p", InputPerMTok: 1 * USD, CachedInputPerMTok: 1 * USD, CacheWritePerMTok: 1 * USD, OutputPerMTok: 8 * USD, MaxOutputTokens: 100}},
		{"new-model", Price{InputPerMTok: USD / 10, CachedInputPerMTok: USD / 10, CacheWritePerMTok: USD / 10}},
	}
	for _, tt := range tests {
		if p, ok := got.Lookup(tt.model); !ok || p != tt.want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", tt.model, p, ok, tt.want)
		}
	}
	if p, _ := base.Lookup("m"); p.OutputPerMTok != 8*USD {
		t.Errorf("With changed the base table: %+v", p)
	}
	if got.AsOf() != base.AsOf() {
		t.Errorf("AsOf = %q, want %q", got.AsOf(), base.AsOf())
	}

	_, err = base.With(map[string]Override{
		"m":      {InputPerMTok: amountPtr(-1)},
		"bad/ok": {},
		"x":      {PerImage: amountPtr(maxPerImage + 1)},
	})
	if err == nil {
		t.Fatal("With accepted invalid overrides")
	}
	for _, w := range []string{`"m"`, "input_cost_per_mtok", "bad/ok", `"x"`, "per_image"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %s", err, w)
		}
	}
}

func TestParseOverride(t *testing.T) {
	o, err := ParseOverride("gpt-4o", map[string]float64{"input_cost_per_mtok": 2, "cached_input_cost_per_mtok": 0, "max_output_tokens": 1000})
	if err != nil {
		t.Fatalf("ParseOverride: %v", err)
	}
	if o.InputPerMTok == nil || *o.InputPerMTok != 2*USD || o.CachedInputPerMTok == nil || *o.CachedInputPerMTok != 0 ||
		o.MaxOutputTokens == nil || *o.MaxOutputTokens != 1000 || o.OutputPerMTok != nil {
		t.Errorf("ParseOverride = %+v", o)
	}
	tab, err := DefaultTable().With(map[string]Override{"gpt-4o": o})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := tab.Lookup("gpt-4o-2024-08-06"); p.InputPerMTok != 2*USD || p.CachedInputPerMTok != 0 || p.OutputPerMTok != 10*USD {
		t.Errorf("overridden gpt-4o = %+v", p)
	}

	for _, bad := range []map[string]float64{
		{"input_cost": 1},
		{"output_cost_per_mtok": -2},
		{"per_image": 1e9},
		{"max_output_tokens": 1.5},
		{"per_mchar": 1e-12},
	} {
		if _, err := ParseOverride("m", bad); err == nil || !strings.Contains(err.Error(), `"m"`) {
			t.Errorf("ParseOverride(%v) error = %v; want one naming the model", bad, err)
		}
	}
}

func FuzzParsePricing(f *testing.F) {
	f.Add(pricingJSON)
	f.Add([]byte(`{"as_of":"2025-01-01","models":{"m":{"provider":"p","input_cost_per_mtok":0.075}}}`))
	f.Add([]byte(`{"as_of":"2025-01-01","models":{"m":{"provider":"p","per_audio_second":1e-300}}}`))
	f.Add([]byte(`{"as_of":"2025-01-01","models":{"m":{"provider":"p","max_output_tokens":99999999999}}}`))
	f.Add([]byte(`{"models":{"m":{}},"as_of":"2025-02-30"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		tab, err := ParsePricing(bytes.NewReader(doc))
		if err != nil {
			if tab != nil {
				t.Fatal("a table and an error")
			}
			return
		}
		if len(tab.Models()) == 0 {
			t.Fatal("a table without models")
		}
		for _, m := range tab.Models() {
			p, ok := tab.Lookup(m)
			if !ok {
				t.Fatalf("model %q listed but not found", m)
			}
			for _, a := range []Amount{p.InputPerMTok, p.OutputPerMTok, p.CachedInputPerMTok, p.CacheWritePerMTok} {
				if a < 0 || a > maxPerMTok {
					t.Fatalf("model %q: price %d out of range", m, a)
				}
			}
			if p.PerImage < 0 || p.PerImage > maxPerImage || p.PerAudioSecond < 0 || p.PerAudioSecond > maxPerAudioSecond ||
				p.PerMChar < 0 || p.PerMChar > maxPerMChar || p.MaxOutputTokens < 0 || p.MaxOutputTokens > maxOutputTokensCap {
				t.Fatalf("model %q: %+v out of range", m, p)
			}
			// The largest usage the gateway accepts must not overflow.
			if c := p.Cost(Usage{InputTokens: 1 << 30, OutputTokens: 1 << 30, Images: 1 << 20, AudioMillis: 1 << 40, Characters: 1 << 30}); c < 0 || c == Amount(1<<63-1) {
				t.Fatalf("model %q: cost %d overflows", m, c)
			}
		}
	})
}
