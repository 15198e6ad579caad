package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets from the issue. The latency ones are stated at targetRate.
const (
	targetRate          = 2000
	targetAddedP50      = 100 * time.Microsecond
	targetAddedP99      = time.Millisecond
	targetThroughputMin = 0.70
	targetSeqAdded      = 200 * time.Microsecond
)

// published are client-side added latencies other gateways report by the
// sequential method (median of round medians), for reference only: other
// hardware, other mocks, other request shapes.
var published = []struct {
	Name string  `json:"name"`
	MS   float64 `json:"added_ms"`
}{{"Bifrost", 0.44}, {"Portkey", 2.37}, {"LiteLLM", 4.34}}

// settings are the knobs of one harness run, echoed in the report.
type settings struct {
	Rate            float64       `json:"rate"`
	Duration        time.Duration `json:"duration_ns"`
	Warmup          time.Duration `json:"warmup_ns"`
	ClosedDuration  time.Duration `json:"closed_duration_ns"`
	Concurrency     int           `json:"concurrency"`
	Rounds          int           `json:"rounds"`
	Seq             int           `json:"seq"`
	Modes           []string      `json:"modes"`
	Chunks          int           `json:"chunks"`
	UpstreamLatency time.Duration `json:"upstream_latency_ns"`
	AccessLog       bool          `json:"access_log"`
	MaxInflight     int           `json:"max_inflight"`
}

// row is one target under one kind of load, as printed in the table.
// Durations are in microseconds.
type row struct {
	Target      string   `json:"target"`
	Mode        string   `json:"mode"` // plain or stream
	Load        string   `json:"load"` // open or closed
	OfferedRate float64  `json:"offered_rate,omitempty"`
	Concurrency int      `json:"concurrency,omitempty"`
	Requests    int      `json:"requests"`
	Errors      int      `json:"errors"`
	ErrorSample []string `json:"error_sample,omitempty"`
	RPS         float64  `json:"rps"`
	P50         float64  `json:"p50_us"`
	P90         float64  `json:"p90_us"`
	P99         float64  `json:"p99_us"`
	Max         float64  `json:"max_us"`
	// CPUPerReq is the whole process's CPU per request: load generator,
	// fake provider and the target together.
	CPUPerReq float64 `json:"cpu_per_req_us"`
	// OwnCPUPerReq is CPUPerReq minus the direct target's in the same mode
	// and load: the target's own cost. Nil for the direct target.
	OwnCPUPerReq *float64 `json:"own_cpu_per_req_us,omitempty"`
	// OtherCores is the CPU the rest of the machine used during the
	// phase, in cores; more than a little means the figures are skewed.
	OtherCores *float64 `json:"other_cores,omitempty"`
	// SendLagP50 and SendLagP99 show how late the open-loop generator sent
	// (already included in the latencies).
	SendLagP50 float64 `json:"send_lag_p50_us,omitempty"`
	SendLagP99 float64 `json:"send_lag_p99_us,omitempty"`
}

// seqResult is the sequential added-latency measurement for one mode.
type seqResult struct {
	Mode     string `json:"mode"`
	Rounds   int    `json:"rounds"`
	PerRound int    `json:"per_round"`
	// RoundMedians and MedianOfMedians are by target, in microseconds.
	RoundMedians    map[string][]float64 `json:"round_medians_us"`
	MedianOfMedians map[string]float64   `json:"median_of_medians_us"`
	Errors          map[string]int       `json:"errors"`
	AddedVsDirect   float64              `json:"added_vs_direct_us"`
	AddedVsBare     float64              `json:"added_vs_bare_us"`
	// OtherCores is the CPU other processes used during the rounds.
	OtherCores *float64 `json:"other_cores,omitempty"`
}

// derived are the comparisons drawn from the rows of one mode.
type derived struct {
	Mode             string  `json:"mode"`
	Rate             float64 `json:"rate"`
	AddedP50VsDirect float64 `json:"added_p50_vs_direct_us"`
	AddedP99VsDirect float64 `json:"added_p99_vs_direct_us"`
	AddedP50VsBare   float64 `json:"added_p50_vs_bare_us"`
	AddedP99VsBare   float64 `json:"added_p99_vs_bare_us"`
	ThroughputRatio  float64 `json:"throughput_ratio_warden_bare"`
	// Own CPU per request at the open-loop rate, and Warden's over the
	// bare proxy's.
	CPUWarden float64 `json:"cpu_warden_us"`
	CPUBare   float64 `json:"cpu_bare_us"`
	CPURatio  float64 `json:"cpu_ratio_warden_bare"`
}

