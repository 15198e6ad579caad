package gateway

import (
	"log/slog"
	"net/http"
	"time"
)

// AccessLog returns a middleware that logs one line per request to log
// (nil means slog.Default()) with the stable keys method, path, status,
// bytes, duration and request_id.
//
// It logs the path without the query string, because query strings carry
// keys (Google's ?key=, signed URLs), and it never logs headers, since
// they carry Authorization and x-api-key. Put it inside [RequestID] so the
// id is known.
//
// The ResponseWriter it passes on still flushes (Server-Sent Events need
// that) and unwraps for http.ResponseController.
func AccessLog(log *slog.Logger) func(http.Handler) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			status := rec.status
			if status == 0 {
				// The handler wrote nothing: net/http sends 200.
				status = http.StatusOK
			}
			id := RequestIDFrom(r.Context())
			if id == "" {
				// RequestID was mounted inside us; its header is set.
				id = w.Header().Get(HeaderRequestID)
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", id))
		})
	}
}

// statusRecorder remembers the status and counts the body bytes written.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	// 1xx responses (103 Early Hints) are interim; the final status comes
	// later. 101 Switching Protocols is final.
	if s.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Flush keeps plain `w.(http.Flusher)` assertions working for streaming
// handlers; http.ResponseController finds it too, or unwraps.
func (s *statusRecorder) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK // flushing sends the header
	}
	// The error is the client's disconnect, which the next Write reports.
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's own writer
// (deadlines, hijacking, full-duplex).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
