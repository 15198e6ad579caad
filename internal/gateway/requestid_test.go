package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	tests := []struct {
		name     string
		supplied []string // X-Request-Id values the caller sends
		wantKept bool
	}{
		{"none", nil, false},
		{"valid", []string{"req-2024.01_abc"}, true},
		{"max length", []string{strings.Repeat("a", 64)}, true},
		{"too long", []string{strings.Repeat("a", 65)}, false},
		{"empty", []string{""}, false},
		{"space", []string{"abc def"}, false},
		{"log forging", []string{"abc\",\"level\":\"ERROR"}, false},
		{"non-ASCII", []string{"réq"}, false},
		{"two values", []string{"abc", "def"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inCtx, inHeader string
			h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inCtx = RequestIDFrom(r.Context())
				inHeader = strings.Join(r.Header.Values(HeaderRequestID), ",")
			}))
			req := httptest.NewRequest("GET", "/", nil)
			for _, v := range tt.supplied {
				req.Header.Add(HeaderRequestID, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			got := rec.Header().Get(HeaderRequestID)
			if got == "" || got != inCtx || got != inHeader {
				t.Fatalf("response id %q, context id %q, request header %q; want one id in all three", got, inCtx, inHeader)
			}
			if tt.wantKept {
				if got != tt.supplied[0] {
					t.Errorf("id = %q; want the caller's %q", got, tt.supplied[0])
				}
				return
			}
			if len(tt.supplied) > 0 && got == tt.supplied[0] {
				t.Errorf("unsafe caller id %q was kept", got)
			}
			if len(got) != 26 || !validRequestID(got) {
				t.Errorf("generated id %q; want 26 safe characters", got)
			}
		})
	}
}

func TestRequestIDIsFreshEachTime(t *testing.T) {
	h := RequestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	seen := make(map[string]bool)
	for range 100 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		id := rec.Header().Get(HeaderRequestID)
		if seen[id] {
			t.Fatalf("id %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestRequestIDFromEmptyContext(t *testing.T) {
	if id := RequestIDFrom(httptest.NewRequest("GET", "/", nil).Context()); id != "" {
		t.Errorf("RequestIDFrom = %q; want \"\" without the middleware", id)
	}
}

func FuzzValidRequestID(f *testing.F) {
	for _, s := range []string{"abc", "", "a b", strings.Repeat("x", 65), "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validRequestID(s) {
			return
		}
		if len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool {
			return !(r == '.' || r == '_' || r == '-' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z'))
		}) {
			t.Errorf("validRequestID accepted %q", s)
		}
	})
}
