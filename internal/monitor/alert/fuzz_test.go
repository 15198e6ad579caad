package alert_test

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/monitor/alert"
)

// FuzzValidateURL checks webhook URL validation on any input: it never
// panics, what it accepts is an absolute http(s) URL without credentials
// whose plain-http form only reaches a loopback host, and its errors never
// quote the input, which may hold a credential.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{
		"https://hooks.example.com/services/T/B/x", "http://127.0.0.1:9000/hook", "http://[::1]/",
		"http://localhost/", "http://example.com/", "https://user:pw@example.com/", "ftp://x/",
		"https://example.com:99999/", "https://%zz/", "http://[::ffff:127.0.0.1]/", "https:opaque",
		"HTTPS://EXAMPLE.COM/", "http://127.0.0.1.nip.io/", "https://example.com/#x", "//example.com/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := alert.ValidateURL(raw)
		if err != nil {
			if len(raw) >= 12 && strings.Contains(err.Error(), raw) {
				t.Fatalf("the error quotes the input: %v", err)
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("accepted %q, which does not parse: %v", raw, perr)
		}
		if u.Scheme != "https" && u.Scheme != "http" {
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
		if u.Host == "" || u.Hostname() == "" || u.User != nil || u.Fragment != "" {
			t.Fatalf("accepted %q: host %q, user %v, fragment %q", raw, u.Host, u.User, u.Fragment)
		}
		if u.Scheme == "http" {
			h := u.Hostname()
			addr, aerr := netip.ParseAddr(h)
			if !strings.EqualFold(h, "localhost") && (aerr != nil || !addr.Unmap().IsLoopback()) {
				t.Fatalf("accepted plain http to %q", h)
			}
		}
	})
}
