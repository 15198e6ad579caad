package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/provider/sse"
)

func jstr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// streamBody writes an upstream stream in op's format that carries the
// given text deltas, with the usual events around them.
func streamBody(op provider.Op, deltas []string) string {
	var b strings.Builder
	ev := func(name, data string) {
		if name != "" {
			b.WriteString("event: " + name + "\n")
		}
		b.WriteString("data: " + data + "\n\n")
	}
	full := strings.Join(deltas, "")
	switch op {
	case provider.OpChat:
		head := `{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m",`
		ev("", head+`"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)
		for _, d := range deltas {
			ev("", head+`"choices":[{"index":0,"delta":{"content":`+jstr(d)+`},"finish_reason":null}],"obfuscation":"x"}`)
		}
		ev("", head+`"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`)
		ev("", head+`"choices":[],"usage":{"total_tokens":9}}`)
		ev("", "[DONE]")
	case provider.OpCompletions:
		head := `{"id":"c2","object":"text_completion","created":7,"model":"m",`
		for _, d := range deltas {
			ev("", head+`"choices":[{"index":0,"text":`+jstr(d)+`,"logprobs":null,"finish_reason":null}]}`)
		}
		ev("", head+`"choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"length"}]}`)
		ev("", "[DONE]")
	case provider.OpMessages:
		ev("message_start", `{"type":"message_start","message":{"id":"msg","type":"message","role":"assistant","content":[],"usage":{"input_tokens":3}}}`)
		ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		b.WriteString(": keep-alive\n\n")
		for _, d := range deltas {
			ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`+jstr(d)+`}}`)
		}
		ev("content_block_stop", `{"type":"content_block_stop","index":0}`)
		ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}`)
		ev("message_stop", `{"type":"message_stop"}`)
	case provider.OpResponses:
		seq := 0
		next := func() string { seq++; return fmt.Sprint(seq) }
		ev("response.created", `{"type":"response.created","response":{"id":"r","output":[]},"sequence_number":0}`)
		ev("response.content_part.added", `{"type":"response.content_part.added","item_id":"m1","output_index":0,"content_index":0,"part":{"type":"output_text","text":""},"sequence_number":`+next()+`}`)
		for _, d := range deltas {
			ev("response.output_text.delta", `{"type":"response.output_text.delta","item_id":"m1","output_index":0,"content_index":0,"delta":`+jstr(d)+`,"logprobs":[],"sequence_number":`+next()+`}`)
		}
		ev("response.output_text.done", `{"type":"response.output_text.done","item_id":"m1","output_index":0,"content_index":0,"text":`+jstr(full)+`,"sequence_number":`+next()+`}`)
		ev("response.content_part.done", `{"type":"response.content_part.done","item_id":"m1","output_index":0,"content_index":0,"part":{"type":"output_text","text":`+jstr(full)+`,"annotations":[]},"sequence_number":`+next()+`}`)
		ev("response.output_item.done", `{"type":"response.output_item.done","output_index":0,"item":{"id":"m1","type":"message","role":"assistant","content":[{"type":"output_text","text":`+jstr(full)+`}]},"sequence_number":`+next()+`}`)
		ev("response.completed", `{"type":"response.completed","response":{"id":"r","output":[{"id":"m1","type":"message","role":"assistant","content":[{"type":"output_text","text":`+jstr(full)+`}]}]},"sequence_number":`+next()+`}`)
	}
	return b.String()
}

func readEvents(t testing.TB, s []byte) []sse.Event {
	t.Helper()
	rd := sse.NewReader(bytes.NewReader(s))
	var evs []sse.Event
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			t.Fatalf("reading the stream: %v\n%s", err, s)
		}
		evs = append(evs, ev)
	}
}

// relay runs a stream through sg as the gateway would and returns the
// bytes the caller receives, and the error that stopped it.
func relay(t testing.TB, sg *StreamGuard, body string) ([]byte, error) {
	t.Helper()
	var out []byte
	for _, ev := range readEvents(t, []byte(body)) {
		b, err := sg.Event(ev)
		if err != nil {
			return out, err
		}
		out = append(out, b...)
	}
	b, err := sg.Close()
	return append(out, b...), err
}

