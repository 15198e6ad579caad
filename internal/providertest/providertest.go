// Package providertest is the one fake AI provider that Warden's tests use
// in place of the paid internet providers. It speaks the wire formats of
// OpenAI (and Azure OpenAI), Anthropic, and minimal Google Gemini and Hugging
// Face closely enough for the official SDKs to parse its answers, and it
// injects faults (429, 5xx, HTML bodies, resets, stalls, truncated streams,
// missing or malformed usage) on demand.
//
// Everything it returns is deterministic so that tests can predict it:
//
//   - The reply text is ReplyText(model, Options.Chunks) unless Options.Reply
//     says otherwise; a streamed reply carries the same text split into
//     Options.Chunks pieces on rune boundaries (so words are cut mid-way, as
//     real streams do).
//   - Prompt tokens are the whitespace-separated words of every text the
//     request carries (system prompt, messages, prompt, input), counted by
//     Tokens; token-array prompts count one per element. Completion tokens
//     are Tokens(reply).
//   - Ids carry the request's sequence number (chatcmpl-fake000001, ...) and
//     timestamps come from Options.Now.
//
// Routes mirror the real APIs under the server's root: the OpenAI base URL is
// URL+"/v1", the Anthropic base URL is URL itself, Azure deployments live
// under URL+"/openai/deployments/{deployment}", Gemini under
// URL+"/v1beta/models/{model}:generateContent" and Hugging Face under
// URL+"/models/{model}".
package providertest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultChunks is the number of content chunks in a streamed reply when
// Options.Chunks is zero.
const DefaultChunks = 5

// maxBody bounds what the fake reads from one request, so that a runaway
// client cannot exhaust a test's memory.
const maxBody = 32 << 20

// canceledBuffer is how many unread cancellation reports the Canceled
// channel holds; beyond it reports are dropped rather than blocking a
// handler.
const canceledBuffer = 1024

// Options configures a fake provider. The zero value is usable.
type Options struct {
	// Key is the provider key the fake expects, in each provider's own
	// header: Authorization: Bearer for OpenAI and Hugging Face, api-key or
	// bearer for Azure, x-api-key or bearer for Anthropic (its current SDKs
	// send bearer), x-goog-api-key or ?key= for Google. A request without it
	// gets that provider's authentication error. Empty accepts any key, or
	// none.
	Key string
	// Chunks is the number of content chunks per streamed response
	// (DefaultChunks when zero). A reply shorter than Chunks runes is sent
	// in one chunk per rune.
	Chunks int
	// Latency is waited before responding, to give benchmarks and load
	// tests a realistic upstream time. A client that leaves during the wait
	// is reported on Canceled.
	Latency time.Duration
	// ChunkInterval is waited between streamed content chunks, so that a
	// stream lasts long enough for a client to leave in the middle of it.
	ChunkInterval time.Duration
	// Now stamps ids, "created" fields and Recorded.Time (time.Now when nil).
	Now func() time.Time
	// Reply, when set, produces the reply text from the request's model and
	// the text of its last user turn, e.g. to plant a secret in a response
	// for output-guard tests. When nil the reply is ReplyText.
	Reply func(model, lastUser string) string
	// CachedTokens is reported as cached prompt tokens (OpenAI
	// prompt_tokens_details.cached_tokens, Anthropic cache_read_input_tokens),
	// capped at the prompt's token count. Anthropic's input_tokens excludes
	// them, as the real API does.
	CachedTokens int
	// OnRequest, when set, is called with each request as soon as it is
	// recorded, before Latency and faults, so that a test can act at the
	// moment the upstream holds a request (say, cancel the client during a
	// stall) without polling.
	OnRequest func(Recorded)
	// Models is what GET /v1/models lists and GET /v1/models/{id} knows
	// (DefaultModels when nil). Generation endpoints accept any model.
	Models []string
}

// Recorded is one request as the fake received it.
type Recorded struct {
	Method   string
	Path     string
	RawQuery string
	// Header is a copy of the request headers, credentials included, so
	// that tests can check which key the gateway sent upstream.
	Header http.Header
	Body   []byte
	// Time is Options.Now when the request arrived.
	Time time.Time
}

