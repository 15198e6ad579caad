package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAccessLog(t *testing.T) {
	const canary = "sk-canary-accesslog-0123456789"
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantBytes  int64
	}{
		{"implicit 200", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }, 200, 5},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, 200, 0},
		{"explicit status", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, "slow down")
		}, 429, 9},
		{"early hints then final", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, 201, 0},
		{"streamed", func(w http.ResponseWriter, r *http.Request) {
			for range 3 {
				io.WriteString(w, "data: x\n\n")
				w.(http.Flusher).Flush()
			}
		}, 200, 27},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			h := RequestID(AccessLog(log)(tt.handler))

			req := httptest.NewRequest("POST", "/v1/chat/completions?key="+canary, strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer "+canary)
			req.Header.Set("X-Api-Key", canary)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if strings.Contains(logs.String(), canary) {
				t.Fatalf("the log holds the canary: %s", logs.String())
			}
			var line struct {
				Msg       string `json:"msg"`
				Method    string `json:"method"`
				Path      string `json:"path"`
				Status    int    `json:"status"`
				Bytes     int64  `json:"bytes"`
				Duration  *int64 `json:"duration"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log line %q: %v", logs.String(), err)
			}
			if line.Method != "POST" || line.Path != "/v1/chat/completions" || line.Status != tt.wantStatus ||
				line.Bytes != tt.wantBytes || line.Duration == nil || line.RequestID != rec.Header().Get(HeaderRequestID) {
				t.Errorf("logged %+v; want POST /v1/chat/completions %d %d bytes with a duration and id %q",
					line, tt.wantStatus, tt.wantBytes, rec.Header().Get(HeaderRequestID))
			}
		})
	}
}

func TestAccessLogOutsideRequestID(t *testing.T) {
	var logs bytes.Buffer
	h := AccessLog(slog.New(slog.NewJSONHandler(&logs, nil)))(RequestID(http.NotFoundHandler()))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	id := rec.Header().Get(HeaderRequestID)
	if id == "" || !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
		t.Errorf("log %s lacks request id %q", logs.String(), id)
	}
}

func TestAccessLogKeepsResponseController(t *testing.T) {
	h := AccessLog(nopLogger())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the access log: %v", err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !rec.Flushed {
		t.Error("the flush did not reach the underlying writer")
	}
}
