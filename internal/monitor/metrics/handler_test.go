package metrics

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// newRecorder serves one GET through h with the given Authorization value
// (none when empty).
func newRecorder(h http.Handler, authorization string, more ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if authorization != "" {
		req.Header.Add("Authorization", authorization)
	}
	for _, v := range more {
		req.Header.Add("Authorization", v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerToken(t *testing.T) {
	token := rand.Text()
	m := New(testOpts)
	m.AuthBlock()
	tests := []struct {
		name   string
		token  string // configured
		auth   string
		extra  []string
		method string
		want   int
	}{
		{name: "open without a configured token", auth: "", want: 200},
		{name: "open ignores a header", auth: "Bearer whatever", want: 200},
		{name: "right token", token: token, auth: "Bearer " + token, want: 200},
		{name: "scheme is case-insensitive", token: token, auth: "bearer " + token, want: 200},
		{name: "spaces around are trimmed", token: token, auth: "  Bearer   " + token + " ", want: 200},
		{name: "no header", token: token, want: 401},
		{name: "wrong token", token: token, auth: "Bearer " + rand.Text(), want: 401},
		{name: "token prefix", token: token, auth: "Bearer " + token[:len(token)-1], want: 401},
		{name: "token with a suffix", token: token, auth: "Bearer " + token + "x", want: 401},
		{name: "bare token", token: token, auth: token, want: 401},
		{name: "basic scheme", token: token, auth: "Basic " + token, want: 401},
		{name: "empty bearer", token: token, auth: "Bearer ", want: 401},
		{name: "two headers, one right", token: token, auth: "Bearer " + token, extra: []string{"Bearer nope"}, want: 401},
		{name: "post refused", method: http.MethodPost, want: 405},
		{name: "head allowed", token: token, auth: "Bearer " + token, method: http.MethodHead, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "/metrics", nil)
			if tt.auth != "" {
				req.Header.Add("Authorization", tt.auth)
			}
			for _, v := range tt.extra {
				req.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			m.Handler(tt.token).ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tt.want, rec.Body.String())
			}
			body := rec.Body.String()
			switch tt.want {
			case 200:
				if method == http.MethodGet && !strings.Contains(body, "warden_auth_blocks_total 1") {
					t.Errorf("metrics missing from the body:\n%s", body)
				}
			case 401:
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if strings.Contains(body, "warden_") {
					t.Error("a refused scrape got metrics")
				}
				if strings.Contains(body, token) {
					t.Error("the 401 body holds the token")
				}
			}
		})
	}
}

func TestHandlerTwice(t *testing.T) {
	// Two handlers on one registry (say, one per listener) must not fail
	// on registering the handler's own error counter twice.
	m := New(testOpts)
	a, b := m.Handler(""), m.Handler("t")
	if newRecorder(a, "").Code != 200 || newRecorder(b, "Bearer t").Code != 200 {
		t.Fatal("second handler does not serve")
	}
}

func FuzzHandlerAuthorization(f *testing.F) {
	const token = "s3cret-metrics-token"
	for _, s := range []string{"", "Bearer " + token, "bearer " + token, "Bearer", "Basic abc", "Bearer  " + token + "\t", "Bearer " + token + "\x00"} {
		f.Add(s)
	}
	h := New(Options{}).Handler(token)
	f.Fuzz(func(t *testing.T, auth string) {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header["Authorization"] = []string{auth}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		scheme, tok, _ := strings.Cut(strings.TrimSpace(auth), " ")
		ok := strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(tok) == token
		if want := map[bool]int{true: 200, false: 401}[ok]; rec.Code != want {
			t.Fatalf("Authorization %q: status %d, want %d", auth, rec.Code, want)
		}
	})
}
