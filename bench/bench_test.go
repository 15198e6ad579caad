package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The benchmarks share one rig, so that running them in one `go test
// -bench` invocation compares the three targets on the same fake, the
// same process and the same machine state.
var (
	rigOnce   sync.Once
	sharedRig *rig
	errRig    error
)

func benchRig(b *testing.B) *rig {
	b.Helper()
	rigOnce.Do(func() {
		sharedRig, errRig = startRig(context.Background(), rigOptions{Chunks: 20, AccessLog: true})
	})
	if errRig != nil {
		b.Fatal(errRig)
	}
	return sharedRig
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedRig != nil {
		if err := sharedRig.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close the benchmark rig:", err)
		}
	}
	os.Exit(code)
}

// benchTarget runs plain and streamed calls against one target from
// parallel clients. ns/op is the inverse of throughput; allocs/op and
// cpu-ns/op are for the whole process (client and fake included), so
// compare them across targets rather than read them alone.
func benchTarget(b *testing.B, name string) {
	rg := benchRig(b)
	for _, mode := range []string{"plain", "stream"} {
		b.Run(mode, func(b *testing.B) {
			stream := mode == "stream"
			c := &caller{t: rg.target(name), client: loadClient(256), body: chatBody(stream), stream: stream}
			defer c.client.CloseIdleConnections()
			ctx := context.Background()
			if err := c.do(ctx); err != nil {
				b.Fatalf("first call to %s: %v", name, err)
			}
			b.ReportAllocs()
			b.SetParallelism(8)
			cpu0, cpuOK := processCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.do(ctx); err != nil {
						b.Errorf("call to %s: %v", name, err)
						return
					}
				}
			})
			b.StopTimer()
			if cpu1, _ := processCPU(); cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

func BenchmarkDirect(b *testing.B)    { benchTarget(b, targetDirect) }
func BenchmarkBareProxy(b *testing.B) { benchTarget(b, targetBare) }
func BenchmarkWarden(b *testing.B)    { benchTarget(b, targetWarden) }

// syncBuffer is a bytes.Buffer that the server's goroutines can log to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHarnessSmoke runs every phase briefly at a low rate and checks that
// the report is complete, error-free and free of credentials.
func TestHarnessSmoke(t *testing.T) {
	var logs syncBuffer
	ctx := context.Background()
	rg, err := startRig(ctx, rigOptions{Chunks: 3, AccessLog: true, Log: &logs})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := rg.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	s := settings{
		Rate: 200, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond,
		ClosedDuration: 200 * time.Millisecond, Concurrency: 4, Rounds: 2, Seq: 10,
		Modes: []string{"plain", "stream"}, Chunks: 3, AccessLog: true, MaxInflight: 64,
	}
	rep, err := measure(ctx, rg, s, io.Discard)
	if err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	for _, r := range rep.Rows {
		key := r.Target + "/" + r.Mode + "/" + r.Load
		if seen[key] {
			t.Errorf("row %s appears twice", key)
		}
		seen[key] = true
		if r.Errors != 0 || r.Requests == 0 {
			t.Errorf("row %s: %d requests, %d errors %v", key, r.Requests, r.Errors, r.ErrorSample)
		}
		if r.Load == "open" && r.Requests != 40 {
			t.Errorf("row %s: %d requests at 200 req/s for 200ms; want 40", key, r.Requests)
		}
		if !(r.RPS > 0 && r.P50 > 0 && r.P50 <= r.P90 && r.P90 <= r.P99 && r.P99 <= r.Max) {
			t.Errorf("row %s: figures out of order: %+v", key, r)
		}
		if rep.CPUMeasured && (r.CPUPerReq <= 0 || (r.Target != targetDirect) != (r.OwnCPUPerReq != nil)) {
			t.Errorf("row %s: CPU per request missing: %+v", key, r)
		}
	}
	for _, target := range []string{targetDirect, targetBare, targetWarden} {
		for _, mode := range s.Modes {
			for _, load := range []string{"open", "closed"} {
				if !seen[target+"/"+mode+"/"+load] {
					t.Errorf("no row for %s/%s/%s", target, mode, load)
				}
			}
		}
	}
	if len(rep.Sequential) != len(s.Modes) {
		t.Fatalf("%d sequential results; want %d", len(rep.Sequential), len(s.Modes))
	}
	for _, sq := range rep.Sequential {
		for _, target := range []string{targetDirect, targetBare, targetWarden} {
			if sq.MedianOfMedians[target] <= 0 || len(sq.RoundMedians[target]) != s.Rounds || sq.Errors[target] != 0 {
				t.Errorf("sequential %s %s: median %v, rounds %v, errors %d", sq.Mode, target,
					sq.MedianOfMedians[target], sq.RoundMedians[target], sq.Errors[target])
			}
		}
	}
	if len(rep.Derived) != len(s.Modes) {
		t.Fatalf("%d derived results; want %d", len(rep.Derived), len(s.Modes))
	}
	for _, d := range rep.Derived {
		if d.ThroughputRatio <= 0 {
			t.Errorf("%s: no throughput ratio", d.Mode)
		}
	}
	if want := 7 * len(s.Modes); len(rep.Targets) != want {
		t.Errorf("%d target verdicts; want %d", len(rep.Targets), want)
	}

	var text, js bytes.Buffer
	if err := rep.writeText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{targetDirect, targetBare, targetWarden, "Derived", "Targets from the issue", "sequential"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	if n := strings.Count(text.String(), " PASS") + strings.Count(text.String(), " MISS"); n != len(rep.Targets) {
		t.Errorf("text report has %d verdicts; want %d", n, len(rep.Targets))
	}
	var back report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not parse: %v", err)
	}
	if len(back.Rows) != len(rep.Rows) || len(back.Targets) != len(rep.Targets) {
		t.Errorf("JSON report lost rows or targets")
	}

	// The access log proves Warden saw the traffic; neither credential may
	// show up there or in either report.
	if !strings.Contains(logs.String(), `"request_id"`) {
		t.Error("Warden logged no requests")
	}
	for name, out := range map[string]string{"text report": text.String(), "JSON report": js.String(), "Warden's log": logs.String()} {
		for what, key := range map[string]string{"provider key": rg.providerKey, "virtual key": rg.virtualKey} {
			if key == "" || strings.Contains(out, key) {
				t.Errorf("%s contains the %s (or the key is empty)", name, what)
			}
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"median of even is the lower", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p90 of 100", hundred, 90, 90 * time.Millisecond},
		{"max", hundred, 100, 100 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := percentile(c.sorted, c.p); got != c.want {
				t.Errorf("percentile(%v) = %v; want %v", c.p, got, c.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"empty", nil, 0},
		{"odd, unsorted", []time.Duration{5, 1, 3}, 3},
		{"even averages the middle two", []time.Duration{4, 1, 3, 2}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := append([]time.Duration(nil), c.in...)
			if got := median(c.in); got != c.want {
				t.Errorf("median(%v) = %v; want %v", c.in, got, c.want)
			}
			for i := range before {
				if before[i] != c.in[i] {
					t.Fatalf("median reordered its input")
				}
			}
		})
	}
}

func TestChatBody(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			b := chatBody(stream)
			if len(b) < requestBytes || len(b) > requestBytes+200 {
				t.Errorf("body is %d bytes; want about %d", len(b), requestBytes)
			}
			var req struct {
				Model  string `json:"model"`
				Stream bool   `json:"stream"`
			}
			if err := json.Unmarshal(b, &req); err != nil {
				t.Fatal(err)
			}
			if req.Model != benchModel || req.Stream != stream {
				t.Errorf("model %q stream %v; want %q %v", req.Model, req.Stream, benchModel, stream)
			}
		})
	}
}

