package providertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const testKey = "sk-test-providertest-0123456789"

func fixedNow() time.Time { return time.Unix(1700000000, 0).UTC() }

// newServer starts a fake with a fixed clock and testKey, closed with the
// test.
func newServer(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Now == nil {
		o.Now = fixedNow
	}
	s := New(o)
	t.Cleanup(s.Close)
	return s
}

// call is one request a test sends.
type call struct {
	method string
	path   string
	header map[string]string
	body   string
}

// authHeaders are the headers each provider's SDK sends with key k.
func openAIAuth(k string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + k, "Content-Type": "application/json"}
}

func anthropicAuth(k string) map[string]string {
	return map[string]string{"x-api-key": k, "anthropic-version": "2023-06-01", "Content-Type": "application/json"}
}

func googleAuth(k string) map[string]string {
	return map[string]string{"x-goog-api-key": k, "Content-Type": "application/json"}
}

func azureAuth(k string) map[string]string {
	return map[string]string{"api-key": k, "Content-Type": "application/json"}
}

func (c call) request(ctx context.Context, t testing.TB, base string) *http.Request {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+c.path, body)
	if err != nil {
		t.Fatalf("building request %s %s: %v", method, c.path, err)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	return req
}

// do sends c and returns the response with its whole body.
func do(t testing.TB, s *Server, c call) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.Client().Do(c.request(context.Background(), t, s.URL))
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", c.method, c.path, err)
	}
	return resp, b
}

// decode unmarshals b into v or fails the test.
func decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

// sseEvent is one server-sent event as a client parses it.
type sseEvent struct {
	Name string
	Data string
}

// parseSSE splits a complete event stream into events, the way the SDKs
// do: "event:" and "data:" fields, blank-line separated, CRLF or LF.
func parseSSE(t testing.TB, b []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	var data []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case line == "":
			if len(data) > 0 {
				cur.Data = strings.Join(data, "\n")
				out = append(out, cur)
			}
			cur, data = sseEvent{}, nil
		case strings.HasPrefix(line, "event:"):
			cur.Name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scanning event stream: %v", err)
	}
	return out
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking the change)\n got: %s\nwant: %s", path, got, want)
	}
}
