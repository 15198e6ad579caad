package providertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
)

// ControlPrefix is where WithControl serves its endpoints.
const ControlPrefix = "/__fake/"

// controlFault is the JSON form of a Fault for the control endpoint; its
// fields mirror Fault one for one so that it converts directly.
type controlFault struct {
	Status              int    `json:"status"`
	RetryAfter          string `json:"retry_after"`
	HTML                bool   `json:"html"`
	Message             string `json:"message"`
	Reset               bool   `json:"reset"`
	Stall               bool   `json:"stall"`
	StallAfterChunks    int    `json:"stall_after_chunks"`
	TruncateAfterChunks int    `json:"truncate_after_chunks"`
	ErrorAfterChunks    int    `json:"error_after_chunks"`
	NoUsage             bool   `json:"no_usage"`
	BadUsage            bool   `json:"bad_usage"`
}

// controlRequest is one recorded request as the control endpoint shows it:
// the body as JSON when it parses, else as a string.
type controlRequest struct {
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	RawQuery string              `json:"raw_query"`
	Header   map[string][]string `json:"header"`
	Body     any                 `json:"body"`
}

// WithControl serves h plus test-control endpoints, for tests that drive
// the fake from another process (the SDK tests in Node):
//
//	POST /__fake/fail      {"path_prefix":"/v1/chat","n":1,"fault":{"status":429,"retry_after":"0"}} → 204
//	GET  /__fake/requests  → the recorded requests, oldest first
//	POST /__fake/reset     → 204
//
// These endpoints take no key: never expose a controlled fake beyond
// loopback.
func WithControl(h *Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, ControlPrefix) {
			h.ServeHTTP(w, r)
			return
		}
		switch r.Method + " " + strings.TrimPrefix(r.URL.Path, ControlPrefix) {
		case "POST fail":
			var req struct {
				PathPrefix string       `json:"path_prefix"`
				N          int          `json:"n"`
				Fault      controlFault `json:"fault"`
			}
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
				http.Error(w, "bad fault: "+err.Error(), http.StatusBadRequest)
				return
			}
			h.Fail(req.PathPrefix, req.N, Fault(req.Fault))
			w.WriteHeader(http.StatusNoContent)
		case "GET requests":
			recs := h.Requests()
			out := make([]controlRequest, 0, len(recs))
			for _, rec := range recs {
				var body any
				if err := json.Unmarshal(rec.Body, &body); err != nil {
					body = string(rec.Body)
				}
				out = append(out, controlRequest{Method: rec.Method, Path: rec.Path, RawQuery: rec.RawQuery, Header: rec.Header, Body: body})
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		case "POST reset":
			h.Reset()
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	})
}

// NewControlled is New with the control endpoints of WithControl.
func NewControlled(o Options) *Server {
	h := NewHandler(o)
	ts := httptest.NewServer(WithControl(h))
	return &Server{URL: ts.URL, Handler: h, ts: ts}
}