// Fault is a failure the fake injects instead of (or into) a normal
// response. When several kinds are set, Reset wins over Stall, Stall over an
// error status, and an error status over the stream and usage faults.
type Fault struct {
	// Status, when 400 or above, answers with that status and an error body
	// in the provider's JSON shape carrying Message (a stock message when
	// empty). With ErrorAfterChunks it picks the in-stream error instead.
	Status int
	// RetryAfter is sent as the Retry-After header, e.g. "1" with 429.
	RetryAfter string
	// HTML answers with an HTML error page instead of JSON, as a proxy or
	// CDN in front of a provider does; the status is Status, or 502.
	HTML bool
	// Message is the error message in the provider's JSON error shape. It is
	// sent verbatim, so a test can plant a fake key in it to check that the
	// gateway scrubs upstream errors.
	Message string
	// Reset closes the connection (with a TCP reset where possible) without
	// writing a response.
	Reset bool
	// Stall writes nothing until the client goes away; the request is then
	// reported on Canceled.
	Stall bool
	// StallAfterChunks makes a stream send this many content chunks and then
	// stall until the client goes away (reported on Canceled). A
	// non-streamed response sends its headers and half its body instead.
	StallAfterChunks int
	// TruncateAfterChunks makes a stream send this many content chunks and
	// then close the connection mid-stream, with no finish event, [DONE] or
	// message_stop. A non-streamed response sends its headers and half its
	// body before the close.
	TruncateAfterChunks int
	// ErrorAfterChunks makes a stream send this many content chunks and
	// then an in-stream error event in the provider's format (Status picks
	// the error type: 500, or Anthropic's 529 overloaded, when unset;
	// Message the text) and end. A non-streamed response fails as a whole
	// with that error.
	ErrorAfterChunks int
	// NoUsage omits usage from the response.
	NoUsage bool
	// BadUsage sends usage with strings where numbers belong.
	BadUsage bool
}

// Handler is the fake provider as an http.Handler, for running it on a
// listener of one's own (the fakeprovider command) or calling it directly
// from benchmarks. It is safe for concurrent use.
type Handler struct {
	opts     Options
	mux      *http.ServeMux
	closing  chan struct{}
	closed   sync.Once
	canceled chan Recorded

	mu       sync.Mutex
	requests []Recorded
	faults   []*pendingFault
	seq      int
}

type pendingFault struct {
	prefix string
	left   int // < 0: until Reset
	fault  Fault
}

// NewHandler returns the fake provider without a listener.
func NewHandler(o Options) *Handler {
	if o.Chunks <= 0 {
		o.Chunks = DefaultChunks
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Models == nil {
		o.Models = DefaultModels
	}
	h := &Handler{
		opts:     o,
		closing:  make(chan struct{}),
		canceled: make(chan Recorded, canceledBuffer),
	}
	h.mux = h.routes()
	return h
}

// Close releases every request that is stalled or waiting out Latency, so
// that a server holding them can shut down. It is safe to call twice.
func (h *Handler) Close() {
	h.closed.Do(func() { close(h.closing) })
}

// Requests returns every request received so far, in order of arrival.
func (h *Handler) Requests() []Recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

// Last returns the most recent request, and false when there was none.
func (h *Handler) Last() (Recorded, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.requests) == 0 {
		return Recorded{}, false
	}
	return h.requests[len(h.requests)-1], true
}

// Reset forgets recorded requests, pending faults and unread cancellation
// reports, so that one server can serve several subtests.
func (h *Handler) Reset() {
	h.mu.Lock()
	h.requests = nil
	h.faults = nil
	h.mu.Unlock()
	for {
		select {
		case <-h.canceled:
		default:
			return
		}
	}
}

// Fail queues f for the next n requests whose path starts with pathPrefix
// ("" matches any). A negative n keeps the fault until Reset, to model a
// provider that is down. Faults are matched in the order they were queued.
func (h *Handler) Fail(pathPrefix string, n int, f Fault) {
	if n == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, &pendingFault{prefix: pathPrefix, left: n, fault: f})
}

// Canceled reports each request whose client went away before the response
// was finished (during Latency, a stall, or a stream). It is the proof that a
// client disconnect reached the upstream. Reports beyond an unread backlog of
// 1024 are dropped.
func (h *Handler) Canceled() <-chan Recorded {
	return h.canceled
}

// record stores the request and takes the first matching fault, under one
// lock so that concurrent requests consume faults in arrival order.
func (h *Handler) record(rec Recorded) (seq int, f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, rec)
	h.seq++
	for i, pf := range h.faults {
		if !strings.HasPrefix(rec.Path, pf.prefix) {
			continue
		}
		f = pf.fault
		if pf.left > 0 {
			pf.left--
			if pf.left == 0 {
				h.faults = slices.Delete(h.faults, i, i+1)
			}
		}
		break
	}
	return h.seq, f
}

func (h *Handler) reportCanceled(rec Recorded) {
	select {
	case h.canceled <- rec:
	default:
	}
}

