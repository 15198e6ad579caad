package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the metrics in the Prometheus text format. With a
// non-empty token it answers only requests that carry
// "Authorization: Bearer <token>" and refuses the rest with 401; with an
// empty token it is open, for a listener that only the scraper reaches.
// It answers GET and HEAD only.
func (m *Metrics) Handler(token string) http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	// Registry makes the handler count its own gathering and encoding
	// errors (promhttp_metric_handler_errors_total) in the same registry.
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	var want *[sha256.Size]byte
	if token != "" {
		// Comparing digests keeps the comparison constant-time in the
		// length of the token too, and keeps the token itself out of the
		// handler's memory.
		sum := sha256.Sum256([]byte(token))
		want = &sum
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if want != nil && !authorized(r, want) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "unauthorized: send the metrics token as a bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries exactly one Authorization header
// with the bearer token whose digest is want.
func authorized(r *http.Request, want *[sha256.Size]byte) bool {
	hs := r.Header.Values("Authorization")
	if len(hs) != 1 {
		return false
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(hs[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
