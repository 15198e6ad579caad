package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestSetupOffWithoutEndpoint(t *testing.T) {
	tp, stop, err := Setup(context.Background(), func(string) (string, bool) { return "", false }, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("t").Start(context.Background(), "x")
	if span.SpanContext().IsValid() {
		t.Error("a span was recorded with tracing off")
	}
	span.End()
	if err := stop(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestSetupExportsToEndpoint(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
	}))
	defer collector.Close()
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}
	tp, stop, err := Setup(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("t").Start(context.Background(), "x")
	if !span.SpanContext().IsValid() {
		t.Fatal("no span recorded with an endpoint set")
	}
	span.End()
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Error("stopping did not flush the span to the collector")
	}
}