// ServeHTTP records the request, waits out Latency, applies any queued
// fault, checks the provider key and answers in the provider's format.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{h: h, w: w, r: r, prov: providerFor(r.URL.Path)}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	x.rec = Recorded{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     body,
		Time:     h.opts.Now(),
	}
	x.seq, x.fault = h.record(x.rec)
	if h.opts.OnRequest != nil {
		h.opts.OnRequest(x.rec)
	}
	if err != nil {
		// The client broke off the upload; there is no one left to answer.
		h.reportCanceled(x.rec)
		return
	}
	if !x.wait(h.opts.Latency) {
		return
	}
	if x.applyFault() {
		return
	}
	if len(body) > maxBody {
		x.fail(http.StatusRequestEntityTooLarge, "", "Request body is too large.")
		return
	}
	if !x.authorized() {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	x.body = body
	x.r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
	h.mux.ServeHTTP(w, x.r)
}

type exchangeKey struct{}

// route adapts an endpoint to the mux; the exchange built by ServeHTTP
// travels in the request context.
func route(fn func(*exchange)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := r.Context().Value(exchangeKey{}).(*exchange)
		x.r = r
		fn(x)
	})
}

// exchange is one request in flight.
type exchange struct {
	h     *Handler
	w     http.ResponseWriter
	r     *http.Request
	prov  provider
	rec   Recorded
	body  []byte
	seq   int
	fault Fault
	gone  bool // the client left; reported once
}

// wait sleeps for d unless the client leaves or the handler closes first,
// and reports whether the response should go on.
func (x *exchange) wait(d time.Duration) bool {
	if d <= 0 {
		return !x.clientGone()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-x.r.Context().Done():
		x.markGone()
		return false
	case <-x.h.closing:
		x.abort(false)
		return false
	}
}

// stall blocks until the client leaves (reported on Canceled) or the handler
// closes; then the connection is dropped, so that a client still waiting
// sees a failure rather than an empty success.
func (x *exchange) stall() {
	select {
	case <-x.r.Context().Done():
		x.markGone()
	case <-x.h.closing:
		x.abort(false)
	}
}

func (x *exchange) clientGone() bool {
	if x.gone {
		return true
	}
	if x.r.Context().Err() != nil {
		x.markGone()
		return true
	}
	return false
}

func (x *exchange) markGone() {
	if !x.gone {
		x.gone = true
		x.h.reportCanceled(x.rec)
	}
}

// applyFault answers with the connection-level and status faults, and
// reports whether it did; stream and usage faults are left to the endpoint.
func (x *exchange) applyFault() bool {
	f := x.fault
	switch {
	case f.Reset:
		x.abort(true)
	case f.Stall:
		x.stall()
	case f.HTML:
		status := f.Status
		if status < 400 {
			status = http.StatusBadGateway
		}
		x.setRetryAfter()
		x.w.Header().Set("Content-Type", "text/html; charset=utf-8")
		x.w.WriteHeader(status)
		_, _ = io.WriteString(x.w, htmlError(status))
	case f.Status >= 400 && f.ErrorAfterChunks <= 0:
		x.fail(f.Status, "", f.Message)
	default:
		return false
	}
	return true
}

func (x *exchange) setRetryAfter() {
	if x.fault.RetryAfter != "" {
		x.w.Header().Set("Retry-After", x.fault.RetryAfter)
	}
}

// abort drops the connection without finishing the response. With rst the
// socket is closed with SO_LINGER 0 so the client sees a TCP reset.
func (x *exchange) abort(rst bool) {
	conn, _, err := http.NewResponseController(x.w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, a recorder): the server aborts the stream.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// authorized checks the provider key and the provider's mandatory headers,
// answering with the provider's error when they are wrong.
func (x *exchange) authorized() bool {
	if x.r.Method == http.MethodGet && strings.HasPrefix(x.r.URL.Path, "/images/") {
		// Generated image URLs are fetched without a key, like the real
		// ones, which are signed storage links.
		return true
	}
	key, present := x.prov.key(x.r)
	if x.h.opts.Key != "" && subtle.ConstantTimeCompare([]byte(key), []byte(x.h.opts.Key)) != 1 {
		x.authError(key, present)
		return false
	}
	if x.prov == anthropic && x.r.Header.Get("anthropic-version") == "" {
		x.fail(http.StatusBadRequest, "", "anthropic-version: header is required")
		return false
	}
	return true
}

// Server is a running fake provider on a loopback listener. It embeds its
// Handler, so Requests, Fail, Reset and Canceled are called on it directly.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:PORT, with no trailing
	// slash.
	URL string
	*Handler
	ts *httptest.Server
}

// New starts a fake provider on a loopback port.
func New(o Options) *Server {
	h := NewHandler(o)
	ts := httptest.NewServer(h)
	return &Server{URL: ts.URL, Handler: h, ts: ts}
}

// Client returns an HTTP client configured for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close releases stalled requests and shuts the server down.
func (s *Server) Close() {
	s.Handler.Close()
	s.ts.CloseClientConnections()
	s.ts.Close()
}