// streamed is what a caller reassembles from a stream: the text of each
// channel from its deltas, and the whole texts of "done" events.
type streamed struct {
	text  map[int]string
	whole []string
}

func reassemble(t testing.TB, op provider.Op, out []byte) streamed {
	t.Helper()
	st := streamed{text: map[int]string{}}
	for _, ev := range readEvents(t, out) {
		if !ev.HasData || ev.Data == "[DONE]" {
			continue
		}
		var v struct {
			Type    string
			Index   int
			Delta   json.RawMessage
			Text    string
			Part    struct{ Text string }
			Choices []struct {
				Index int
				Text  string
				Delta struct{ Content string }
			}
		}
		if err := json.Unmarshal([]byte(ev.Data), &v); err != nil {
			t.Fatalf("event data is not JSON: %v\n%s", err, ev.Raw)
		}
		switch op {
		case provider.OpChat:
			for _, c := range v.Choices {
				st.text[c.Index] += c.Delta.Content
			}
		case provider.OpCompletions:
			for _, c := range v.Choices {
				st.text[c.Index] += c.Text
			}
		case provider.OpMessages:
			if v.Type == "content_block_delta" {
				var d struct{ Text string }
				_ = json.Unmarshal(v.Delta, &d)
				st.text[v.Index] += d.Text
			}
		case provider.OpResponses:
			switch v.Type {
			case "response.output_text.delta":
				var d string
				_ = json.Unmarshal(v.Delta, &d)
				st.text[0] += d
			case "response.output_text.done":
				st.whole = append(st.whole, v.Text)
			case "response.content_part.done":
				st.whole = append(st.whole, v.Part.Text)
			}
		}
	}
	return st
}

var streamOps = []provider.Op{provider.OpChat, provider.OpCompletions, provider.OpMessages, provider.OpResponses}

func TestStreamSplitSecretAtEveryOffset(t *testing.T) {
	g, _ := newTestGuard(t)
	p := Policy{Output: OutputPolicy{PII: ClassPolicy{Action: Redact}, Secrets: ClassPolicy{Action: Redact}}}
	text := "My key is " + key1 + " - keep it; mail é: e@x.io 😀."
	want := "My key is [OPENAI_KEY_1] - keep it; mail é: [EMAIL_1] 😀."
	check := func(t *testing.T, op provider.Op, deltas []string) {
		out, err := relay(t, g.OutputStream(op, p, nil), streamBody(op, deltas))
		if err != nil {
			t.Fatalf("%q: %v", deltas, err)
		}
		if bytes.Contains(out, []byte("AAAA")) {
			t.Fatalf("%q: part of the key reached the caller:\n%s", deltas, out)
		}
		st := reassemble(t, op, out)
		if st.text[0] != want {
			t.Fatalf("%q: text = %q, want %q", deltas, st.text[0], want)
		}
		for _, w := range st.whole {
			if w != want {
				t.Fatalf("%q: done event text = %q, want %q", deltas, w, want)
			}
		}
	}
	cuts := runeCuts(text)
	for _, op := range streamOps {
		t.Run(string(op), func(t *testing.T) {
			for _, i := range cuts {
				check(t, op, []string{text[:i], text[i:]})
				for _, j := range cuts {
					if j > i {
						check(t, op, []string{text[:i], text[i:j], text[j:]})
					}
				}
			}
			check(t, op, strings.Split(text, ""))
		})
	}
}

// runeCuts returns every offset in s where a delta may end (deltas hold
// whole characters, as JSON strings do).
func runeCuts(s string) []int {
	var cuts []int
	for i := range s {
		if i > 0 {
			cuts = append(cuts, i)
		}
	}
	return cuts
}

func TestStreamRestoreAtEveryOffset(t *testing.T) {
	g, _ := newTestGuard(t)
	ps := pseudonymsFor(t, g, "a@b.io c@d.io")
	p := Policy{}
	text := "Dear [EMAIL_2], cc [EMAIL_1][EMAIL_3] [[EMAIL_1]]"
	want := "Dear c@d.io, cc a@b.io[EMAIL_3] [a@b.io]"
	for _, op := range streamOps {
		t.Run(string(op), func(t *testing.T) {
			for _, i := range runeCuts(text) {
				for _, deltas := range [][]string{{text[:i], text[i:]}, {text[:i], text[i : i+(len(text)-i)/2], text[i+(len(text)-i)/2:]}} {
					out, err := relay(t, g.OutputStream(op, p, ps), streamBody(op, deltas))
					if err != nil {
						t.Fatal(err)
					}
					st := reassemble(t, op, out)
					if st.text[0] != want {
						t.Fatalf("%q: text = %q, want %q", deltas, st.text[0], want)
					}
					for _, w := range st.whole {
						if w != want {
							t.Fatalf("%q: done event text = %q, want %q", deltas, w, want)
						}
					}
				}
			}
		})
	}
}

