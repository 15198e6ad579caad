// Command iris is a small self-hosted model server: a multinomial logistic
// regression trained at start on Fisher's iris data, served over HTTP.
//
// It is the model a team would put behind Warden. It has no
// authentication of its own on purpose: it listens on loopback, and Warden
// in front of it adds keys, limits and the audit trail. See README.md.
//
//	POST /predict  {"features":[5.1,3.5,1.4,0.2]} or {"instances":[[...],...]}
//	GET  /model    classes, features, held-out accuracy, training time
//	GET  /healthz  liveness
package main

import (
	"context"
	"embed"
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
)

// data holds the training set, so the binary needs no files at run time.
//
//go:embed iris.csv
var data embed.FS

// HTTP server limits. The requests are small and fast to score; anything
// slower than this is a stuck or hostile client.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 10 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownTimeout   = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr, time.Now)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "iris:", err)
		os.Exit(1)
	}
}

// run trains the model, then serves until ctx is canceled. Logs go to
// stderr as JSON lines.
func run(ctx context.Context, args []string, stderr io.Writer, now func() time.Time) error {
	fs := flag.NewFlagSet("iris", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on; keep it loopback or private so Warden is the only way in")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; the only flag is -addr", fs.Args())
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	m, info, err := trainEmbedded(now)
	if err != nil {
		return err
	}
	log.Info("model trained",
		slog.String("algorithm", info.Algorithm),
		slog.Float64("held_out_accuracy", info.Accuracy),
		slog.Int("train_rows", info.TrainRows),
		slog.Int("test_rows", info.TestRows),
		slog.Float64("train_loss", m.loss),
		slog.Any("classes", info.Classes))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (pick another -addr)", *addr, err)
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()))
	if !isLoopback(ln.Addr()) {
		log.Warn("listening beyond loopback: this server has no authentication, so make sure only Warden can reach this address",
			slog.String("addr", ln.Addr().String()))
	}
	return serve(ctx, ln, newServer(m, info, log), log)
}

// trainEmbedded trains on the embedded data with the default options and
// measures accuracy on the held-out rows.
func trainEmbedded(now func() time.Time) (*model, modelInfo, error) {
	f, err := data.Open("iris.csv")
	if err != nil {
		return nil, modelInfo{}, fmt.Errorf("open embedded iris data: %w", err)
	}
	defer f.Close()
	ds, err := parseCSV(f)
	if err != nil {
		return nil, modelInfo{}, err
	}
	trainSet, testSet := ds.split()
	o := defaultTrainOptions()
	o.Now = now
	m, err := train(trainSet, o)
	if err != nil {
		return nil, modelInfo{}, err
	}
	return m, modelInfo{
		Algorithm: "multinomial logistic regression",
		Classes:   m.classes,
		Features:  featureNames,
		Accuracy:  m.accuracy(testSet),
		TrainRows: len(trainSet.x),
		TestRows:  len(testSet.x),
		TrainedAt: m.trainedAt,
	}, nil
}

// isLoopback reports whether a is a loopback TCP address.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// serve answers on ln until ctx is canceled, then stops accepting and lets
// requests in flight finish, for at most shutdownTimeout.
func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.String("reason", context.Cause(ctx).Error()))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: requests still running after %s were cut off: %w", shutdownTimeout, err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	log.Info("stopped")
	return nil
}
