package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func newTestServer(t *testing.T) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	m, info := sharedModel(t)
	var logs bytes.Buffer
	srv := httptest.NewServer(newServer(m, info, slog.New(slog.NewJSONHandler(&logs, nil))))
	t.Cleanup(srv.Close)
	return srv, &logs
}

func do(t *testing.T, srv *httptest.Server, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return resp, b
}

func TestPredict(t *testing.T) {
	srv, _ := newTestServer(t)
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"features", `{"features":[5.1,3.5,1.4,0.2]}`, []string{"setosa"}},
		{"instances", `{"instances":[[5.1,3.5,1.4,0.2],[7.0,3.2,4.7,1.4],[6.3,3.3,6.0,2.5]]}`,
			[]string{"setosa", "versicolor", "virginica"}},
		{"integers and exponents", `{"features":[63e-1,3.3,6,25E-1]}`, []string{"virginica"}},
		{"whitespace around", " \n\t{ \"features\" : [5.1, 3.5, 1.4, 0.2] }\n\n", []string{"setosa"}},
		{"null other field", `{"features":[5.1,3.5,1.4,0.2],"instances":null}`, []string{"setosa"}},
		{"largest batch", `{"instances":[` + strings.TrimSuffix(strings.Repeat(`[5.1,3.5,1.4,0.2],`, maxInstances), ",") + `]}`,
			repeat("setosa", maxInstances)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, http.MethodPost, "/predict", tt.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %s", resp.StatusCode, body)
			}
			var got predictResponse
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Predictions) != len(tt.want) {
				t.Fatalf("%d predictions, want %d", len(got.Predictions), len(tt.want))
			}
			for i, p := range got.Predictions {
				if p.Species != tt.want[i] {
					t.Errorf("prediction %d = %s, want %s", i, p.Species, tt.want[i])
				}
				if len(p.Probabilities) != 3 {
					t.Fatalf("prediction %d has probabilities %v, want 3 classes", i, p.Probabilities)
				}
				var sum float64
				for c, v := range p.Probabilities {
					sum += v
					if v > p.Probabilities[p.Species] {
						t.Errorf("prediction %d: %s (%v) beats the predicted %s", i, c, v, p.Species)
					}
				}
				if math.Abs(sum-1) > 1e-9 {
					t.Errorf("prediction %d: probabilities sum to %v", i, sum)
				}
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestModelAndHealth(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, body := do(t, srv, http.MethodGet, "/model", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /model: status %d, body %s", resp.StatusCode, body)
	}
	var info modelInfo
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(info.Classes, []string{"setosa", "versicolor", "virginica"}) ||
		!reflect.DeepEqual(info.Features, featureNames) ||
		info.Accuracy < 0.9 || info.Accuracy > 1 ||
		info.TrainRows != 120 || info.TestRows != 30 ||
		!info.TrainedAt.Equal(fixedNow()) {
		t.Errorf("GET /model = %s", body)
	}

	resp, body = do(t, srv, http.MethodGet, "/healthz", "")
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Errorf("GET /healthz: status %d, body %s", resp.StatusCode, body)
	}
}

