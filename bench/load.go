package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// requestTimeout bounds one request of the load generator; a target that
// takes longer is counted as failing, not waited for.
const requestTimeout = 10 * time.Second

// requestBytes is the target size of a plain request body: a typical chat
// turn with a system prompt.
const requestBytes = 2048

// chatBody returns an OpenAI chat completions request of about
// requestBytes bytes, streamed or not.
func chatBody(stream bool) []byte {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	req := struct {
		Model       string    `json:"model"`
		Messages    []message `json:"messages"`
		Temperature float64   `json:"temperature"`
		MaxTokens   int       `json:"max_tokens"`
		Stream      bool      `json:"stream,omitempty"`
	}{
		Model:       benchModel,
		Temperature: 0.2,
		MaxTokens:   256,
		Stream:      stream,
		Messages: []message{
			{Role: "system", Content: "You are a careful assistant. Answer briefly and cite the passage you relied on."},
			{Role: "user", Content: ""},
		},
	}
	const words = "the quarterly report shows revenue growth in every region while costs stayed flat and margins widened "
	var sb strings.Builder
	for {
		b, _ := json.Marshal(req)
		if len(b) >= requestBytes {
			return b
		}
		sb.WriteString(words)
		req.Messages[1].Content = "Summarise this passage: " + sb.String()
	}
}

// loadClient is the load generator's own HTTP client: keep-alive, with an
// idle pool large enough that no request has to dial during a run.
func loadClient(idle int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// caller sends one kind of request to one target.
type caller struct {
	t      target
	client *http.Client
	body   []byte
	stream bool
}

var readBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// errIncomplete marks a 200 response that did not end the way a complete
// one does.
var errIncomplete = errors.New("incomplete response")

// do sends one request and reads the whole answer; a non-200 status or a
// stream without its final [DONE] is an error.
func (c *caller) do(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.t.url, bytes.NewReader(c.body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", c.t.auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := *bp
	var tail [32]byte
	var total int
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			total += n
			if n >= len(tail) {
				copy(tail[:], buf[n-len(tail):n])
			} else {
				copy(tail[:], tail[n:])
				copy(tail[len(tail)-n:], buf[:n])
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if total == 0 || (c.stream && !bytes.Contains(tail[:], []byte("data: [DONE]"))) {
		return errIncomplete
	}
	return nil
}

// errorLog counts failures and keeps a few distinct messages to show.
type errorLog struct {
	n    atomic.Int64
	mu   sync.Mutex
	seen []string
}

func (e *errorLog) add(err error) {
	e.n.Add(1)
	msg := err.Error()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.seen) < 3 && !slices.Contains(e.seen, msg) {
		e.seen = append(e.seen, msg)
	}
}

// run is the raw outcome of one measured phase.
type run struct {
	latencies []time.Duration // of successful requests
	sendLag   []time.Duration // open loop: actual send minus intended send
	requests  int             // sent, successful or not
	errors    int
	errorMsgs []string
	elapsed   time.Duration
	cpu       time.Duration // process CPU (user+sys) during the phase
	cpuOK     bool
	// others is the CPU the rest of the machine used during the phase: a
	// busy neighbour skews every figure, so the report shows it.
	others   time.Duration
	othersOK bool
}

// cpuMeter reads the process's and the machine's CPU clocks around a phase.
type cpuMeter struct {
	cpu, busy     time.Duration
	cpuOK, busyOK bool
}

// startMeter first leaves the previous phase's garbage out of the next
// one's CPU, then reads the clocks.
func startMeter() cpuMeter {
	runtime.GC()
	var m cpuMeter
	m.cpu, m.cpuOK = processCPU()
	m.busy, m.busyOK = machineBusy()
	return m
}

// stop fills r's CPU figures.
func (m cpuMeter) stop(r *run) {
	cpu, cpuOK := processCPU()
	busy, busyOK := machineBusy()
	r.cpu, r.cpuOK = cpu-m.cpu, cpuOK && m.cpuOK
	if busyOK && m.busyOK && r.cpuOK {
		r.others, r.othersOK = max(busy-m.busy-r.cpu, 0), true
	}
}

// ticker paces the open-loop generator (see newTicker).
type ticker interface {
	// wait blocks until the next tick, or until deadline or interrupt
	// (then it returns an error), and says how many ticks passed since
	// the previous call.
	wait(deadline time.Time) (int, error)
	// interrupt makes a wait in progress return.
	interrupt()
	stop()
}

// openLoop sends at a constant rate for d, each request on its own
// goroutine so that a slow answer never delays the next send. Latency is
// measured from the intended send time, so a stall on either side is
// charged to every request it held up (no coordinated omission). At most
// maxInflight requests are outstanding; a send that has to wait for one
// carries the wait in its latency. The phase stops by itself: sending ends
// at d (at the latest requestTimeout later, if the target holds the
// generator up), and every request ends within requestTimeout.
func openLoop(ctx context.Context, c *caller, rate float64, d time.Duration, maxInflight int) (run, error) {
	n := max(int(rate*d.Seconds()), 1)
	interval := time.Duration(float64(time.Second) / rate)
	lat := make([]time.Duration, n)
	lag := make([]time.Duration, n)
	ok := make([]bool, n)
	var errs errorLog
	sem := make(chan struct{}, maxInflight)
	var wg sync.WaitGroup

	m := startMeter()
	tk, start, err := newTicker(interval)
	if err != nil {
		return run{}, fmt.Errorf("start the open-loop ticker: %w", err)
	}
	defer tk.stop()
	stopWaiting := context.AfterFunc(ctx, tk.interrupt)
	defer stopWaiting()
	hardStop := start.Add(d + requestTimeout)
	sent := 0
dispatch:
	for sent < n {
		due, err := tk.wait(hardStop)
		if err != nil {
			break
		}
		for ; due > 0 && sent < n; due-- {
			i := sent
			intended := start.Add(time.Duration(i+1) * interval)
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				break dispatch
			}
			sent++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				lag[i] = time.Since(intended)
				if err := c.do(ctx); err != nil {
					errs.add(err)
					return
				}
				lat[i] = time.Since(intended)
				ok[i] = true
			}()
		}
	}
	wg.Wait()
	r := run{requests: n, elapsed: time.Since(start)}
	m.stop(&r)
	// Requests never sent (the target held the generator past its stop)
	// count as errors: they were due and were not served.
	if unsent := n - sent; unsent > 0 {
		errs.add(fmt.Errorf("%d requests not sent before the phase's hard stop", unsent))
		errs.n.Add(int64(unsent - 1))
	}
	for i := range sent {
		r.sendLag = append(r.sendLag, lag[i])
		if ok[i] {
			r.latencies = append(r.latencies, lat[i])
		}
	}
	r.errors = int(errs.n.Load())
	r.errorMsgs = errs.seen
	return r, nil
}

