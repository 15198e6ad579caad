package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func passingCheck(context.Context) error { return nil }

func TestHealth(t *testing.T) {
	const secretDetail = "postgres://warden:hunter2_canary@10.0.0.5/warden"
	failing := func(context.Context) error { return errors.New("connect " + secretDetail) }
	// Waits until its deadline: a slow dependency, but a polite check.
	timesOut := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	panics := func(context.Context) error { panic("boom " + secretDetail) }

	tests := []struct {
		name       string
		method     string
		path       string
		checks     []Check
		wantStatus int
		wantBody   string
		wantLogged string // in the log, never in the body
	}{
		{"liveness", "GET", "/healthz", []Check{{"store", failing}}, 200, `{"status":"ok"}`, ""},
		{"liveness HEAD", "HEAD", "/healthz", nil, 200, ``, ""},
		{"ready without checks", "GET", "/readyz", nil, 200, `{"status":"ready"}`, ""},
		{"ready", "GET", "/readyz", []Check{{"store", passingCheck}, {"redis", passingCheck}}, 200,
			`{"status":"ready","checks":{"redis":"ok","store":"ok"}}`, ""},
		{"one failing", "GET", "/readyz", []Check{{"store", failing}, {"redis", passingCheck}}, 503,
			`{"status":"unavailable","checks":{"redis":"ok","store":"failing"}}`, secretDetail},
		{"timeout", "GET", "/readyz", []Check{{"slow", timesOut}}, 503,
			`{"status":"unavailable","checks":{"slow":"failing"}}`, "deadline exceeded"},
		{"panic", "GET", "/readyz", []Check{{"bad", panics}}, 503,
			`{"status":"unavailable","checks":{"bad":"failing"}}`, "panicked"},
		{"wrong method", "POST", "/readyz", nil, 405, "", ""},
		{"unknown path", "GET", "/status", nil, 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			// Only the slow check may ever meet the deadline: the others
			// must not fail because a loaded machine was slow to run them.
			timeout := time.Hour
			if tt.name == "timeout" {
				timeout = time.Millisecond
			}
			h := newHealth(tt.checks, slog.New(slog.NewTextHandler(&logs, nil)), timeout)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))

			body := strings.TrimSpace(rec.Body.String())
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d; want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus < 400 || tt.wantStatus == 503 {
				if body != tt.wantBody {
					t.Errorf("body = %s; want %s", body, tt.wantBody)
				}
				if rec.Header().Get("Cache-Control") != "no-store" {
					t.Error("health answers must not be cached")
				}
			}
			if strings.Contains(body, "canary") || strings.Contains(body, "boom") {
				t.Errorf("a check's error reached the body: %s", body)
			}
			if tt.wantLogged != "" && !strings.Contains(logs.String(), tt.wantLogged) {
				t.Errorf("log = %q; want it to contain %q", logs.String(), tt.wantLogged)
			}
		})
	}
}

func TestHealthRunsChecksConcurrently(t *testing.T) {
	// Each check waits for the other to have started: run one after the
	// other, the first would time out and the probe would fail.
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	wait := func(mine, other chan struct{}) func(context.Context) error {
		return func(ctx context.Context) error {
			close(mine)
			select {
			case <-other:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	h := newHealth([]Check{{"a", wait(aStarted, bStarted)}, {"b", wait(bStarted, aStarted)}}, nopLogger(), time.Minute)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, body %s; want 200", rec.Code, rec.Body)
	}
}

func TestHealthDoesNotPileUpStuckChecks(t *testing.T) {
	release := make(chan struct{})
	runs := make(chan struct{}, 2) // one token per run of the check
	stuck := func(context.Context) error {
		runs <- struct{}{}
		<-release // ignores its context
		return nil
	}
	h := newHealth([]Check{{"stuck", stuck}}, nopLogger(), time.Millisecond)
	p := h.probes[0]
	probe := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code
	}

	for i := range 3 {
		if code := probe(); code != http.StatusServiceUnavailable {
			t.Fatalf("probe %d = %d; want 503 while the check is stuck", i, code)
		}
	}
	<-runs // the first probe's run, which is still stuck
	if n := len(runs); n != 0 {
		t.Fatalf("%d more runs started while the check was stuck; want none", n)
	}

	close(release)
	// The next run must answer, however slowly the machine schedules it.
	// (Safe to write: no probe is running, and the stuck run never reads
	// the timeout again.)
	h.timeout = time.Hour
	// Wait for the stuck run to end: the next probe must run it again.
	p.running.Lock()
	//lint:ignore SA2001 the empty critical section is how we wait for the run to end
	p.running.Unlock()
	if code := probe(); code != http.StatusOK || len(runs) != 1 {
		t.Fatalf("probe after the check returned = %d with %d new runs; want 200 with 1", code, len(runs))
	}
}

func TestHealthPanicsOnBadWiring(t *testing.T) {
	tests := []struct {
		name   string
		checks []Check
	}{
		{"no name", []Check{{"", passingCheck}}},
		{"no func", []Check{{"store", nil}}},
		{"duplicate", []Check{{"store", passingCheck}, {"store", passingCheck}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Health accepted bad wiring")
				}
			}()
			Health(tt.checks, nil)
		})
	}
}

func TestHealthBodyIsJSON(t *testing.T) {
	h := Health([]Check{{"store", passingCheck}}, nopLogger())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var got healthBody
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Status != "ready" {
		t.Fatalf("body %s: %+v, %v", rec.Body, got, err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}
