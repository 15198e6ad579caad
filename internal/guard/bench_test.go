package guard

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/detect"
	"github.com/wardenproject/warden/internal/guard/injection"
	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/provider/sse"
)

type constScorer float64

func (c constScorer) Score(context.Context, string) (float64, error) { return float64(c), nil }

// benchChat is a chat request of about 2 KB: a system prompt, a few turns
// and one email address to redact.
func benchChat(tb testing.TB) []byte {
	sentence := "The quarterly report covers revenue, churn and the hiring plan for the next two quarters. "
	msgs := []map[string]any{
		{"role": "system", "content": "You are a careful assistant for the finance team. " + strings.Repeat(sentence, 5)},
		{"role": "user", "content": "Summarise this for me: " + strings.Repeat(sentence, 4)},
		{"role": "assistant", "content": strings.Repeat(sentence, 7)},
		{"role": "user", "content": []map[string]any{{"type": "text", "text": "Send the summary to dana.lee@example.com and keep it short. " + strings.Repeat(sentence, 2)}}},
	}
	b, err := json.Marshal(map[string]any{"model": "gpt-4o-mini", "messages": msgs, "temperature": 0.2, "stream": false})
	if err != nil {
		tb.Fatal(err)
	}
	if len(b) < 1900 || len(b) > 2300 {
		tb.Fatalf("bench body is %d bytes, want about 2 KB", len(b))
	}
	return b
}

// BenchmarkInput measures the whole input guard (extraction, both test
// detectors, redaction, splicing, injection scoring with a constant
// scorer) on a 2 KB chat request. Compare with BenchmarkUnmarshalBaseline.
func BenchmarkInput(b *testing.B) {
	g, err := New(Options{PII: testPII, Secrets: testSecrets, Injection: constScorer(0.1)})
	if err != nil {
		b.Fatal(err)
	}
	body := benchChat(b)
	p := Default()
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := g.Input(ctx, provider.OpChat, body, p)
		if err != nil || len(res.Verdicts) != 2 {
			b.Fatalf("Input: %v, %+v", err, res.Verdicts)
		}
	}
}

// BenchmarkUnmarshalBaseline decodes the same body into a map, the least a
// gateway that looked at the prompt at all would do.
func BenchmarkUnmarshalBaseline(b *testing.B) {
	body := benchChat(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate measures request validation on the same body.
func BenchmarkValidate(b *testing.B) {
	body := benchChat(b)
	l := ValidationLimits{MaxMessages: 100, MaxChars: 100000, MaxTokens: 4096}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate(provider.OpChat, body, l); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEvent measures the output guard per streamed chat chunk
// of a few characters, the common shape of a streamed answer.
func BenchmarkStreamEvent(b *testing.B) {
	g, err := New(Options{PII: testPII, Secrets: testSecrets, Injection: constScorer(0)})
	if err != nil {
		b.Fatal(err)
	}
	const chunk = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" words"},"finish_reason":null}]}`
	ev := sse.Event{HasData: true, Data: chunk, Raw: []byte("data: " + chunk + "\n\n")}
	sg := g.OutputStream(provider.OpChat, Default(), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sg.Event(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInputProduction is BenchmarkInput with what warden serve runs:
// the real PII and secret detectors and the injection scorer (heuristic
// and classifier), under the default policy.
func BenchmarkInputProduction(b *testing.B) {
	h := injection.NewDefault(injection.Options{})
	g, err := New(Options{
		PII:     detect.NewPII(detect.PIIOptions{}),
		Secrets: detect.NewSecrets(detect.SecretsOptions{}),
		Injection: ScorerFunc(func(ctx context.Context, text string) (float64, error) {
			r, err := h.Score(ctx, text)
			return r.Score, err
		}),
	})
	if err != nil {
		b.Fatal(err)
	}
	body := benchChat(b)
	p := Default()
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := g.Input(ctx, provider.OpChat, body, p)
		if err != nil || !strings.Contains(string(res.Body), "[EMAIL_1]") {
			b.Fatalf("Input: %v", err)
		}
	}
}