func TestStreamReleasesAllButTheWindow(t *testing.T) {
	const window = 16
	g, err := New(Options{PII: testPII, Secrets: testSecrets, Injection: &testScorer{}, MaxFindingLen: window})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("plain words, nothing to hide. ", 5)
	var deltas []string
	for i := 0; i < len(text); i += 7 {
		deltas = append(deltas, text[i:min(i+7, len(text))])
	}
	sg := g.OutputStream(provider.OpMessages, Default(), nil)
	arrived, released := 0, ""
	for _, ev := range readEvents(t, []byte(streamBody(provider.OpMessages, deltas))) {
		out, err := sg.Event(ev)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Type  string
			Delta struct{ Text string }
		}
		if ev.Event == "content_block_delta" {
			_ = json.Unmarshal([]byte(ev.Data), &v)
			arrived += len(v.Delta.Text)
		}
		released += reassemble(t, provider.OpMessages, out).text[0]
		if ev.Event == "content_block_delta" {
			if want := max(0, arrived-window); len(released) != want {
				t.Fatalf("after %d bytes arrived, %d were released; want %d (all but the window)", arrived, len(released), want)
			}
		}
		if ev.Event == "content_block_stop" && released != text {
			t.Fatalf("at content_block_stop released %q, want all the text", released)
		}
	}
	if released != text {
		t.Fatalf("released %q", released)
	}
}

func TestStreamDefaultWindow(t *testing.T) {
	g, _ := newTestGuard(t)
	sg := g.OutputStream(provider.OpChat, Default(), nil)
	text := strings.Repeat("x", DefaultMaxFindingLen)
	evs := readEvents(t, []byte(streamBody(provider.OpChat, []string{text, "abc"})))
	var got string
	for _, ev := range evs[:3] { // role chunk and the two deltas
		out, err := sg.Event(ev)
		if err != nil {
			t.Fatal(err)
		}
		got += reassemble(t, provider.OpChat, out).text[0]
	}
	if got != "xxx" {
		t.Fatalf("released %q after %d bytes, want the first 3", got, len(text)+3)
	}
}

func TestStreamEventOrder(t *testing.T) {
	g, _ := newTestGuard(t)
	p := Policy{Output: OutputPolicy{Secrets: ClassPolicy{Action: Redact}}}
	head := `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",`
	body := "" +
		"data: " + head + `"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n" +
		"data: " + head + `"choices":[{"index":0,"delta":{"content":"key ` + key1[:10] + `"},"finish_reason":null}]}` + "\n\n" +
		": ping\n\n" +
		"data: " + head + `"choices":[{"index":1,"delta":{"content":"other ` + key2[:12] + `"},"finish_reason":null}]}` + "\n\n" +
		"data: " + head + `"choices":[{"index":0,"delta":{"content":"` + key1[10:] + ` ok"},"finish_reason":null}]}` + "\n\n" +
		"data: " + head + `"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":null}]}` + "\n\n" +
		"data: " + head + `"choices":[{"index":1,"delta":{"content":"` + key2[12:] + `"},"finish_reason":"stop"}]}` + "\n\n" +
		"data: " + head + `"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}` + "\n\n" +
		"data: " + head + `"choices":[],"usage":{"total_tokens":3}}` + "\n\n" +
		"data: [DONE]\n\n"
	in := readEvents(t, []byte(body))
	out, err := relay(t, g.OutputStream(provider.OpChat, p, nil), body)
	if err != nil {
		t.Fatal(err)
	}
	st := reassemble(t, provider.OpChat, out)
	// Placeholders are numbered in the order text is released: choice 1
	// finishes first.
	if st.text[0] != "key [OPENAI_KEY_2] ok" || st.text[1] != "other [OPENAI_KEY_1]" {
		t.Fatalf("texts = %v", st.text)
	}
	// Every event without text comes out byte for byte and in order; the
	// held text of choice 0 comes out just before its finish chunk.
	noText := func(ev sse.Event) bool {
		return !strings.Contains(ev.Data, `"content":`) || strings.Contains(ev.Data, `"role"`)
	}
	var want, got []string
	for _, ev := range in {
		if noText(ev) {
			want = append(want, string(ev.Raw))
		}
	}
	outEvs := readEvents(t, out)
	for i, ev := range outEvs {
		if noText(ev) {
			got = append(got, string(ev.Raw))
		}
		if strings.Contains(ev.Data, `"finish_reason":"tool_calls"`) && !strings.Contains(outEvs[i-1].Data, " ok") {
			t.Errorf("the event before choice 0's finish chunk is %s, want the held text", outEvs[i-1].Raw)
		}
	}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("events without text changed or moved\n got: %q\nwant: %q", got, want)
	}
}

