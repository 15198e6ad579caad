package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that the server goroutines and the test may
// share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func nopLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// liveServer is a server started by startServer.
type liveServer struct {
	addr   string
	cert   *x509.Certificate // set when TLS is on
	cancel context.CancelFunc
	done   chan error // receives Serve's result
}

// startServer runs Serve in the background and returns once it listens.
// The server is stopped at the end of the test if the test did not.
func startServer(t *testing.T, o ServerOptions, h http.Handler) *liveServer {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = nopLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan net.Addr, 1)
	certs := make(chan *x509.Certificate, 1)
	o.OnListen = func(a net.Addr) { listening <- a }
	o.OnTLSCertificate = func(c *x509.Certificate) { certs <- c }
	r := &liveServer{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Serve(ctx, o, h) }()
	select {
	case a := <-listening:
		r.addr = a.String()
	case err := <-r.done:
		cancel()
		t.Fatalf("Serve returned before listening: %v", err)
	}
	if o.TLSSelfSigned || o.TLSCertFile != "" {
		r.cert = <-certs
	}
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// stop cancels the server's context and returns Serve's result.
func (r *liveServer) stop() error {
	r.cancel()
	err := <-r.done
	r.done <- err // for the cleanup
	return err
}

func TestServeGracefulShutdownDrainsInFlightRequest(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	shuttingDown := make(chan struct{})
	srv := startServer(t, ServerOptions{onShutdown: func() { close(shuttingDown) }}, h)

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + srv.addr + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-started

	srv.cancel()
	<-shuttingDown // the listener is closed; the request is still running
	if c, err := net.Dial("tcp", srv.addr); err == nil {
		c.Close()
		t.Error("a new connection was accepted during shutdown")
	}
	close(release)

	res := <-got
	if res.err != nil || res.status != http.StatusOK || res.body != "finished" {
		t.Errorf("in-flight request = %d %q, %v; want 200 \"finished\"", res.status, res.body, res.err)
	}
	if err := srv.stop(); err != nil {
		t.Errorf("Serve = %v; want nil after a clean shutdown", err)
	}
}

func TestServeShutdownTimeoutCutsRequests(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release // never released before Serve has returned
	})
	srv := startServer(t, ServerOptions{ShutdownTimeout: time.Millisecond}, h)

	clientErr := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + srv.addr + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()
	<-started

	err := srv.stop()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve = %v; want an error wrapping context.DeadlineExceeded", err)
	}
	if err := <-clientErr; err == nil {
		t.Error("the stuck request got a response; want its connection cut")
	}
}

func TestServeSelfSignedTLS(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})
	srv := startServer(t, ServerOptions{TLSSelfSigned: true}, h)

	if got := srv.cert.NotAfter.Sub(srv.cert.NotBefore); got < selfSignedValidity || got > selfSignedValidity+time.Hour {
		t.Errorf("certificate validity = %s; want about %s", got, selfSignedValidity)
	}
	if k, ok := srv.cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("certificate key is %T; want ECDSA P-256", srv.cert.PublicKey)
	}
	roots := x509.NewCertPool()
	roots.AddCert(srv.cert)
	_, port, _ := net.SplitHostPort(srv.addr)

	tests := []struct {
		name      string
		host      string
		min, max  uint16
		roots     *x509.CertPool
		wantProto string           // if the request must succeed
		wantErr   func(error) bool // if it must fail
	}{
		{"TLS 1.3 by IP", "127.0.0.1", tls.VersionTLS13, tls.VersionTLS13, roots, "HTTP/2.0", nil},
		{"TLS 1.2 by name", "localhost", tls.VersionTLS12, tls.VersionTLS12, roots, "HTTP/2.0", nil},
		{"TLS 1.1 refused", "127.0.0.1", tls.VersionTLS10, tls.VersionTLS11, roots, "", func(err error) bool {
			// The server's alert, as RFC 8446 names it: the client did
			// offer TLS 1.1 and the server said no.
			return strings.Contains(err.Error(), "protocol version")
		}},
		{"untrusted client refuses", "127.0.0.1", tls.VersionTLS12, tls.VersionTLS13, x509.NewCertPool(), "", func(err error) bool {
			var unknown x509.UnknownAuthorityError
			return errors.As(err, &unknown)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{
				TLSClientConfig: &tls.Config{
					RootCAs:    tt.roots,
					MinVersion: tt.min,
					MaxVersion: tt.max,
				},
				ForceAttemptHTTP2: true,
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get("https://" + net.JoinHostPort(tt.host, port) + "/")
			if tt.wantErr != nil {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded; want a failed handshake")
				}
				if !tt.wantErr(err) {
					t.Fatalf("request failed with %v; not the expected refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if string(b) != tt.wantProto || resp.TLS == nil || resp.TLS.Version != tt.max {
				t.Errorf("served %q over TLS %+v; want %s over %s", b, resp.TLS, tt.wantProto, tls.VersionName(tt.max))
			}
		})
	}
}

func TestServeTLSFromFiles(t *testing.T) {
	cert, err := selfSignedCertificate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", cert.Certificate[0])
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)

	srv := startServer(t, ServerOptions{TLSCertFile: certFile, TLSKeyFile: keyFile},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if !srv.cert.Equal(cert.Leaf) {
		t.Fatal("OnTLSCertificate did not report the certificate from the file")
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get("https://" + srv.addr + "/")
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestServeHeaderLimit(t *testing.T) {
	const limit = 1 << 10
	srv := startServer(t, ServerOptions{MaxHeaderBytes: limit},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tests := []struct {
		name       string
		headerSize int
		want       int
	}{
		{"small", 100, http.StatusOK},
		// net/http allows 4 KiB of slack above MaxHeaderBytes.
		{"too large", limit + 8<<10, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+srv.addr+"/", nil)
			req.Header.Set("X-Padding", strings.Repeat("a", tt.headerSize))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d; want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestServeCutsSlowHeaders(t *testing.T) {
	srv := startServer(t, ServerOptions{ReadHeaderTimeout: 50 * time.Millisecond},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Error("the handler ran for a request whose headers never finished")
		}))
	conn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Trickle a header that never ends, one byte at a time, until the
	// server hangs up. Progress must not extend the deadline.
	stopTrickle := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: warden\r\n"); err != nil {
			return
		}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopTrickle:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("X")); err != nil {
					return
				}
			}
		}
	}()

	// The deadline only keeps a broken server from hanging the test; it
	// does not measure anything.
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	// ReadAll returns at EOF, i.e. once the server has closed.
	got, err := io.ReadAll(conn)
	close(stopTrickle)
	<-trickled
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept the slow connection open")
	}
	// net/http may say 400 before hanging up (it does once part of a
	// header line has arrived); it must not answer anything else.
	if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 400 ") {
		t.Fatalf("the server answered %q; want the connection closed", got)
	}
}

