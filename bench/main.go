// Command bench measures what Warden's gateway costs on top of the
// upstream call, in one process on loopback against the fake provider.
//
// It runs three targets, each on its own server: the fake provider called
// directly, a bare httputil.ReverseProxy in front of it, and Warden wired
// as warden serve wires it (SQLite store, vault, virtual key, router,
// RequestID and the access log). For plain and streamed chat completions
// it measures
//
//   - open-loop latency at a constant rate, from each request's intended
//     send time (so a stall is charged to every request it delayed);
//   - closed-loop throughput with a fixed number of workers;
//   - sequential client-side added latency: rounds of back-to-back
//     requests, the median of the round medians;
//   - process CPU per request, with the direct run as the calibration that
//     removes the load generator's and the fake's share.
//
// and checks the figures against the targets from the issue.
//
// Usage:
//
//	go run ./bench [-rate 2000] [-duration 10s] [-concurrency 64] [-rounds 5] [-seq 500] [-mode all|plain|stream] [-json]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"time"
)

func main() {
	os.Exit(cmd(os.Args[1:], os.Stdout, os.Stderr))
}

// cmd runs the harness with args and returns the exit code.
func cmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s := settings{}
	mode := fs.String("mode", "all", "which calls to measure: all, plain or stream")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Float64Var(&s.Rate, "rate", targetRate, "open-loop rate in requests per second")
	fs.DurationVar(&s.Duration, "duration", 10*time.Second, "length of each open-loop measurement")
	fs.DurationVar(&s.Warmup, "warmup", time.Second, "warm-up before each open- and closed-loop measurement")
	fs.DurationVar(&s.ClosedDuration, "closed-duration", 5*time.Second, "length of each closed-loop measurement")
	fs.IntVar(&s.Concurrency, "concurrency", 64, "closed-loop workers")
	fs.IntVar(&s.Rounds, "rounds", 5, "sequential rounds")
	fs.IntVar(&s.Seq, "seq", 500, "sequential requests per round and target")
	fs.IntVar(&s.Chunks, "chunks", 20, "content chunks per streamed reply")
	fs.DurationVar(&s.UpstreamLatency, "upstream-latency", 0, "the fake provider's wait before answering")
	fs.BoolVar(&s.AccessLog, "accesslog", true, "put Warden's access log (JSON, info level, formatted but discarded) in front, as warden serve does")
	fs.IntVar(&s.MaxInflight, "max-inflight", 4096, "open-loop bound on outstanding requests")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	switch *mode {
	case "all":
		s.Modes = []string{"plain", "stream"}
	case "plain", "stream":
		s.Modes = []string{*mode}
	default:
		fmt.Fprintf(stderr, "bench: -mode is %q; use all, plain or stream\n", *mode)
		return 2
	}
	if err := s.check(); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rg, err := startRig(ctx, rigOptions{Latency: s.UpstreamLatency, Chunks: s.Chunks, AccessLog: s.AccessLog})
	if err != nil {
		fmt.Fprintf(stderr, "bench: start the targets: %v\n", err)
		return 1
	}
	rep, err := measure(ctx, rg, s, stderr)
	if cerr := rg.Close(); cerr != nil {
		fmt.Fprintf(stderr, "bench: shut the targets down: %v\n", cerr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if *asJSON {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: write the report: %v\n", err)
		return 1
	}
	return 0
}

// check reports every unusable setting at once.
func (s settings) check() error {
	var errs []error
	if s.Rate <= 0 {
		errs = append(errs, fmt.Errorf("-rate must be positive, got %g", s.Rate))
	}
	if s.Duration <= 0 || s.ClosedDuration <= 0 {
		errs = append(errs, errors.New("-duration and -closed-duration must be positive"))
	}
	if s.Warmup < 0 || s.UpstreamLatency < 0 {
		errs = append(errs, errors.New("-warmup and -upstream-latency must not be negative"))
	}
	if s.Concurrency < 1 || s.Rounds < 1 || s.Seq < 1 || s.MaxInflight < 1 || s.Chunks < 1 {
		errs = append(errs, errors.New("-concurrency, -rounds, -seq, -max-inflight and -chunks must be at least 1"))
	}
	return errors.Join(errs...)
}

// measure runs every phase against every target and builds the report.
// Within a phase the targets run one after another in the same order, each
// with its own client, so that they see the same machine state as far as
// one process allows. Progress goes to progress.
func measure(ctx context.Context, rg *rig, s settings, progress io.Writer) (*report, error) {
	rep := &report{
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		Settings: s, Published: published,
	}
	_, rep.CPUMeasured = processCPU()
	idle := max(2*s.Concurrency, 256)
	for _, mode := range s.Modes {
		stream := mode == "stream"
		body := chatBody(stream)
		if !stream {
			rep.RequestLen = len(body)
		}
		callers := make([]*caller, len(rg.targets))
		for i, t := range rg.targets {
			callers[i] = &caller{t: t, client: loadClient(idle), body: body, stream: stream}
		}

		for _, c := range callers {
			fmt.Fprintf(progress, "%s open loop %s: %.0f req/s for %s\n", mode, c.t.name, s.Rate, s.Duration)
			if s.Warmup > 0 {
				if _, err := openLoop(ctx, c, s.Rate, s.Warmup, s.MaxInflight); err != nil {
					return nil, err
				}
			}
			res, err := openLoop(ctx, c, s.Rate, s.Duration, s.MaxInflight)
			if err != nil {
				return nil, err
			}
			r := newRow(c.t.name, mode, "open", res)
			r.OfferedRate = s.Rate
			rep.Rows = append(rep.Rows, r)
		}
		for _, c := range callers {
			fmt.Fprintf(progress, "%s closed loop %s: %d workers for %s\n", mode, c.t.name, s.Concurrency, s.ClosedDuration)
			if s.Warmup > 0 {
				closedLoop(ctx, c, s.Concurrency, s.Warmup)
			}
			r := newRow(c.t.name, mode, "closed", closedLoop(ctx, c, s.Concurrency, s.ClosedDuration))
			r.Concurrency = s.Concurrency
			rep.Rows = append(rep.Rows, r)
		}

		fmt.Fprintf(progress, "%s sequential: %d rounds x %d requests per target\n", mode, s.Rounds, s.Seq)
		sq := seqResult{Mode: mode, Rounds: s.Rounds, PerRound: s.Seq,
			RoundMedians: map[string][]float64{}, MedianOfMedians: map[string]float64{}, Errors: map[string]int{}}
		for _, c := range callers {
			sequential(ctx, c, min(s.Seq, 100)) // warm the connection and caches
		}
		medians := map[string][]time.Duration{}
		m := startMeter()
		var whole run
		start := time.Now()
		for range s.Rounds {
			runtime.GC()
			for _, c := range callers {
				r := sequential(ctx, c, s.Seq)
				m := median(r.latencies)
				medians[c.t.name] = append(medians[c.t.name], m)
				sq.RoundMedians[c.t.name] = append(sq.RoundMedians[c.t.name], us(m))
				sq.Errors[c.t.name] += r.errors
			}
		}
		whole.elapsed = time.Since(start)
		m.stop(&whole)
		if whole.othersOK {
			c := whole.others.Seconds() / whole.elapsed.Seconds()
			sq.OtherCores = &c
		}
		for name, ms := range medians {
			sq.MedianOfMedians[name] = us(median(ms))
		}
		sq.AddedVsDirect = sq.MedianOfMedians[targetWarden] - sq.MedianOfMedians[targetDirect]
		sq.AddedVsBare = sq.MedianOfMedians[targetWarden] - sq.MedianOfMedians[targetBare]
		rep.Sequential = append(rep.Sequential, sq)

		for _, c := range callers {
			c.client.CloseIdleConnections()
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("interrupted: %w", err)
		}
	}
	rep.derive()
	return rep, nil
}
