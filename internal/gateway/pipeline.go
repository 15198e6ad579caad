package gateway

import (
	"net/http"
)

// Handler is a data-plane handler that returns its error instead of
// writing it. One adapter at the edge (see Gateway.edge) renders every
// error in the caller's wire format, so no stage can forget to, and no
// stage can fail open by writing a half response and carrying on.
type Handler interface {
	ServeHTTP(http.ResponseWriter, *http.Request) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(http.ResponseWriter, *http.Request) error

// ServeHTTP calls f.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }

// Stage is one step of the request pipeline. It runs its pre-hook, calls
// next, and runs its post-hook on the way out; returning an error ends the
// request.
type Stage func(next Handler) Handler

// Chain composes stages around h: the first stage is the outermost, so the
// list reads in the order a request passes through it.
func Chain(h Handler, stages ...Stage) Handler {
	for i := len(stages) - 1; i >= 0; i-- {
		h = stages[i](h)
	}
	return h
}