// closedLoop runs workers that each send, wait for the answer and send
// again, for d; it measures the most the target serves at that
// concurrency.
func closedLoop(ctx context.Context, c *caller, workers int, d time.Duration) run {
	lats := make([][]time.Duration, workers)
	var errs errorLog
	var wg sync.WaitGroup

	m := startMeter()
	start := time.Now()
	stop := start.Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(stop) {
					break
				}
				if err := c.do(ctx); err != nil {
					errs.add(err)
					continue
				}
				local = append(local, time.Since(t0))
			}
			lats[w] = local
		}()
	}
	wg.Wait()
	r := run{elapsed: time.Since(start)}
	m.stop(&r)
	for _, l := range lats {
		r.latencies = append(r.latencies, l...)
	}
	r.errors = int(errs.n.Load())
	r.errorMsgs = errs.seen
	r.requests = len(r.latencies) + r.errors
	return r
}

// sequential sends m requests one after another and returns their
// latencies (failed ones are counted, not timed).
func sequential(ctx context.Context, c *caller, m int) run {
	var errs errorLog
	r := run{latencies: make([]time.Duration, 0, m)}
	start := time.Now()
	for range m {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		if err := c.do(ctx); err != nil {
			errs.add(err)
			continue
		}
		r.latencies = append(r.latencies, time.Since(t0))
	}
	r.elapsed = time.Since(start)
	r.errors = int(errs.n.Load())
	r.errorMsgs = errs.seen
	r.requests = len(r.latencies) + r.errors
	return r
}
