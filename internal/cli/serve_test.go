package cli

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRoutesKeepUncleanPaths checks that paths with dot or empty segments
// reach the gateway or the admin API as sent instead of being redirected
// to another route, and that only paths under /admin/ reach the admin API.
func TestRoutesKeepUncleanPaths(t *testing.T) {
	mark := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Handler", name)
			w.Header().Set("X-Path", r.URL.Path)
		})
	}
	h := routes(mark("health"), mark("admin"), mark("metrics"), mark("gateway"))
	tests := []struct {
		method, target, handler, path string
	}{
		{"GET", "/healthz", "health", "/healthz"},
		{"HEAD", "/readyz", "health", "/readyz"},
		{"POST", "/healthz", "health", "/healthz"}, // health answers 405 itself
		{"POST", "/v1/chat/completions", "gateway", "/v1/chat/completions"},
		{"GET", "/v1/../admin", "gateway", "/v1/../admin"},
		{"GET", "/proxy/iris//predict", "gateway", "/proxy/iris//predict"},
		{"GET", "/proxy/iris/./predict", "gateway", "/proxy/iris/./predict"},
		{"GET", "/healthz/../v1/models", "gateway", "/healthz/../v1/models"},
		{"GET", "/admin/v1/keys", "admin", "/admin/v1/keys"},
		{"GET", "/admin", "admin", "/admin"},
		{"GET", "/admin/../v1/models", "admin", "/admin/../v1/models"},
		{"GET", "/v1/../admin/v1/keys", "gateway", "/v1/../admin/v1/keys"},
		{"GET", "/administrator", "gateway", "/administrator"},
		{"GET", "/metrics", "metrics", "/metrics"},
		{"GET", "/metrics/x", "gateway", "/metrics/x"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s %s: status %d, want 200 (no redirect)", tt.method, tt.target, rec.Code)
		}
		if got := rec.Header().Get("X-Handler"); got != tt.handler {
			t.Errorf("%s %s: served by %q, want %q", tt.method, tt.target, got, tt.handler)
		}
		if got := rec.Header().Get("X-Path"); got != tt.path {
			t.Errorf("%s %s: path %q, want %q", tt.method, tt.target, got, tt.path)
		}
	}
}
