// Command fakeprovider serves Warden's fake AI provider (package
// providertest) as a standalone process, for the load harness and the SDK
// tests that run outside Go. It prints "listening on URL" once it accepts
// connections and stops cleanly on SIGINT or SIGTERM.
//
//	fakeprovider -addr 127.0.0.1:0 -key sk-test -latency 20ms -chunks 10
//
// The expected provider key comes from -key or, when that is empty, from
// FAKE_PROVIDER_KEY; with neither, any key is accepted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wardenproject/warden/internal/providertest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fakeprovider:", err)
		}
		os.Exit(2)
	}
}

// run serves until ctx ends. It writes the listening line to stdout and
// flag errors and logs to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakeprovider", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0 picks a free port; the URL is printed)")
	key := fs.String("key", "", "provider key to expect (default $FAKE_PROVIDER_KEY; empty accepts any)")
	latency := fs.Duration("latency", 0, "delay before each response")
	chunks := fs.Int("chunks", providertest.DefaultChunks, "content chunks per streamed response")
	interval := fs.Duration("chunk-interval", 0, "delay between streamed content chunks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: all settings are flags (see -h)", fs.Args())
	}
	if *chunks < 1 || *latency < 0 || *interval < 0 {
		return errors.New("-chunks must be at least 1 and -latency and -chunk-interval not negative")
	}
	if *key == "" {
		*key = getenv("FAKE_PROVIDER_KEY")
	}

	h := providertest.NewHandler(providertest.Options{
		Key:           *key,
		Chunks:        *chunks,
		Latency:       *latency,
		ChunkInterval: *interval,
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (choose a free address with -addr)", *addr, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr()); err != nil {
		_ = srv.Close()
		return fmt.Errorf("writing the listening line: %w", err)
	}
	log.Info("fake provider started", "addr", ln.Addr().String(), "key_required", *key != "",
		"latency", *latency, "chunks", *chunks)

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	// Stalled requests only end when their clients leave; release them so
	// that shutdown does not wait on a client that never will.
	h.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	log.Info("fake provider stopped")
	return nil
}
