package guard

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/detect"
	"github.com/wardenproject/warden/internal/provider"
)

// pseudonymsFor runs the input guard on a prompt that pseudonymizes the
// given emails, and returns the placeholders it made.
func pseudonymsFor(t testing.TB, g *Guard, emails string) *Pseudonyms {
	t.Helper()
	res, err := g.Input(context.Background(), provider.OpCompletions, []byte(`{"prompt":"`+emails+`"}`), policyWith(Pseudonymize, Allow))
	if err != nil || res.Pseudonyms == nil {
		t.Fatalf("Input: %v, %v", err, res.Pseudonyms)
	}
	return res.Pseudonyms
}

func TestOutputFormats(t *testing.T) {
	g, _ := newTestGuard(t)
	ps := pseudonymsFor(t, g, "a@b.io c@d.io")
	p := Default() // answers: secrets redacted, PII flagged
	tests := []struct {
		name string
		op   provider.Op
		in   string
		want string
	}{
		{
			name: "chat",
			op:   provider.OpChat,
			in:   `{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Write to [EMAIL_2], key ` + key1 + `","tool_calls":[{"function":{"arguments":"[EMAIL_1]"}}]}},{"index":1,"message":{"content":null}}],"usage":{"total_tokens":3}}`,
			want: `{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Write to c@d.io, key [OPENAI_KEY_1]","tool_calls":[{"function":{"arguments":"[EMAIL_1]"}}]}},{"index":1,"message":{"content":null}}],"usage":{"total_tokens":3}}`,
		},
		{
			name: "completions",
			op:   provider.OpCompletions,
			in:   `{"choices":[{"text":"[EMAIL_1]!","index":0},{"text":"` + key2 + `","index":1}]}`,
			want: `{"choices":[{"text":"a@b.io!","index":0},{"text":"[OPENAI_KEY_1]","index":1}]}`,
		},
		{
			name: "responses",
			op:   provider.OpResponses,
			in:   `{"output":[{"type":"reasoning","summary":[{"type":"summary_text","text":"[EMAIL_1]"}]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"hi [EMAIL_1] ` + key1 + `","annotations":[]},{"type":"refusal","refusal":"[EMAIL_1]"}]}]}`,
			want: `{"output":[{"type":"reasoning","summary":[{"type":"summary_text","text":"[EMAIL_1]"}]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"hi a@b.io [OPENAI_KEY_1]","annotations":[]},{"type":"refusal","refusal":"[EMAIL_1]"}]}]}`,
		},
		{
			name: "anthropic messages",
			op:   provider.OpMessages,
			in:   `{"type":"message","content":[{"type":"text","text":"to [EMAIL_2]\n"},{"type":"tool_use","input":{"to":"[EMAIL_2]"}}],"stop_reason":"end_turn"}`,
			want: `{"type":"message","content":[{"type":"text","text":"to c@d.io\n"},{"type":"tool_use","input":{"to":"[EMAIL_2]"}}],"stop_reason":"end_turn"}`,
		},
		{
			name: "pass-through: every string",
			op:   provider.OpPassthrough,
			in:   `{"generated":["[EMAIL_1]",{"x":"` + key1 + `"}]}`,
			want: `{"generated":["a@b.io",{"x":"[OPENAI_KEY_1]"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := g.Output(context.Background(), tt.op, []byte(tt.in), p, ps)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Body) != tt.want {
				t.Errorf("body\n got: %s\nwant: %s", res.Body, tt.want)
			}
			if !json.Valid(res.Body) {
				t.Error("answer is not valid JSON")
			}
		})
	}
}

func TestOutputPolicy(t *testing.T) {
	g, _ := newTestGuard(t)
	ps := pseudonymsFor(t, g, "a@b.io")
	answer := func(s string) []byte {
		b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"content": s}}}})
		return b
	}
	content := func(b []byte) string {
		var v struct {
			Choices []struct{ Message struct{ Content string } }
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v.Choices[0].Message.Content
	}
	t.Run("new findings numbered after the pseudonyms and not restored", func(t *testing.T) {
		p := Policy{Output: OutputPolicy{PII: ClassPolicy{Action: Redact}}}
		res, err := g.Output(context.Background(), provider.OpChat, answer("[EMAIL_1] and new@x.io"), p, ps)
		if err != nil {
			t.Fatal(err)
		}
		if got := content(res.Body); got != "a@b.io and [EMAIL_2]" {
			t.Errorf("content = %q", got)
		}
		want := []Verdict{{Class: detect.PII, Type: "email", Action: Redact, Count: 1}}
		if !reflect.DeepEqual(res.Verdicts, want) {
			t.Errorf("verdicts = %+v, want %+v", res.Verdicts, want)
		}
	})
	t.Run("restored even when the policy allows everything", func(t *testing.T) {
		res, err := g.Output(context.Background(), provider.OpChat, answer("[EMAIL_1]"), Policy{}, ps)
		if err != nil || content(res.Body) != "a@b.io" {
			t.Errorf("content = %q, %v", content(res.Body), err)
		}
	})
	t.Run("unchanged answer is the same slice", func(t *testing.T) {
		in := answer("nothing here")
		res, err := g.Output(context.Background(), provider.OpChat, in, Default(), ps)
		if err != nil || &res.Body[0] != &in[0] {
			t.Errorf("Output copied an unchanged answer (%v)", err)
		}
	})
	t.Run("block", func(t *testing.T) {
		p := Policy{Output: OutputPolicy{Secrets: ClassPolicy{Action: Block}}}
		res, err := g.Output(context.Background(), provider.OpChat, answer("k "+key1), p, nil)
		if code(err) != apperr.ContentBlocked || len(res.Verdicts) != 1 || res.Verdicts[0].Action != Block {
			t.Errorf("Output = %+v, %v; want content_blocked with a verdict", res.Verdicts, err)
		}
	})
	t.Run("answer that is not JSON", func(t *testing.T) {
		_, err := g.Output(context.Background(), provider.OpChat, []byte("oops "+key1), Default(), nil)
		if code(err) != apperr.Upstream {
			t.Errorf("error = %v, want upstream_error", err)
		}
	})
	t.Run("operations without text are passed", func(t *testing.T) {
		in := []byte{0xff, 0x00, 's', 'k'}
		res, err := g.Output(context.Background(), provider.OpSpeech, in, Default(), ps)
		if err != nil || &res.Body[0] != &in[0] {
			t.Errorf("speech answer: %v", err)
		}
	})
}