func TestStreamAnthropicBlocks(t *testing.T) {
	g, _ := newTestGuard(t)
	p := Policy{Output: OutputPolicy{Secrets: ClassPolicy{Action: Redact}}}
	body := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[]}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"use " + key1 + "\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"k\\\":1}\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	out, err := relay(t, g.OutputStream(provider.OpMessages, p, nil), body)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ev := range readEvents(t, out) {
		names = append(names, ev.Event)
	}
	wantNames := "message_start content_block_start content_block_delta content_block_delta content_block_stop content_block_start content_block_delta content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != wantNames {
		t.Errorf("events = %v\nwant %s", names, wantNames)
	}
	if st := reassemble(t, provider.OpMessages, out); st.text[0] != "use [OPENAI_KEY_1]" {
		t.Errorf("text = %q", st.text[0])
	}
	if !bytes.Contains(out, []byte(`"partial_json":"{\"k\":1}"`)) {
		t.Errorf("tool input delta changed:\n%s", out)
	}
}

func TestStreamBlock(t *testing.T) {
	g, _ := newTestGuard(t)
	p := Policy{Output: OutputPolicy{Secrets: ClassPolicy{Action: Block}}}
	text := "here it is: " + key1 + " done"
	for _, i := range runeCuts(text) {
		sg := g.OutputStream(provider.OpMessages, p, nil)
		out, err := relay(t, sg, streamBody(provider.OpMessages, []string{text[:i], text[i:]}))
		if code(err) != apperr.ContentBlocked {
			t.Fatalf("cut %d: error = %v, want content_blocked", i, err)
		}
		if bytes.Contains(out, []byte("sk-")) {
			t.Fatalf("cut %d: the start of the key went out before the block:\n%s", i, out)
		}
		if _, err2 := sg.Event(sse.Event{HasData: true, Data: "{}", Raw: []byte("data: {}\n\n")}); !errors.Is(err2, err) {
			t.Fatalf("cut %d: after a block, Event returned %v", i, err2)
		}
		if v := sg.Verdicts(); len(v) != 1 || v[0].Action != Block {
			t.Fatalf("cut %d: verdicts = %+v", i, v)
		}
	}
}

