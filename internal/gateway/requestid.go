package gateway

import (
	"context"
	"crypto/rand"
	"net/http"
)

// HeaderRequestID is the header that carries a request's id, in both
// directions.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a caller-supplied id; generated ones are 26.
const maxRequestIDLen = 64

type requestIDKey struct{}

// RequestID gives every request an id, sets it as the X-Request-Id
// response header and stores it in the request context ([RequestIDFrom]).
//
// A caller's own X-Request-Id is kept so that it can correlate its logs
// with Warden's, but only if there is exactly one and it is 1 to 64 of
// [A-Za-z0-9._-]: the id goes into logs, audit records and upstream
// requests, so anything that could forge a log line, smuggle a header or
// bloat every record is replaced by a fresh random id. The request's own
// header is overwritten with the chosen id, so later stages that read it
// see only a vetted value.
//
// RequestID should be the outermost middleware, so that everything inside,
// the access log included, sees the id.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ""
		if vals := r.Header.Values(HeaderRequestID); len(vals) == 1 && validRequestID(vals[0]) {
			id = vals[0]
		} else {
			// 128 random bits in base32: unguessable, and matching the
			// accepted pattern so it round-trips through other proxies.
			id = rand.Text()
		}
		r.Header.Set(HeaderRequestID, id)
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestIDFrom returns the request id that [RequestID] stored in ctx, or
// "" if there is none.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID reports whether s matches [A-Za-z0-9._-]{1,64}. It is a
// loop rather than a regexp because it runs on every request.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
