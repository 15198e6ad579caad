// Package gateway is Warden's data plane: the HTTP server that applications
// call instead of the provider APIs, and the handlers it serves.
//
// Around the data-plane pipeline sit a server with safe timeouts and TLS
// ([Serve]), liveness and readiness probes ([Health]), and the two
// outermost middlewares, [RequestID] and [AccessLog]. main wires them as
//
//	gateway.Serve(ctx, opts, gateway.RequestID(gateway.AccessLog(log)(mux)))
//
// with the probes and the data-plane handler mounted on mux.
package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults applied by [Serve] to zero fields of [ServerOptions].
const (
	// DefaultReadHeaderTimeout bounds how long a client may take to send
	// the request line and headers; it is the slowloris defence.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included.
	// It is generous because audio and file uploads are large.
	DefaultReadTimeout = 5 * time.Minute
	// DefaultIdleTimeout bounds how long a keep-alive connection may wait
	// for its next request.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultShutdownTimeout bounds how long a shutdown waits for in-flight
	// requests before closing their connections.
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultMaxHeaderBytes is well above what SDKs send (a bearer key or
	// a JWT is a few KiB) and far below net/http's 1 MiB default.
	DefaultMaxHeaderBytes = 64 << 10
)

// ServerOptions configures [Serve]. They are plain fields: main fills them
// from the configuration. Zero durations and sizes take the Default*
// constants above; negative ones are an error.
type ServerOptions struct {
	// Addr is the TCP address to listen on, e.g. ":8443" or
	// "127.0.0.1:0" (a free port; see OnListen).
	Addr string

	// ReadHeaderTimeout bounds reading the request line and headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included, measured
	// from its first byte. It does not limit the response: net/http clears
	// the read deadline once the handler has read the body to its end, so
	// a long streamed answer is not cut. Routes that need longer uploads
	// will extend it per request with http.ResponseController.
	ReadTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds how long Serve waits, once ctx is canceled,
	// for in-flight requests to finish before it closes their connections.
	ShutdownTimeout time.Duration
	// There is deliberately no WriteTimeout: http.Server.WriteTimeout is a
	// deadline on the whole response, so it would cut every streamed (SSE)
	// completion that runs longer than it, and model answers routinely
	// stream for minutes. Upstream time limits belong to the proxy stage,
	// per route, where they can end a stream with a proper error event.

	// MaxHeaderBytes caps the size of the request line and headers;
	// larger requests get 431 Request Header Fields Too Large. (net/http
	// allows a further 4 KiB of slack on top of it.)
	MaxHeaderBytes int

	// TLSCertFile and TLSKeyFile are PEM files with the certificate chain
	// and its private key. Both or neither must be set.
	TLSCertFile, TLSKeyFile string
	// TLSSelfSigned serves with an ECDSA P-256 certificate generated in
	// memory at start, for localhost, 127.0.0.1 and ::1, valid for 30
	// days. Its SHA-256 fingerprint is logged so clients can pin it. It
	// excludes TLSCertFile and TLSKeyFile.
	TLSSelfSigned bool
	// TLSMinVersion is the lowest TLS version accepted: tls.VersionTLS12
	// (the default) or tls.VersionTLS13. Anything lower is an error.
	TLSMinVersion uint16

	// Logger receives server events and net/http's own error log. Nil
	// means slog.Default().
	Logger *slog.Logger

	// OnListen, if set, is called once with the address actually bound,
	// before any request is served; with port 0 it is how callers learn
	// the port.
	OnListen func(addr net.Addr)
	// OnTLSCertificate, if set, is called once with the leaf certificate
	// the server presents (self-signed or loaded from TLSCertFile), before
	// any request is served; callers use it to print or trust it.
	OnTLSCertificate func(cert *x509.Certificate)

	// onShutdown is a test hook: net/http calls it once Shutdown has
	// closed the listeners and is waiting for in-flight requests.
	onShutdown func()
}

// withDefaults returns o with defaults filled in, or every problem found.
func (o ServerOptions) withDefaults() (ServerOptions, error) {
	var errs []error
	duration := func(name string, d *time.Duration, def time.Duration) {
		switch {
		case *d < 0:
			errs = append(errs, fmt.Errorf("%s is %s; use a positive duration, or 0 for the default (%s)", name, *d, def))
		case *d == 0:
			*d = def
		}
	}
	duration("read header timeout", &o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	duration("read timeout", &o.ReadTimeout, DefaultReadTimeout)
	duration("idle timeout", &o.IdleTimeout, DefaultIdleTimeout)
	duration("shutdown timeout", &o.ShutdownTimeout, DefaultShutdownTimeout)
	switch {
	case o.MaxHeaderBytes < 0:
		errs = append(errs, fmt.Errorf("max header bytes is %d; use a positive size, or 0 for the default (%d)", o.MaxHeaderBytes, DefaultMaxHeaderBytes))
	case o.MaxHeaderBytes == 0:
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	switch o.TLSMinVersion {
	case 0:
		o.TLSMinVersion = tls.VersionTLS12
	case tls.VersionTLS12, tls.VersionTLS13:
	default:
		errs = append(errs, fmt.Errorf("TLS minimum version %s is not allowed; use TLS 1.2 or TLS 1.3", tls.VersionName(o.TLSMinVersion)))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS needs both a certificate file and a key file; set both or neither"))
	}
	if o.TLSSelfSigned && (o.TLSCertFile != "" || o.TLSKeyFile != "") {
		errs = append(errs, errors.New("a self-signed certificate and certificate files are mutually exclusive; choose one"))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("gateway: invalid server options: %w", err)
	}
	return o, nil
}

// tlsConfig returns the server's TLS configuration and its leaf
// certificate, or nil, nil when TLS is off.
func (o ServerOptions) tlsConfig(now time.Time) (*tls.Config, *x509.Certificate, error) {
	var cert tls.Certificate
	switch {
	case o.TLSSelfSigned:
		var err error
		if cert, err = selfSignedCertificate(now); err != nil {
			return nil, nil, err
		}
		o.Logger.Warn("serving TLS with a self-signed certificate; clients must trust it explicitly",
			slog.String("fingerprint_sha256", fingerprint(cert.Leaf)),
			slog.Time("not_after", cert.Leaf.NotAfter))
	case o.TLSCertFile != "":
		var err error
		if cert, err = tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile); err != nil {
			// The error names the files, never their content.
			return nil, nil, fmt.Errorf("gateway: load TLS certificate %q and key %q: %w; check that both are PEM and belong together", o.TLSCertFile, o.TLSKeyFile, err)
		}
		if cert.Leaf == nil {
			// Go fills Leaf unless GODEBUG x509keypairleaf=0 says not to.
			if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
				return nil, nil, fmt.Errorf("gateway: parse TLS certificate %q: %w", o.TLSCertFile, err)
			}
		}
	default:
		return nil, nil, nil
	}
	return &tls.Config{
		MinVersion:   o.TLSMinVersion,
		Certificates: []tls.Certificate{cert},
		// Cipher suites and curves are left to Go: its defaults are
		// AEAD-only, forward-secret suites, and follow new Go releases
		// (post-quantum key exchange included) without a config change.
		NextProtos: []string{"h2", "http/1.1"},
	}, cert.Leaf, nil
}

// Serve listens on o.Addr and serves h until ctx is canceled, then shuts
// down gracefully: it stops accepting connections, waits up to
// o.ShutdownTimeout for in-flight requests to finish, and returns nil. If
// they do not finish in time it closes their connections and returns an
// error wrapping context.DeadlineExceeded. Invalid options, a failed
// listen or a failed TLS load are returned before anything is served.
func Serve(ctx context.Context, o ServerOptions, h http.Handler) error {
	if h == nil {
		return errors.New("gateway: Serve needs a handler; pass the data-plane handler")
	}
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	tlsConf, leaf, err := o.tlsConfig(time.Now())
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("gateway: listen on %q: %w; check the address and that no other process holds the port", o.Addr, err)
	}
	log := o.Logger
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests see ctx's values but not its cancellation: canceling
		// ctx starts a graceful shutdown, and in-flight requests must be
		// allowed to finish rather than be canceled at once.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if o.onShutdown != nil {
		srv.RegisterOnShutdown(o.onShutdown)
	}
	if o.OnListen != nil {
		o.OnListen(ln.Addr())
	}
	if leaf != nil && o.OnTLSCertificate != nil {
		o.OnTLSCertificate(leaf)
	}

	served := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			// The certificate is in TLSConfig, so no file names here.
			served <- srv.ServeTLS(ln, "", "")
			return
		}
		served <- srv.Serve(ln)
	}()
	log.Info("gateway listening", slog.String("addr", ln.Addr().String()), slog.Bool("tls", tlsConf != nil))

	select {
	case err := <-served:
		// Serve only returns on its own if accepting failed for good;
		// Close drops the connections it leaves behind.
		_ = srv.Close()
		return fmt.Errorf("gateway: serving on %s stopped: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	log.Info("gateway shutting down", slog.Duration("timeout", o.ShutdownTimeout))
	// The shutdown gets its own deadline: ctx is already done.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests are still running (a long stream, a stuck upstream).
		// Close cuts their connections so the process can exit; their
		// handlers see write errors and a canceled context.
		closeErr := srv.Close()
		<-served
		return fmt.Errorf("gateway: in-flight requests did not finish within the %s shutdown timeout and were cut; raise the shutdown timeout if this is routine: %w",
			o.ShutdownTimeout, errors.Join(err, closeErr))
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serving on %s stopped: %w", ln.Addr(), err)
	}
	log.Info("gateway stopped")
	return nil
}
