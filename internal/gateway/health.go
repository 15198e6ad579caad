package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Check is a readiness probe: Func returns nil when the dependency it
// watches (the store, Redis, the master key) is usable. Func must honour
// ctx; it gets a short deadline.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// CheckTimeout is how long one readiness check may run before it counts as
// failing. It is short because orchestrators probe every few seconds and
// a probe that hangs is as bad as one that fails.
const CheckTimeout = 2 * time.Second

// Health returns one handler for both probes; mount it at "/healthz" and
// "/readyz" (it matches the exact paths and answers 404 to anything else).
//
//   - GET /healthz is liveness: always 200 {"status":"ok"} while the
//     process serves HTTP. It checks nothing, so that a failing dependency
//     makes the orchestrator stop sending traffic (readiness) rather than
//     restart the process in a loop.
//   - GET /readyz runs every check concurrently, each with CheckTimeout, and
//     answers 200 {"status":"ready","checks":{name:"ok",...}} or, if any
//     fails, 503 {"status":"unavailable","checks":{name:"failing",...}}.
//
// A check's error never reaches the response, since it may hold hostnames,
// DSNs or other internal detail; it is logged to log (nil means
// slog.Default()). A check that ignores its deadline is reported failing
// and is not started again until its previous run returns, so a stuck
// dependency cannot pile up goroutines one probe at a time.
//
// Health panics if a check has no name or no Func, or two checks share a
// name: those are wiring mistakes, found at start.
func Health(checks []Check, log *slog.Logger) http.Handler {
	return newHealth(checks, log, CheckTimeout)
}

// probe is a Check with the lock that keeps one run at a time.
type probe struct {
	Check
	// running is held for as long as a run of Func is under way, which
	// may outlast the probe that started it. It is a mutex used with
	// TryLock rather than a flag so that tests can wait for a run to end.
	running sync.Mutex
}

type health struct {
	probes  []*probe
	log     *slog.Logger
	timeout time.Duration
	mux     *http.ServeMux
}

// newHealth is Health with the check timeout as a parameter, for tests.
func newHealth(checks []Check, log *slog.Logger, timeout time.Duration) *health {
	if log == nil {
		log = slog.Default()
	}
	h := &health{log: log, timeout: timeout, mux: http.NewServeMux()}
	seen := make(map[string]bool, len(checks))
	for i, c := range checks {
		switch {
		case c.Name == "":
			panic(fmt.Sprintf("gateway: readiness check %d has no name", i))
		case c.Func == nil:
			panic(fmt.Sprintf("gateway: readiness check %q has no Func", c.Name))
		case seen[c.Name]:
			panic(fmt.Sprintf("gateway: two readiness checks are named %q", c.Name))
		}
		seen[c.Name] = true
		h.probes = append(h.probes, &probe{Check: c})
	}
	// "GET" patterns also match HEAD; other methods get 405 with Allow.
	h.mux.HandleFunc("GET /healthz", h.live)
	h.mux.HandleFunc("GET /readyz", h.ready)
	return h
}

func (h *health) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// healthBody is the JSON both probes answer with.
type healthBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

func (h *health) live(w http.ResponseWriter, r *http.Request) {
	writeHealth(w, r, http.StatusOK, healthBody{Status: "ok"})
}

func (h *health) ready(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	results := make([]error, len(h.probes))
	var wg sync.WaitGroup
	for i, p := range h.probes {
		wg.Go(func() { results[i] = h.run(ctx, p) })
	}
	wg.Wait()

	body := healthBody{Status: "ready", Checks: make(map[string]string, len(h.probes))}
	status := http.StatusOK
	for i, p := range h.probes {
		if err := results[i]; err != nil {
			body.Status, status = "unavailable", http.StatusServiceUnavailable
			body.Checks[p.Name] = "failing"
			h.log.LogAttrs(ctx, slog.LevelWarn, "readiness check failed",
				slog.String("check", p.Name),
				slog.String("request_id", RequestIDFrom(ctx)),
				slog.String("error", err.Error()))
			continue
		}
		body.Checks[p.Name] = "ok"
	}
	writeHealth(w, r, status, body)
}

// errCheckBusy reports a check whose previous run has not returned.
var errCheckBusy = errors.New("previous run has not returned yet; the check ignores its deadline")

// run runs one check with the timeout and returns its verdict. It returns
// at the deadline even if the check does not; the check's goroutine then
// finishes on its own and releases p.running.
func (h *health) run(ctx context.Context, p *probe) error {
	if !p.running.TryLock() {
		return errCheckBusy
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	done := make(chan error, 1) // buffered: a late check must not block
	go func() {
		defer p.running.Unlock()
		defer func() {
			// A panicking check must fail the probe, not crash the
			// gateway: nothing above this goroutine recovers.
			if v := recover(); v != nil {
				done <- fmt.Errorf("check panicked: %v", v)
			}
		}()
		done <- p.Func(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer: %w", ctx.Err())
	}
}

func writeHealth(w http.ResponseWriter, r *http.Request, status int, body healthBody) {
	w.Header().Set("Content-Type", "application/json")
	// A cached "ready" is worse than none.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	// The body is a fixed shape of strings; encoding cannot fail, and a
	// write error means the prober left.
	_ = json.NewEncoder(w).Encode(body)
}