// TestDerive checks the comparisons and the verdicts at their edges.
func TestDerive(t *testing.T) {
	own := func(v float64) *float64 { return &v }
	rows := func(wardenP50, wardenP99, wardenRPS float64) []row {
		return []row{
			{Target: targetDirect, Mode: "plain", Load: "open", P50: 200, P99: 1000, CPUPerReq: 300},
			{Target: targetBare, Mode: "plain", Load: "open", P50: 250, P99: 1200, CPUPerReq: 400},
			{Target: targetWarden, Mode: "plain", Load: "open", P50: wardenP50, P99: wardenP99, CPUPerReq: 500},
			{Target: targetDirect, Mode: "plain", Load: "closed", RPS: 10000, CPUPerReq: 100},
			{Target: targetBare, Mode: "plain", Load: "closed", RPS: 5000, CPUPerReq: 200},
			{Target: targetWarden, Mode: "plain", Load: "closed", RPS: wardenRPS, CPUPerReq: 300},
		}
	}
	seq := func(added float64) []seqResult {
		return []seqResult{{Mode: "plain", AddedVsDirect: added, AddedVsBare: added - 50}}
	}
	cases := []struct {
		name string
		rows []row
		seq  []seqResult
		want map[string]bool // target/basis → pass
	}{
		{
			name: "all within",
			rows: rows(290, 1500, 4000), seq: seq(150),
			want: map[string]bool{
				"added p50 < 100µs @ 2000 req/s/vs direct": true, "added p50 < 100µs @ 2000 req/s/vs bare proxy": true,
				"added p99 < 1ms @ 2000 req/s/vs direct": true, "added p99 < 1ms @ 2000 req/s/vs bare proxy": true,
				"throughput >= 70% of bare proxy/closed loop": true,
				"sequential added < 0.2ms/vs direct":          true, "sequential added < 0.2ms/vs bare proxy": true,
			},
		},
		{
			name: "exactly at the limits misses latency, meets throughput",
			rows: rows(300, 2000, 3500), seq: seq(200),
			want: map[string]bool{
				"added p50 < 100µs @ 2000 req/s/vs direct": false, "added p50 < 100µs @ 2000 req/s/vs bare proxy": true,
				"added p99 < 1ms @ 2000 req/s/vs direct": false, "added p99 < 1ms @ 2000 req/s/vs bare proxy": true,
				"throughput >= 70% of bare proxy/closed loop": true,
				"sequential added < 0.2ms/vs direct":          false, "sequential added < 0.2ms/vs bare proxy": true,
			},
		},
		{
			name: "slow and starved",
			rows: rows(400, 3000, 3000), seq: seq(900),
			want: map[string]bool{
				"added p50 < 100µs @ 2000 req/s/vs direct": false, "added p50 < 100µs @ 2000 req/s/vs bare proxy": false,
				"added p99 < 1ms @ 2000 req/s/vs direct": false, "added p99 < 1ms @ 2000 req/s/vs bare proxy": false,
				"throughput >= 70% of bare proxy/closed loop": false,
				"sequential added < 0.2ms/vs direct":          false, "sequential added < 0.2ms/vs bare proxy": false,
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := &report{Settings: settings{Rate: 2000, Modes: []string{"plain"}}, Rows: c.rows, Sequential: c.seq, CPUMeasured: true}
			rep.derive()
			if len(rep.Targets) != len(c.want) {
				t.Fatalf("%d verdicts; want %d", len(rep.Targets), len(c.want))
			}
			for _, v := range rep.Targets {
				if want, ok := c.want[v.Target+"/"+v.Basis]; !ok || v.Pass != want {
					t.Errorf("%s %s: pass=%v (value %v); want %v", v.Target, v.Basis, v.Pass, v.Value, want)
				}
			}
			d := rep.Derived[0]
			if d.CPUWarden != 200 || d.CPUBare != 100 || d.CPURatio != 2 {
				t.Errorf("CPU: Warden %v bare %v ratio %v; want 200, 100, 2", d.CPUWarden, d.CPUBare, d.CPURatio)
			}
			if w, _ := rep.findRow(targetWarden, "plain", "closed"); w.OwnCPUPerReq == nil || *w.OwnCPUPerReq != *own(200) {
				t.Errorf("own CPU of Warden closed loop: %v; want 200", w.OwnCPUPerReq)
			}
		})
	}
}