func TestStreamCloseFlushes(t *testing.T) {
	g, _ := newTestGuard(t)
	sg := g.OutputStream(provider.OpResponses, Default(), nil)
	body := streamBody(provider.OpResponses, []string{"short answer"})
	evs := readEvents(t, []byte(body))
	var out []byte
	for _, ev := range evs[:3] { // cut off after the delta
		b, err := sg.Event(ev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	if reassemble(t, provider.OpResponses, out).text[0] != "" {
		t.Fatal("text released before the window filled")
	}
	tail, err := sg.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := `event: response.output_text.delta` + "\n" + `data: {"type":"response.output_text.delta","item_id":"m1","output_index":0,"content_index":0,"delta":"short answer","logprobs":[],"sequence_number":2}` + "\n\n"
	if string(tail) != want {
		t.Errorf("Close() =\n%s\nwant\n%s", tail, want)
	}
}

func TestStreamEventFraming(t *testing.T) {
	g, _ := newTestGuard(t)
	p := Policy{Output: OutputPolicy{Secrets: ClassPolicy{Action: Redact}}}
	long := strings.Repeat("z", 300)
	tests := []struct {
		name, in, want string
	}{
		{
			name: "CRLF, id and comment kept when splicing",
			in:   "id: 5\r\n: c\r\nevent: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" + long + "\"}}\r\n\r\n",
			want: "id: 5\r\n: c\r\nevent: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" + long[:300-DefaultMaxFindingLen] + "\"}}\r\n\r\n",
		},
		{
			name: "data over two lines is written afresh",
			in:   "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\ndata: \"delta\":{\"type\":\"text_delta\",\"text\":\"" + long + "\"}}\n\n",
			want: "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\ndata: \"delta\":{\"type\":\"text_delta\",\"text\":\"" + long[:300-DefaultMaxFindingLen] + "\"}}\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sg := g.OutputStream(provider.OpMessages, p, nil)
			out, err := sg.Event(readEvents(t, []byte(tt.in))[0])
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", out, tt.want)
			}
		})
	}
}

func TestStreamPassthroughEvents(t *testing.T) {
	g, _ := newTestGuard(t)
	ps := pseudonymsFor(t, g, "a@b.io")
	p := Policy{Output: OutputPolicy{Secrets: ClassPolicy{Action: Redact}}}
	sg := g.OutputStream(provider.OpPassthrough, p, ps)
	in := "data: {\"token\":{\"text\":\"" + key1 + " [EMAIL_1]\"},\"n\":1}\n\n" + "data: raw " + key2 + "\n\n" + "data: {\"plain\":1}\n\n"
	out, err := relay(t, sg, in)
	if err != nil {
		t.Fatal(err)
	}
	want := "data: {\"token\":{\"text\":\"[OPENAI_KEY_1] a@b.io\"},\"n\":1}\n\n" + "data: raw [OPENAI_KEY_2]\n\n" + "data: {\"plain\":1}\n\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestStreamInactivePolicyPassesBytes(t *testing.T) {
	g, _ := newTestGuard(t)
	body := streamBody(provider.OpChat, []string{"a", key1})
	out, err := relay(t, g.OutputStream(provider.OpChat, Policy{}, nil), body)
	if err != nil || string(out) != body {
		t.Fatalf("an allow-all stream without pseudonyms was changed (%v)", err)
	}
}

// FuzzStreamChunks checks that however an answer is cut into deltas, the
// text the caller reassembles is the text the non-streaming guard makes
// of the whole answer. The detectors here (keys with a fixed prefix, and
// placeholders) cannot match inside one another, as real secret rules
// cannot, so the property holds for any text.
func FuzzStreamChunks(f *testing.F) {
	f.Add("My key is "+key1+", mail [EMAIL_1].", []byte{3, 17, 1, 40})
	f.Add(key1+key2+"[EMAIL_1]"+key1, []byte{1})
	f.Add("é😀[EMAIL_1]"+strings.Repeat("sk-test-", 5)+"AAAABBBBCCCCDDDDEEEE", []byte{2, 2, 2})
	f.Add(strings.Repeat("w", 600)+key1, []byte{200, 255, 255, 100})
	g, _ := newTestGuard(f)
	ps := pseudonymsFor(f, g, "a@b.io")
	p := Policy{Output: OutputPolicy{Secrets: ClassPolicy{Action: Redact}}}
	f.Fuzz(func(t *testing.T, text string, cuts []byte) {
		text = strings.ToValidUTF8(text, "?")
		whole, err := g.Output(context.Background(), provider.OpMessages, []byte(`{"content":[{"type":"text","text":`+jstr(text)+`}]}`), p, ps)
		if err != nil {
			t.Fatal(err)
		}
		var want struct{ Content []struct{ Text string } }
		if err := json.Unmarshal(whole.Body, &want); err != nil {
			t.Fatal(err)
		}
		deltas := chop(text, cuts)
		out, err := relay(t, g.OutputStream(provider.OpMessages, p, ps), streamBody(provider.OpMessages, deltas))
		if err != nil {
			t.Fatal(err)
		}
		if got := reassemble(t, provider.OpMessages, out).text[0]; got != want.Content[0].Text {
			t.Fatalf("deltas %q\nstreamed: %q\nwhole:    %q", deltas, got, want.Content[0].Text)
		}
	})
}

