package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The baselines do the same label work with the client library directly,
// so that the cost of the typed layer shows in the same run.

func BenchmarkObserveRequest(b *testing.B) {
	m := New(testOpts)
	req := Request{Route: "chat.completions", Model: "gpt-4o", Provider: "openai", Status: 200, Duration: 800 * time.Millisecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest(req)
		}
	})
}

func BenchmarkObserveUpstream(b *testing.B) {
	m := New(testOpts)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveUpstream("openai", 800*time.Millisecond)
		}
	})
}

func BenchmarkAddTokens(b *testing.B) {
	m := New(testOpts)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.AddTokens("gpt-4o", 1200, 300, 1000)
		}
	})
}

func BenchmarkGuardVerdict(b *testing.B) {
	m := New(testOpts)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.GuardVerdict("pii", "email", "redact")
		}
	})
}

func BenchmarkBaselineCounterVec(b *testing.B) {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total", Help: "h"},
		[]string{"route", "model", "provider", "status_class", "code"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v.WithLabelValues("chat.completions", "gpt-4o", "openai", "2xx", "ok").Inc()
		}
	})
}

// BenchmarkBaselineCounterAndHistogram is what ObserveRequest does, done
// with raw vectors: one counter and one histogram.
func BenchmarkBaselineCounterAndHistogram(b *testing.B) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total", Help: "h"},
		[]string{"route", "model", "provider", "status_class", "code"})
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "request_duration_seconds", Help: "h", Buckets: Buckets},
		[]string{"route", "model"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.WithLabelValues("chat.completions", "gpt-4o", "openai", "2xx", "ok").Inc()
			h.WithLabelValues("chat.completions", "gpt-4o").Observe(0.8)
		}
	})
}
