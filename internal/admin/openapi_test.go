package admin

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/monitor/alert"
)

// TestOpenAPIDocumentIsValid loads the embedded document and validates it
// as OpenAPI 3.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, err := spec()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.yaml is OpenAPI %q, want 3.x", doc.OpenAPI)
	}
	if doc.Components == nil || doc.Components.SecuritySchemes["bearerAuth"] == nil {
		t.Fatal("openapi.yaml has no bearerAuth security scheme")
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"].Value; s.Type != "http" || s.Scheme != "bearer" {
		t.Fatalf("bearerAuth is %s %s, want http bearer", s.Type, s.Scheme)
	}
}

// TestOpenAPIDescribesEveryRoute compares the (method, path) pairs of the
// document with the route table the handler serves from, both ways, and
// checks that the operation ids, the security and the path parameters
// agree.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	var documented, served []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			documented = append(documented, key)
			rt := findRoute(method, path)
			if rt == nil {
				continue
			}
			if op.OperationID != rt.op {
				t.Errorf("%s: operationId %q, the code calls it %q", key, op.OperationID, rt.op)
			}
			public := op.Security != nil && len(*op.Security) == 0
			if public != rt.public {
				t.Errorf("%s: public in the document %v, in the code %v", key, public, rt.public)
			}
			var params []string
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value.In == "path" {
					params = append(params, p.Value.Name)
				}
			}
			var want []string
			for _, s := range rt.segs {
				if name, ok := strings.CutPrefix(s, "{"); ok {
					want = append(want, strings.TrimSuffix(name, "}"))
				}
			}
			if !slices.Equal(params, want) {
				t.Errorf("%s: path parameters %v in the document, %v in the route", key, params, want)
			}
			if !public {
				for _, status := range []string{"401", "403", "429", "500", "503"} {
					if op.Responses.Value(status) == nil {
						t.Errorf("%s: no %s response documented", key, status)
					}
				}
			}
		}
	}
	for _, rt := range compiledRoutes {
		served = append(served, rt.method+" "+rt.pattern)
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, k := range served {
		if !slices.Contains(documented, k) {
			t.Errorf("%s is served but not in openapi.yaml", k)
		}
	}
	for _, k := range documented {
		if !slices.Contains(served, k) {
			t.Errorf("%s is in openapi.yaml but not served", k)
		}
	}
	if len(served) < 20 {
		t.Errorf("only %d routes served", len(served))
	}
}

func findRoute(method, pattern string) *route {
	for _, rt := range compiledRoutes {
		if rt.method == method && rt.pattern == pattern {
			return rt
		}
	}
	return nil
}

// TestOpenAPIServed checks that the document is served, unauthenticated,
// as the embedded bytes.
func TestOpenAPIServed(t *testing.T) {
	r := newRig(t)
	rec := r.do(req{method: "GET", path: "/admin/v1/openapi.yaml"})
	if rec.Code != 200 || rec.Body.String() != string(OpenAPI()) || !strings.Contains(rec.Header().Get("Content-Type"), "yaml") {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// TestOpenAPIAuditAndAlertShapes sends audit and alert responses with
// every optional part filled (verdicts, a payload, a cursor, an
// acknowledged alert with observed text) through the document's
// validator, which fails the test on any mismatch.
func TestOpenAPIAuditAndAlertShapes(t *testing.T) {
	r := newRig(t)
	r.appendAudit(audit.Record{Time: t0, RequestID: "full", Kind: audit.KindCall, Action: "chat.completions", KeyID: r.id("user"),
		Principal: audit.Principal{User: "uma", Team: "ml", Role: "user"}, ClientIP: "192.0.2.1", UserAgent: "curl/8", Route: "/v1/chat/completions",
		Model: "gpt-4o", Provider: "openai", Deployment: "openai/gpt-4o#0", Status: 200, Latency: 1500 * time.Millisecond,
		TokensIn: 10, TokensOut: 5, Cost: 3000, Verdicts: []audit.Verdict{{Class: "pii", Type: "email", Action: "redact", Count: 2}},
		Retries: 1, Fallbacks: 1, Payload: `{"messages":"[EMAIL]"}`})
	r.saveAlert(alert.Alert{ID: "acked", Subject: alert.Subject{Kind: alert.SubjectIP, ID: "198.51.100.0/24"}}, t0)
	if err := r.alerts.AckAlert(t.Context(), "acked", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	r.saveAlert(alert.Alert{ID: "text", Subject: alert.Subject{Kind: alert.SubjectKeyPrefix, ID: "wdn_x"},
		Observed: alert.Observation{Metric: "user_agent", Text: "curl/8"}}, t0)

	for _, q := range []struct {
		as, path, want string
	}{
		{"auditor", "/admin/v1/audit?after_seq=6", `"class":"pii"`},
		{"auditor", "/admin/v1/audit?limit=1", `"next_after_seq":1`},
		{"user", "/admin/v1/audit?limit=1&kind=call", `"next_after_seq":1`},
		{"auditor", "/admin/v1/audit?limit=1&after_seq=7", `"next_after_seq":null`},
		{"admin", "/admin/v1/alerts?since=0m", `"acked_at":"2026-03-10T12:01:00Z"`},
		{"manager", "/admin/v1/alerts", `"data":[`},
	} {
		rec := r.do(req{method: "GET", path: q.path, as: q.as})
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), q.want) {
			t.Errorf("%s %s: %d, want %s in %s", q.as, q.path, rec.Code, q.want, rec.Body.String())
		}
	}
}