func TestBadRequests(t *testing.T) {
	srv, logs := newTestServer(t)
	tooMany := `{"instances":[` + strings.TrimSuffix(strings.Repeat(`[5.1,3.5,1.4,0.2],`, maxInstances+1), ",") + `]}`
	tests := []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"empty body", "POST", "/predict", "", 400, "body is empty"},
		{"not JSON", "POST", "/predict", "features=5.1", 400, "not valid JSON"},
		{"truncated", "POST", "/predict", `{"features":[5.1,3.5`, 400, "truncated"},
		{"array body", "POST", "/predict", `[5.1,3.5,1.4,0.2]`, 400, "wrong type"},
		{"unknown field", "POST", "/predict", `{"feature":[5.1,3.5,1.4,0.2]}`, 400, `unknown field "feature"`},
		{"trailing data", "POST", "/predict", `{"features":[5.1,3.5,1.4,0.2]} {}`, 400, "after the JSON object"},
		{"trailing garbage", "POST", "/predict", `{"features":[5.1,3.5,1.4,0.2]}x`, 400, "after the JSON object"},
		{"neither field", "POST", "/predict", `{}`, 400, "no features"},
		{"null features", "POST", "/predict", `{"features":null}`, 400, "no features"},
		{"both fields", "POST", "/predict", `{"features":[5.1,3.5,1.4,0.2],"instances":[[5.1,3.5,1.4,0.2]]}`, 400, "not both"},
		{"empty instances", "POST", "/predict", `{"instances":[]}`, 400, "instances is empty"},
		{"empty features", "POST", "/predict", `{"features":[]}`, 400, "features has 0 values; want 4"},
		{"three features", "POST", "/predict", `{"features":[5.1,3.5,1.4]}`, 400, "features has 3 values; want 4"},
		{"five features", "POST", "/predict", `{"features":[5.1,3.5,1.4,0.2,9]}`, 400, "features has 5 values"},
		{"short instance", "POST", "/predict", `{"instances":[[5.1,3.5,1.4,0.2],[1,2]]}`, 400, "instances[1] has 2 values"},
		{"null instance", "POST", "/predict", `{"instances":[null]}`, 400, "instances[0] has 0 values"},
		{"string feature", "POST", "/predict", `{"features":["5.1",3.5,1.4,0.2]}`, 400, "must be JSON numbers"},
		{"null feature", "POST", "/predict", `{"features":[5.1,null,1.4,0.2]}`, 400, "must be JSON numbers"},
		{"bool feature", "POST", "/predict", `{"features":[5.1,true,1.4,0.2]}`, 400, "must be JSON numbers"},
		{"nested feature", "POST", "/predict", `{"features":[5.1,[3.5],1.4,0.2]}`, 400, "must be JSON numbers"},
		{"features not array", "POST", "/predict", `{"features":5.1}`, 400, "wrong type"},
		{"NaN literal", "POST", "/predict", `{"features":[NaN,3.5,1.4,0.2]}`, 400, "not valid JSON"},
		{"overflow", "POST", "/predict", `{"features":[5.1,3.5,1e999,0.2]}`, 400, "features[2] (petal_length) is not a finite number"},
		{"negative overflow", "POST", "/predict", `{"instances":[[5.1,3.5,1.4,0.2],[-1e400,3.5,1.4,0.2]]}`, 400, "instances[1][0] (sepal_length) is not a finite number"},
		{"scores overflow", "POST", "/predict", `{"features":[1e308,-1e308,1e308,-1e308]}`, 400, "too far outside"},
		{"too many instances", "POST", "/predict", tooMany, 400, "at most 1000"},
		{"GET predict", "GET", "/predict", "", 405, "use POST"},
		{"POST model", "POST", "/model", "{}", 405, "use GET"},
		{"DELETE healthz", "DELETE", "/healthz", "", 405, "use GET"},
		{"unknown path", "GET", "/v1/predict", "", 404, "no route GET /v1/predict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, tt.method, tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			msg := errorMessage(t, body)
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q, want it to contain %q", msg, tt.msg)
			}
			if tt.status == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
	if !strings.Contains(logs.String(), `"msg":"request refused"`) {
		t.Errorf("refusals were not logged: %s", logs)
	}
}

// errorMessage checks body is exactly the error shape and returns its
// message.
func errorMessage(t *testing.T, body []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var e errorBody
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s is not {\"error\":{\"message\":...}}: %v", body, err)
	}
	if e.Error.Message == "" {
		t.Fatalf("error body %s has no message", body)
	}
	return e.Error.Message
}