// verdict is one issue target checked against one figure.
type verdict struct {
	Mode   string  `json:"mode"`
	Target string  `json:"target"`
	Basis  string  `json:"basis"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Unit   string  `json:"unit"` // us or ratio
	Pass   bool    `json:"pass"`
	// Reliable is false when other processes used more than noisyCores
	// during a phase the figure comes from: then the verdict says little
	// either way.
	Reliable bool `json:"reliable"`
}

// report is everything one harness run found.
type report struct {
	GoVersion  string      `json:"go_version"`
	GOMAXPROCS int         `json:"gomaxprocs"`
	NumCPU     int         `json:"num_cpu"`
	Settings   settings    `json:"settings"`
	RequestLen int         `json:"request_bytes"`
	Rows       []row       `json:"rows"`
	Sequential []seqResult `json:"sequential"`
	Derived    []derived   `json:"derived"`
	Targets    []verdict   `json:"targets"`
	// CPUMeasured is false where the platform has no getrusage; the CPU
	// columns are then zero.
	CPUMeasured bool `json:"cpu_measured"`
	Published   any  `json:"published_sequential_added_ms"`
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, or 0 when it is empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// median is the middle of xs (the mean of the two middle values for an
// even count), or 0 for none. xs is not changed.
func median(xs []time.Duration) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// newRow summarises a run.
func newRow(target, mode, load string, r run) row {
	lat := slices.Clone(r.latencies)
	slices.Sort(lat)
	out := row{
		Target: target, Mode: mode, Load: load,
		Requests: r.requests, Errors: r.errors, ErrorSample: r.errorMsgs,
		P50: us(percentile(lat, 50)), P90: us(percentile(lat, 90)),
		P99: us(percentile(lat, 99)), Max: us(percentile(lat, 100)),
	}
	if r.elapsed > 0 {
		out.RPS = float64(len(r.latencies)) / r.elapsed.Seconds()
	}
	if r.requests > 0 && r.cpuOK {
		out.CPUPerReq = us(r.cpu) / float64(r.requests)
	}
	if r.othersOK && r.elapsed > 0 {
		c := r.others.Seconds() / r.elapsed.Seconds()
		out.OtherCores = &c
	}
	if len(r.sendLag) > 0 {
		lag := slices.Clone(r.sendLag)
		slices.Sort(lag)
		out.SendLagP50, out.SendLagP99 = us(percentile(lag, 50)), us(percentile(lag, 99))
	}
	return out
}

// findRow returns the row for target, mode and load.
func (rep *report) findRow(target, mode, load string) (row, bool) {
	for _, r := range rep.Rows {
		if r.Target == target && r.Mode == mode && r.Load == load {
			return r, true
		}
	}
	return row{}, false
}

// derive fills OwnCPUPerReq, Derived and Targets from the rows and the
// sequential results.
func (rep *report) derive() {
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if r.Target == targetDirect || !rep.CPUMeasured {
			continue
		}
		if d, ok := rep.findRow(targetDirect, r.Mode, r.Load); ok {
			own := r.CPUPerReq - d.CPUPerReq
			r.OwnCPUPerReq = &own
		}
	}
	rep.Derived, rep.Targets = nil, nil
	for _, mode := range rep.Settings.Modes {
		d := derived{Mode: mode, Rate: rep.Settings.Rate}
		dir, ok1 := rep.findRow(targetDirect, mode, "open")
		bare, ok2 := rep.findRow(targetBare, mode, "open")
		wd, ok3 := rep.findRow(targetWarden, mode, "open")
		if ok1 && ok2 && ok3 {
			d.AddedP50VsDirect, d.AddedP99VsDirect = wd.P50-dir.P50, wd.P99-dir.P99
			d.AddedP50VsBare, d.AddedP99VsBare = wd.P50-bare.P50, wd.P99-bare.P99
			if wd.OwnCPUPerReq != nil && bare.OwnCPUPerReq != nil {
				d.CPUWarden, d.CPUBare = *wd.OwnCPUPerReq, *bare.OwnCPUPerReq
				if d.CPUBare > 0 {
					d.CPURatio = d.CPUWarden / d.CPUBare
				}
			}
		}
		cb, ok4 := rep.findRow(targetBare, mode, "closed")
		cw, ok5 := rep.findRow(targetWarden, mode, "closed")
		if ok4 && ok5 && cb.RPS > 0 {
			d.ThroughputRatio = cw.RPS / cb.RPS
		}
		rep.Derived = append(rep.Derived, d)

		check := func(name, basis string, value float64, limit time.Duration, from ...*float64) {
			rep.Targets = append(rep.Targets, verdict{Mode: mode, Target: name, Basis: basis,
				Value: value, Limit: us(limit), Unit: "us", Pass: value < us(limit), Reliable: quiet(from...)})
		}
		if ok1 && ok2 && ok3 {
			check("added p50 < 100µs @ 2000 req/s", "vs direct", d.AddedP50VsDirect, targetAddedP50, wd.OtherCores, dir.OtherCores)
			check("added p50 < 100µs @ 2000 req/s", "vs bare proxy", d.AddedP50VsBare, targetAddedP50, wd.OtherCores, bare.OtherCores)
			check("added p99 < 1ms @ 2000 req/s", "vs direct", d.AddedP99VsDirect, targetAddedP99, wd.OtherCores, dir.OtherCores)
			check("added p99 < 1ms @ 2000 req/s", "vs bare proxy", d.AddedP99VsBare, targetAddedP99, wd.OtherCores, bare.OtherCores)
		}
		if ok4 && ok5 {
			rep.Targets = append(rep.Targets, verdict{Mode: mode, Target: "throughput >= 70% of bare proxy",
				Basis: "closed loop", Value: d.ThroughputRatio, Limit: targetThroughputMin, Unit: "ratio",
				Pass: d.ThroughputRatio >= targetThroughputMin, Reliable: quiet(cw.OtherCores, cb.OtherCores)})
		}
		for _, s := range rep.Sequential {
			if s.Mode == mode {
				check("sequential added < 0.2ms", "vs direct", s.AddedVsDirect, targetSeqAdded, s.OtherCores)
				check("sequential added < 0.2ms", "vs bare proxy", s.AddedVsBare, targetSeqAdded, s.OtherCores)
			}
		}
	}
}

// quiet reports whether none of the phases a figure comes from had other
// load above noisyCores (an unknown load counts as quiet: the report
// says where it could not be measured).
func quiet(others ...*float64) bool {
	for _, o := range others {
		if o != nil && *o > noisyCores {
			return false
		}
	}
	return true
}

// fmtUS prints microseconds as µs below a millisecond and ms above.
func fmtUS(v float64) string {
	if math.Abs(v) < 1000 {
		return fmt.Sprintf("%.0fµs", v)
	}
	return fmt.Sprintf("%.2fms", v/1000)
}

// noisyCores is the other load above which the report warns.
const noisyCores = 0.1

func fmtCores(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *v)
}

// busiestNeighbour is the highest other load seen in any phase.
func (rep *report) busiestNeighbour() float64 {
	var m float64
	for _, r := range rep.Rows {
		if r.OtherCores != nil {
			m = max(m, *r.OtherCores)
		}
	}
	for _, s := range rep.Sequential {
		if s.OtherCores != nil {
			m = max(m, *s.OtherCores)
		}
	}
	return m
}

func fmtCPU(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmtUS(*v)
}

func passMiss(v verdict) string {
	s := "MISS"
	if v.Pass {
		s = "PASS"
	}
	if !v.Reliable {
		s += "?"
	}
	return s
}

// writeText prints the report for people.
func (rep *report) writeText(w io.Writer) error {
	s := rep.Settings
	fmt.Fprintf(w, "Warden gateway overhead — %s, GOMAXPROCS=%d (%d CPUs), loopback, fake provider (latency %s, %d stream chunks), request %d bytes, access log %v\n",
		rep.GoVersion, rep.GOMAXPROCS, rep.NumCPU, s.UpstreamLatency, s.Chunks, rep.RequestLen, onOff(s.AccessLog))
	fmt.Fprintf(w, "open loop: %.0f req/s for %s after %s warm-up; closed loop: %d workers for %s; sequential: %d rounds x %d requests\n\n",
		s.Rate, s.Duration, s.Warmup, s.Concurrency, s.ClosedDuration, s.Rounds, s.Seq)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tmode\treq/s\tp50\tp90\tp99\tmax\terrors\tcpu/req\town cpu/req\tother load\t")
	for _, r := range rep.Rows {
		load := fmt.Sprintf("open@%.0f", r.OfferedRate)
		if r.Load == "closed" {
			load = fmt.Sprintf("closed c=%d", r.Concurrency)
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t\n", r.Target, r.Mode, load, r.RPS,
			fmtUS(r.P50), fmtUS(r.P90), fmtUS(r.P99), fmtUS(r.Max), r.Errors, fmtUS(r.CPUPerReq), fmtCPU(r.OwnCPUPerReq), fmtCores(r.OtherCores))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "cpu/req is the whole process (load generator + fake + target); own cpu/req subtracts the direct run of the same mode and load;")
	fmt.Fprintln(w, "other load is CPU (in cores) that other processes on the machine used during the phase.")
	if busy := rep.busiestNeighbour(); busy > noisyCores {
		fmt.Fprintf(w, "WARNING: other processes used up to %.2f cores during a phase; the figures are skewed by that — rerun on a quiet machine.\n", busy)
	}
	for _, r := range rep.Rows {
		if r.Load == "open" {
			fmt.Fprintf(w, "  send lag %s %s: p50 %s p99 %s (late sends are in the latencies)\n", r.Target, r.Mode, fmtUS(r.SendLagP50), fmtUS(r.SendLagP99))
		}
		for _, e := range r.ErrorSample {
			fmt.Fprintf(w, "  error %s %s %s: %s\n", r.Target, r.Mode, r.Load, e)
		}
	}

	fmt.Fprintln(w, "\nDerived")
	for _, d := range rep.Derived {
		fmt.Fprintf(w, "  %s @ %.0f req/s: Warden added p50 %s / p99 %s vs bare proxy, p50 %s / p99 %s vs direct\n",
			d.Mode, d.Rate, fmtUS(d.AddedP50VsBare), fmtUS(d.AddedP99VsBare), fmtUS(d.AddedP50VsDirect), fmtUS(d.AddedP99VsDirect))
		fmt.Fprintf(w, "  %s: throughput Warden/bare (closed loop) %.2f; own CPU/req Warden %s, bare %s, ratio %.2f\n",
			d.Mode, d.ThroughputRatio, fmtUS(d.CPUWarden), fmtUS(d.CPUBare), d.CPURatio)
	}
	for _, sq := range rep.Sequential {
		m := sq.MedianOfMedians
		fmt.Fprintf(w, "  %s sequential (median of %d round medians, %d requests each): direct %s, bare %s, Warden %s; Warden−direct %s, Warden−bare %s (other load %s)\n",
			sq.Mode, sq.Rounds, sq.PerRound, fmtUS(m[targetDirect]), fmtUS(m[targetBare]), fmtUS(m[targetWarden]),
			fmtUS(sq.AddedVsDirect), fmtUS(sq.AddedVsBare), fmtCores(sq.OtherCores))
	}
	var pub []string
	for _, p := range published {
		pub = append(pub, fmt.Sprintf("%s %.2fms", p.Name, p.MS))
	}
	fmt.Fprintf(w, "  published sequential added latency (other hardware and mocks): %s\n", strings.Join(pub, ", "))

	fmt.Fprintln(w, "\nTargets from the issue")
	if s.Rate != targetRate {
		fmt.Fprintf(w, "  (latency targets are stated at %d req/s; this run offered %.0f req/s)\n", targetRate, s.Rate)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  mode\ttarget\tbasis\tmeasured\tverdict")
	noisy := false
	for _, v := range rep.Targets {
		val := fmtUS(v.Value)
		if v.Unit == "ratio" {
			val = fmt.Sprintf("%.1f%%", v.Value*100)
		}
		noisy = noisy || !v.Reliable
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", v.Mode, v.Target, v.Basis, val, passMiss(v))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if noisy {
		fmt.Fprintf(w, "  ? other processes used more than %.2f cores during a phase behind this figure: it says little either way; rerun on a quiet machine\n", noisyCores)
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// writeJSON prints the report for machines.
func (rep *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
