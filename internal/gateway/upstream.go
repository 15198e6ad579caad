package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/secret"
)

// Upstream is one configured provider: its adapter, where its key comes
// from, and the HTTP client that reaches it.
type Upstream struct {
	Adapter *provider.Adapter
	// Key returns the provider key for the next call. It balances across
	// several keys when the provider has them, and caches vault reads.
	Key func(ctx context.Context) (secret.Secret, error)
	// Client sends requests. NewClient builds one with the timeouts below.
	Client *http.Client
	// Total bounds a non-streaming call; StreamIdle bounds the silence
	// between two stream events (a stream has no total bound). Zero means
	// the DefaultTimeouts value.
	Total      time.Duration
	StreamIdle time.Duration
}

// Timeouts for one provider.
type Timeouts struct {
	Connect    time.Duration // TCP + TLS handshake
	FirstByte  time.Duration // request sent → response headers
	Total      time.Duration // whole non-streaming call
	StreamIdle time.Duration // gap between stream events
}

// DefaultTimeouts suit hosted LLM APIs, where a long non-streaming
// completion can take minutes before its headers arrive.
var DefaultTimeouts = Timeouts{Connect: 10 * time.Second, FirstByte: 5 * time.Minute, Total: 10 * time.Minute, StreamIdle: 2 * time.Minute}

// NewClient returns an HTTP client for one provider: verified TLS 1.2+,
// HTTP/2 when the server offers it, and a keep-alive pool sized for a busy
// gateway. It never follows redirects: a redirect from an AI API is
// unexpected, and following it could carry the key to another host.
func NewClient(t Timeouts) *http.Client {
	if t.Connect <= 0 {
		t.Connect = DefaultTimeouts.Connect
	}
	if t.FirstByte <= 0 {
		t.FirstByte = DefaultTimeouts.FirstByte
	}
	dialer := &net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   t.Connect,
		ResponseHeaderTimeout: t.FirstByte,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Bodies are passed on as the upstream sent them; asking for gzip
		// would make Go decompress, and then usage parsing and streaming
		// see plain bytes anyway, so leave compression to the caller leg.
		DisableCompression: true,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
