package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The iris example served behind Warden: the model server has no auth of
// its own, and through Warden it needs a Warden key.
func TestIrisExampleBehindWarden(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "iris")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/iris").CombinedOutput(); err != nil {
		t.Fatalf("build the example: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	// The server logs its address as JSON once it listens.
	addr := ""
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			addr = line.Addr
			break
		}
	}
	if addr == "" {
		t.Fatal("the iris server did not report its address")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	s := startStackWith(t, "  iris: {type: http, base_url: http://"+addr+"}")
	predict := func(key string) (int, string) {
		req, _ := http.NewRequest("POST", s.url+"/proxy/iris/predict", strings.NewReader(`{"features":[5.1,3.5,1.4,0.2]}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		client := &http.Client{Timeout: 30 * time.Second}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Pass-through can reach any model, so it takes a key without --models.
	var created struct {
		Key string `json:"key"`
	}
	out := s.warden("", "keys", "create", "--name", "iris-client", "--json")
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.HasPrefix(created.Key, "wdn_") {
		t.Fatalf("keys create --json: %v: %q", err, out)
	}
	if code, body := predict(s.key); code != http.StatusForbidden {
		t.Fatalf("a key limited to some models reached pass-through: %d %s", code, body)
	}
	if code, body := predict(created.Key); code != http.StatusOK || !strings.Contains(body, `"species":"setosa"`) {
		t.Fatalf("with a key: %d %s", code, body)
	}
	for _, key := range []string{"", "wdn_" + strings.Repeat("q", 40)} {
		code, body := predict(key)
		var e struct {
			Error struct {
				Message, Type, Code string
			} `json:"error"`
		}
		if code != http.StatusUnauthorized || json.Unmarshal([]byte(body), &e) != nil || e.Error.Type != "authentication_error" {
			t.Fatalf("key %q: %d %s", key, code, body)
		}
		t.Logf("without a valid key: %s", body)
	}
}
