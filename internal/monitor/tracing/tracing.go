// Package tracing sets up OpenTelemetry tracing: spans of every gateway
// call and of its upstream attempts, exported over OTLP/HTTP when an
// endpoint is configured the standard way (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). Without one, tracing is off and
// costs nothing.
package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Setup returns a tracer provider for Warden and a function that flushes
// and stops it. lookup reads the environment. With no OTLP endpoint set,
// the provider is a no-op.
func Setup(ctx context.Context, lookup func(string) (string, bool), version string) (trace.TracerProvider, func(context.Context) error, error) {
	var opts []otlptracehttp.Option
	if u, ok := lookup("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); ok && u != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(u))
	} else if u, ok := lookup("OTEL_EXPORTER_OTLP_ENDPOINT"); ok && u != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(u+"/v1/traces"))
	} else {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: the OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("warden"), semconv.ServiceVersion(version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}