// TestNoisyVerdicts checks that a busy neighbour during a phase marks the
// verdicts drawn from that phase, and only those, as unreliable.
func TestNoisyVerdicts(t *testing.T) {
	busy, calm := 0.5, 0.01
	rep := &report{Settings: settings{Rate: 2000, Modes: []string{"plain"}}, CPUMeasured: true,
		Rows: []row{
			{Target: targetDirect, Mode: "plain", Load: "open", P50: 200, OtherCores: &busy},
			{Target: targetBare, Mode: "plain", Load: "open", P50: 250, OtherCores: &calm},
			{Target: targetWarden, Mode: "plain", Load: "open", P50: 260, OtherCores: &calm},
			{Target: targetBare, Mode: "plain", Load: "closed", RPS: 100, OtherCores: &calm},
			{Target: targetWarden, Mode: "plain", Load: "closed", RPS: 90},
		},
		Sequential: []seqResult{{Mode: "plain", AddedVsDirect: 10, AddedVsBare: 5, OtherCores: &busy}},
	}
	rep.derive()
	want := map[string]bool{
		"added p50 < 100µs @ 2000 req/s/vs direct": false, "added p50 < 100µs @ 2000 req/s/vs bare proxy": true,
		"added p99 < 1ms @ 2000 req/s/vs direct": false, "added p99 < 1ms @ 2000 req/s/vs bare proxy": true,
		"throughput >= 70% of bare proxy/closed loop": true,
		"sequential added < 0.2ms/vs direct":          false, "sequential added < 0.2ms/vs bare proxy": false,
	}
	if len(rep.Targets) != len(want) {
		t.Fatalf("%d verdicts; want %d", len(rep.Targets), len(want))
	}
	for _, v := range rep.Targets {
		if r, ok := want[v.Target+"/"+v.Basis]; !ok || v.Reliable != r {
			t.Errorf("%s %s: reliable=%v; want %v", v.Target, v.Basis, v.Reliable, r)
		}
	}
	var text bytes.Buffer
	if err := rep.writeText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "PASS?") || !strings.Contains(text.String(), "rerun on a quiet machine") {
		t.Errorf("text report does not flag the noisy verdicts:\n%s", text.String())
	}
}

func TestFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown mode", []string{"-mode", "both"}, "use all, plain or stream"},
		{"zero rate", []string{"-rate", "0"}, "-rate must be positive"},
		{"every problem at once", []string{"-rate", "-1", "-seq", "0"}, "-seq"},
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := cmd(c.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit code %d; want 2", code)
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), c.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed a report: %q", stdout.String())
			}
		})
	}
}