func TestBodyLimit(t *testing.T) {
	srv, _ := newTestServer(t)
	valid := `{"features":[5.1,3.5,1.4,0.2]}`
	tests := []struct {
		name   string
		size   int
		status int
	}{
		// Padding with trailing whitespace keeps the JSON valid, so the
		// size alone decides.
		{"exactly the limit", maxBodyBytes, http.StatusOK},
		{"one byte over", maxBodyBytes + 1, http.StatusRequestEntityTooLarge},
		{"far over", 4 * maxBodyBytes, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := valid + strings.Repeat(" ", tt.size-len(valid))
			resp, got := do(t, srv, http.MethodPost, "/predict", body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %.200s", resp.StatusCode, tt.status, got)
			}
			if tt.status != http.StatusOK {
				if msg := errorMessage(t, got); !strings.Contains(msg, "larger than 1048576 bytes") {
					t.Errorf("message %q", msg)
				}
			}
		})
	}
	t.Run("over the limit inside the object", func(t *testing.T) {
		body := `{"instances":[` + strings.Repeat(`[5.1,3.5,1.4,0.2],`, maxBodyBytes/18+1) + `[5.1,3.5,1.4,0.2]]}`
		resp, got := do(t, srv, http.MethodPost, "/predict", body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413; body %.200s", resp.StatusCode, got)
		}
	})
}

func FuzzDecodePredict(f *testing.F) {
	for _, s := range []string{
		`{"features":[5.1,3.5,1.4,0.2]}`,
		`{"instances":[[5.1,3.5,1.4,0.2],[1,2,3,4]]}`,
		`{"features":[1e999,0,0,0]}`,
		`{"features":["1",0,0,0]}`,
		`{"instances":[null]}`,
		`{"features":[1,2,3,4]} 5`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rows, err := decodePredict(bytes.NewReader(in))
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || re.status != http.StatusBadRequest || re.msg == "" {
				t.Fatalf("error %v is not a 400 with a message", err)
			}
			return
		}
		if len(rows) == 0 || len(rows) > maxInstances {
			t.Fatalf("%d rows accepted", len(rows))
		}
		for _, row := range rows {
			if len(row) != len(featureNames) {
				t.Fatalf("row %v accepted", row)
			}
			for _, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite %v accepted", v)
				}
			}
		}
	})
}

// lines is an io.Writer that hands each write, one slog record, to a
// channel so a test can wait for a log event instead of sleeping.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

func waitFor(t *testing.T, l lines, msg string) {
	t.Helper()
	for line := range l {
		if strings.Contains(line, `"msg":"`+msg+`"`) {
			return
		}
	}
}

func TestServeDrainsOnShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	logs := make(lines, 100)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, h, slog.New(slog.NewJSONHandler(logs, nil))) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	<-entered
	cancel()
	waitFor(t, logs, "shutting down")
	close(release)
	if g := <-got; g != "200 done" {
		t.Fatalf("request in flight during shutdown got %q, want 200 done", g)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve returned %v after a clean shutdown", err)
	}
	waitFor(t, logs, "stopped")
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepts after shutdown")
	}
}

func TestRun(t *testing.T) {
	t.Run("starts and stops", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out bytes.Buffer
		if err := run(ctx, []string{"-addr", "127.0.0.1:0"}, &out, fixedNow); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"msg":"model trained"`, `"held_out_accuracy":0.9`, `"test_rows":30`, `"msg":"listening"`, `"msg":"stopped"`} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("log lacks %s:\n%s", want, out.String())
			}
		}
		if strings.Contains(out.String(), "beyond loopback") {
			t.Errorf("loopback address was warned about:\n%s", out.String())
		}
	})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad flag", []string{"-port", "9000"}, "flag provided but not defined"},
		{"stray argument", []string{"serve"}, "unexpected arguments"},
		{"bad address", []string{"-addr", "127.0.0.1:notaport"}, "listen on 127.0.0.1:notaport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, &out, fixedNow)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, true},
		{&net.TCPAddr{IP: net.IPv6loopback}, true},
		{&net.TCPAddr{IP: net.IPv4zero}, false},
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 5)}, false},
		{&net.UnixAddr{Name: "sock", Net: "unix"}, false},
	}
	for _, tt := range tests {
		if got := isLoopback(tt.addr); got != tt.want {
			t.Errorf("isLoopback(%v) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}
