package admin

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/apperr"
)

// FuzzDecodeBodies feeds arbitrary bodies to every request type: decoding
// and turning the result into the key manager's types must never panic,
// and every refusal must be a 400 (or 413) that repeats no key.
func FuzzDecodeBodies(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","models":["gpt-4o"],"ips":["10.0.0.0/8"],"limits":{"rpm":1},"budget":{"limit_usd":"5","period":"day"},"ttl":"1h"}`,
		`{"name":null,"models":null,"limits":{"rpm":null},"budget":null,"expires_at":null}`,
		`{"limits":null}`, `{"grace":"1h"}`, `{"team":"ml","role":"user"}`, `[]`, `null`, `{"a":1}`, `{"name":"a"} x`,
		`{"budget":{"limit_usd":"1e-9"}}`, `{"expires_at":"2026-01-01T00:00:00Z"}`, `{"ips":["wdn_x"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, err error) {
			if err == nil {
				return
			}
			e := apperr.From(bodyError(err))
			if s := e.HTTPStatus(); s != 400 && s != 413 {
				t.Fatalf("%s: status %d for %q: %v", what, s, body, err)
			}
			if strings.Contains(e.Message, "wdn_") {
				t.Fatalf("%s: the message repeats a key-like value: %q", what, e.Message)
			}
		}
		var kc keyCreate
		if err := decodeJSON(body, &kc); err != nil {
			check("keyCreate", err)
		} else {
			_, err := kc.spec()
			check("keyCreate spec", err)
		}
		var kp keyPatch
		if err := decodeJSON(body, &kp); err != nil {
			check("keyPatch", err)
		} else {
			_, err := kp.update()
			check("keyPatch update", err)
		}
		var tp teamPatch
		if err := decodeJSON(body, &tp); err != nil {
			check("teamPatch", err)
		} else {
			_, err := budgetUpdate(tp.Budget)
			check("teamPatch budget", err)
			_ = limitsUpdate(tp.Limits)
		}
		var up userPatch
		check("userPatch", decodeJSON(body, &up))
		var uc userCreate
		check("userCreate", decodeJSON(body, &uc))
		var ro rotateIn
		check("rotate", decodeJSON(body, &ro))
	})
}

// FuzzUsageQuery feeds arbitrary query strings to the usage parser: it
// must not panic, must refuse with 400, and must give a valid query when
// it accepts.
func FuzzUsageQuery(f *testing.F) {
	for _, s := range []string{"by=model", "by=key&since=7d&until=1h", "since=2026-01-01T00:00:00Z", "by=x", "a=1", "by=day&by=day",
		"since=99999999999d", "until=-1h", "team=ml&user=u&key=k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseUsageQuery(v, t0)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.HTTPStatus() != 400 {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if err := q.Check(); err != nil {
			t.Fatalf("%q: accepted an invalid query: %v", raw, err)
		}
	})
}

// FuzzAuditQuery feeds arbitrary query strings to the audit parser: it
// must not panic, must refuse with 400, and must give a valid query with
// a page size in range when it accepts.
func FuzzAuditQuery(f *testing.F) {
	for _, s := range []string{"", "since=7d&until=1h", "kind=call&action=key.create&key=key_0000000000000000", "limit=1000",
		"limit=0", "after_seq=9223372036854775807", "after_seq=-1", "kind=x", "kind=call&kind=call", "since=1h&until=2h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseAuditQuery(v, t0)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.HTTPStatus() != 400 {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if err := q.Check(); err != nil || q.Limit < 1 || q.Limit > maxAuditLimit {
			t.Fatalf("%q: accepted an invalid query (limit %d): %v", raw, q.Limit, err)
		}
	})
}

// FuzzMatch feeds arbitrary paths to the router: it must not panic, and a
// match must be a route whose parameters are single, non-empty segments.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"/admin/v1/keys", "/admin/v1/keys/key_abc/rotate", "/admin/v1/teams/ml%2Fx", "/admin/v1//keys",
		"/admin/v1/keys/../teams", "/admin/v1/teams/%zz", "admin", ""} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		rt, params, allow := match(compiledRoutes, method, path)
		if rt == nil {
			for _, m := range allow {
				if m == method {
					t.Fatalf("%s %q: no match, yet the method is allowed", method, path)
				}
			}
			return
		}
		if rt.method != method {
			t.Fatalf("%s %q matched %s %s", method, path, rt.method, rt.pattern)
		}
		for name, v := range params {
			if v == "" || strings.Contains(v, "/") || v == "." || v == ".." {
				t.Fatalf("%s %q: parameter %s = %q", method, path, name, v)
			}
		}
	})
}
