package guard

import (
	"testing"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/provider"
)

func TestValidate(t *testing.T) {
	limits := ValidationLimits{MaxMessages: 3, MaxChars: 40, MaxTokens: 1000}
	tests := []struct {
		name   string
		op     provider.Op
		body   string
		limits ValidationLimits
		param  string // "" means valid; "-" an error without a param
	}{
		{"chat ok", provider.OpChat, `{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":null,"tool_calls":[]}],"max_tokens":1000,"stream":true,"temperature":0.2,"n":1}`, limits, ""},
		{"not JSON", provider.OpChat, `{"model":`, limits, "-"},
		{"not an object", provider.OpChat, `["model"]`, limits, "-"},
		{"model missing", provider.OpChat, `{"messages":[{"role":"user","content":"x"}]}`, limits, "model"},
		{"model null", provider.OpChat, `{"model":null,"messages":[{"role":"user","content":"x"}]}`, limits, "model"},
		{"model not a string", provider.OpChat, `{"model":3,"messages":[{"role":"user","content":"x"}]}`, limits, "model"},
		{"model empty", provider.OpChat, `{"model":"","messages":[{"role":"user","content":"x"}]}`, limits, "model"},
		{"messages missing", provider.OpChat, `{"model":"m"}`, limits, "messages"},
		{"messages not an array", provider.OpChat, `{"model":"m","messages":{}}`, limits, "messages"},
		{"messages empty", provider.OpChat, `{"model":"m","messages":[]}`, limits, "messages"},
		{"message not an object", provider.OpChat, `{"model":"m","messages":["hi"]}`, limits, "messages[0]"},
		{"role missing", provider.OpChat, `{"model":"m","messages":[{"content":"x"}]}`, limits, "messages[0].role"},
		{"role unknown", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"root","content":"x"}]}`, limits, "messages[1].role"},
		{"user content missing", provider.OpChat, `{"model":"m","messages":[{"role":"user"}]}`, limits, "messages[0].content"},
		{"content wrong type", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":5}]}`, limits, "messages[0].content"},
		{"part without type", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]}`, limits, "messages[0].content[0].type"},
		{"too many messages", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"1"},{"role":"user","content":"2"},{"role":"user","content":"3"},{"role":"user","content":"4"}]}`, limits, "messages"},
		{"too many characters", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]}`, limits, "messages"},
		{"characters, not bytes", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"ééééééééééééééééééééééééééééééééééééééé"}]}`, limits, ""},
		{"max_tokens too high", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1001}`, limits, "max_tokens"},
		{"max_completion_tokens not an integer", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":1.5}`, limits, "max_completion_tokens"},
		{"max_tokens zero", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}`, limits, "max_tokens"},
		{"stream not a bool", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}`, limits, "stream"},
		{"temperature not a number", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}`, limits, "temperature"},
		{"n zero", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"n":0}`, limits, "n"},
		{"unknown param refused when a list is set", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"logit_bias":{}}`, ValidationLimits{AllowedParams: map[string]bool{"stream": true}}, "logit_bias"},
		{"unknown param passes without a list", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"logit_bias":{}}`, ValidationLimits{}, ""},
		{"required params always allowed", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":false}`, ValidationLimits{AllowedParams: map[string]bool{"stream": true}}, ""},
		{"completions ok", provider.OpCompletions, `{"model":"m","prompt":["a",[1,2]],"max_tokens":5}`, limits, ""},
		{"completions prompt missing", provider.OpCompletions, `{"model":"m"}`, limits, "prompt"},
		{"completions prompt wrong type", provider.OpCompletions, `{"model":"m","prompt":{}}`, limits, "prompt"},
		{"embeddings input missing", provider.OpEmbeddings, `{"model":"m"}`, limits, "input"},
		{"moderations ok", provider.OpModerations, `{"model":"m","input":"x"}`, limits, ""},
		{"moderations input wrong type", provider.OpModerations, `{"model":"m","input":true}`, limits, "input"},
		{"responses ok", provider.OpResponses, `{"model":"m","input":[{"role":"developer","content":"d"},{"type":"function_call_output","call_id":"c","output":"o"}],"max_output_tokens":10}`, limits, ""},
		{"responses input missing", provider.OpResponses, `{"model":"m"}`, limits, "input"},
		{"responses bad role", provider.OpResponses, `{"model":"m","input":[{"role":"tool","content":"x"}]}`, limits, "input[0].role"},
		{"responses item without role or type", provider.OpResponses, `{"model":"m","input":[{"content":"x"}]}`, limits, "input[0].type"},
		{"responses too many items", provider.OpResponses, `{"model":"m","input":[{"role":"user","content":"1"},{"role":"user","content":"2"},{"role":"user","content":"3"},{"role":"user","content":"4"}]}`, limits, "input"},
		{"responses max_output_tokens", provider.OpResponses, `{"model":"m","input":"x","max_output_tokens":5000}`, limits, "max_output_tokens"},
		{"anthropic ok", provider.OpMessages, `{"model":"c","max_tokens":10,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"text","text":"x"}]},{"role":"assistant","content":"y"}]}`, limits, ""},
		{"anthropic max_tokens required", provider.OpMessages, `{"model":"c","messages":[{"role":"user","content":"x"}]}`, limits, "max_tokens"},
		{"anthropic system role refused", provider.OpMessages, `{"model":"c","max_tokens":10,"messages":[{"role":"system","content":"x"}]}`, limits, "messages[0].role"},
		{"anthropic content required", provider.OpMessages, `{"model":"c","max_tokens":10,"messages":[{"role":"user"}]}`, limits, "messages[0].content"},
		{"anthropic system wrong type", provider.OpMessages, `{"model":"c","max_tokens":10,"system":7,"messages":[{"role":"user","content":"x"}]}`, limits, "system"},
		{"count_tokens needs no max_tokens", provider.OpCountTokens, `{"model":"c","messages":[{"role":"user","content":"x"}]}`, limits, ""},
		{"pass-through not validated", provider.OpPassthrough, `not json`, limits, ""},
		{"transcriptions not validated", provider.OpTranscriptions, "--multipart", limits, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.op, []byte(tt.body), tt.limits)
			if tt.param == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			e := appErr(t, err)
			if e.Code != apperr.Invalid || e.HTTPStatus() != 400 {
				t.Errorf("code = %s (%d), want invalid_request 400", e.Code, e.HTTPStatus())
			}
			want := tt.param
			if want == "-" {
				want = ""
			}
			if e.Param != want {
				t.Errorf("Param = %q, want %q (message %q)", e.Param, want, e.Message)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"x"}]}`), uint8(0))
	f.Add([]byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]}`), uint8(3))
	ops := []provider.Op{provider.OpChat, provider.OpCompletions, provider.OpEmbeddings, provider.OpResponses, provider.OpModerations, provider.OpMessages, provider.OpCountTokens}
	limits := ValidationLimits{MaxMessages: 4, MaxChars: 100, MaxTokens: 50, AllowedParams: map[string]bool{"stream": true}}
	f.Fuzz(func(t *testing.T, body []byte, op uint8) {
		err := Validate(ops[int(op)%len(ops)], body, limits)
		if err != nil && apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("Validate error %v is not invalid_request", err)
		}
	})
}