// chop cuts s into deltas whose lengths come from cuts, at character
// boundaries.
func chop(s string, cuts []byte) []string {
	var out []string
	for i := 0; len(s) > 0; i++ {
		n := len(s)
		if len(cuts) > 0 {
			n = min(len(s), int(cuts[i%len(cuts)])+1)
		}
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

// FuzzStreamGenerated checks the same property with emails too, on texts
// made of words, emails, keys and placeholders separated by spaces and
// punctuation, as prose is.
func FuzzStreamGenerated(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, []byte{5, 9})
	f.Add([]byte{1, 1, 1, 2, 2, 3}, []byte{0})
	g, _ := newTestGuard(f)
	ps := pseudonymsFor(f, g, "a@b.io")
	p := Policy{Output: OutputPolicy{PII: ClassPolicy{Action: Mask, Types: map[string]Action{"phone": Flag}}, Secrets: ClassPolicy{Action: Redact}}}
	tokens := []string{"hello", "mail jo.doe+x@mail.example.com", "+1-555-123-4567", key1, "[EMAIL_1]", "né😀", "x@y.co", key2, "\n", "q@sub.dom.org,"}
	seps := []string{" ", ", ", ". ", "\n", " (", ") "}
	f.Fuzz(func(t *testing.T, plan, cuts []byte) {
		var b strings.Builder
		for i, c := range plan {
			b.WriteString(tokens[int(c)%len(tokens)])
			b.WriteString(seps[(int(c)/len(tokens)+i)%len(seps)])
		}
		text := b.String()
		whole, err := g.Output(context.Background(), provider.OpChat, []byte(`{"choices":[{"message":{"content":`+jstr(text)+`}}]}`), p, ps)
		if err != nil {
			t.Fatal(err)
		}
		var want struct {
			Choices []struct{ Message struct{ Content string } }
		}
		if err := json.Unmarshal(whole.Body, &want); err != nil {
			t.Fatal(err)
		}
		sg := g.OutputStream(provider.OpChat, p, ps)
		out, err := relay(t, sg, streamBody(provider.OpChat, chop(text, cuts)))
		if err != nil {
			t.Fatal(err)
		}
		if got := reassemble(t, provider.OpChat, out).text[0]; got != want.Choices[0].Message.Content {
			t.Fatalf("text %q\nstreamed: %q\nwhole:    %q", text, got, want.Choices[0].Message.Content)
		}
		// The stream counts what it released exactly as the whole answer.
		if fmt.Sprint(sg.Verdicts()) != fmt.Sprint(whole.Verdicts) {
			t.Fatalf("verdicts: streamed %+v, whole %+v", sg.Verdicts(), whole.Verdicts)
		}
	})
}

func TestStreamNeverSplitsCharacters(t *testing.T) {
	const window = 16
	g, err := New(Options{PII: testPII, Secrets: testSecrets, Injection: &testScorer{}, MaxFindingLen: window})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("é😀abc", 20) // 9 bytes: the window ends inside characters
	deltas := chop(text, []byte{0, 4, 2, 6})
	sg := g.OutputStream(provider.OpMessages, Default(), nil)
	arrived, released := 0, ""
	for _, ev := range readEvents(t, []byte(streamBody(provider.OpMessages, deltas))) {
		out, err := sg.Event(ev)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Event == "content_block_delta" {
			var v struct{ Delta struct{ Text string } }
			_ = json.Unmarshal([]byte(ev.Data), &v)
			arrived += len(v.Delta.Text)
		}
		part := reassemble(t, provider.OpMessages, out).text[0]
		if !utf8.ValidString(part) || bytes.Contains(out, []byte(`\ufffd`)) {
			t.Fatalf("released a broken character: %q", out)
		}
		released += part
		if ev.Event == "content_block_delta" {
			if lo, hi := arrived-window-utf8.UTFMax+1, arrived-window; len(released) > max(hi, 0) || len(released) < lo {
				t.Fatalf("after %d bytes, %d released; want %d..%d", arrived, len(released), lo, hi)
			}
		}
	}
	if released != text {
		t.Fatalf("released %q, want %q", released, text)
	}
}