func TestServeRejectsBadOptions(t *testing.T) {
	ok := http.NotFoundHandler()
	tests := []struct {
		name string
		o    ServerOptions
		h    http.Handler
		want string // substring of the error
	}{
		{"no handler", ServerOptions{}, nil, "needs a handler"},
		{"TLS 1.1", ServerOptions{TLSMinVersion: tls.VersionTLS11}, ok, "TLS 1.1 is not allowed"},
		{"TLS 1.0", ServerOptions{TLSMinVersion: tls.VersionTLS10}, ok, "TLS 1.0 is not allowed"},
		{"cert without key", ServerOptions{TLSCertFile: "c.pem"}, ok, "both a certificate file and a key file"},
		{"self-signed and files", ServerOptions{TLSSelfSigned: true, TLSCertFile: "c.pem", TLSKeyFile: "k.pem"}, ok, "mutually exclusive"},
		{"negative timeout", ServerOptions{ReadHeaderTimeout: -time.Second}, ok, "read header timeout is -1s"},
		{"negative header size", ServerOptions{MaxHeaderBytes: -1}, ok, "max header bytes is -1"},
		{"missing cert file", ServerOptions{TLSCertFile: "/nonexistent/c.pem", TLSKeyFile: "/nonexistent/k.pem"}, ok, `"/nonexistent/c.pem"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Addr = "127.0.0.1:0"
			tt.o.Logger = nopLogger()
			tt.o.OnListen = func(net.Addr) { t.Error("Serve listened despite invalid options") }
			err := Serve(context.Background(), tt.o, tt.h)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Serve = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestServeReportsEveryOptionProblem(t *testing.T) {
	err := Serve(context.Background(), ServerOptions{IdleTimeout: -1, ShutdownTimeout: -1, TLSMinVersion: tls.VersionTLS11}, http.NotFoundHandler())
	for _, want := range []string{"idle timeout", "shutdown timeout", "TLS 1.1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Serve = %v; want it to mention %q", err, want)
		}
	}
}

func TestServeListenError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	err = Serve(context.Background(), ServerOptions{Addr: taken.Addr().String(), Logger: nopLogger()}, http.NotFoundHandler())
	if err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("Serve on a taken port = %v; want an error naming the address", err)
	}
}

// TestServeStack runs the skeleton as main will wire it, over a real
// listener: request id outermost, then the access log, then the probes.
func TestServeStack(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	failing := errors.New("dial 10.1.2.3:5432: password authentication failed for warden_canary")
	checks := []Check{
		{Name: "store", Func: func(context.Context) error { return nil }},
		{Name: "redis", Func: func(context.Context) error { return failing }},
	}
	h := RequestID(AccessLog(log)(Health(checks, log)))
	srv := startServer(t, ServerOptions{Logger: log}, h)

	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/healthz", http.StatusOK, `{"status":"ok"}`},
		{"/readyz?token=query_canary", http.StatusServiceUnavailable, `{"status":"unavailable","checks":{"redis":"failing","store":"ok"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get("http://" + srv.addr + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || strings.TrimSpace(string(b)) != tt.wantBody {
				t.Errorf("GET %s = %d %s; want %d %s", tt.path, resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
			if !validRequestID(resp.Header.Get(HeaderRequestID)) {
				t.Errorf("X-Request-Id = %q", resp.Header.Get(HeaderRequestID))
			}
		})
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Contains(out, "query_canary") {
		t.Error("a query string reached the log")
	}
	if !strings.Contains(out, "warden_canary") {
		t.Error("the failing check's error was not logged")
	}
}
