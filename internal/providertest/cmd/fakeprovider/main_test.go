package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	var logs bytes.Buffer
	env := map[string]string{"FAKE_PROVIDER_KEY": "sk-from-env-0123456789"}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-chunks", "2"}, func(k string) string { return env[k] }, w, &logs)
		_ = w.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listening line: %v", err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("listening line = %q", line)
	}

	post := func(key, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("sk-other", `{"model":"m","messages":[{"role":"user","content":"x"}]}`); code != http.StatusUnauthorized {
		t.Errorf("wrong key: %d %s", code, body)
	}
	code, body := post(env["FAKE_PROVIDER_KEY"], `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	// role chunk, 2 content chunks, finish chunk, [DONE]
	if code != http.StatusOK || strings.Count(body, "data: ") != 5 || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("stream with -chunks 2: %d %s", code, body)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	if strings.Contains(logs.String(), env["FAKE_PROVIDER_KEY"]) {
		t.Errorf("logs reveal the provider key: %s", logs.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := [][]string{
		{"-chunks", "0"},
		{"-latency", "-1s"},
		{"-nosuchflag"},
		{"stray"},
		{"-addr", "256.0.0.1:1"},
	}
	for _, args := range tests {
		var stderr bytes.Buffer
		if err := run(context.Background(), args, func(string) string { return "" }, io.Discard, &stderr); err == nil {
			t.Errorf("run(%q) accepted bad flags", args)
		}
	}
}
