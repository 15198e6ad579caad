package keys_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/keys"
)

func TestAllowsRoute(t *testing.T) {
	tests := []struct {
		routes []string
		path   string
		want   bool
	}{
		{nil, "/anything/at/all", true},
		{nil, "/v1/../admin", true}, // no routes: no restriction to get around
		{[]string{"/v1/chat/completions"}, "/v1/chat/completions", true},
		{[]string{"/v1/chat/completions"}, "/v1/chat/completions/", false},
		{[]string{"/v1/chat/completions"}, "/v1/embeddings", false},
		{[]string{"/v1/*"}, "/v1/models", true},
		{[]string{"/v1/*"}, "/v1/chat/completions", true},
		{[]string{"/v1/*"}, "/v1/", true},
		{[]string{"/v1/*"}, "/v1", false},
		{[]string{"/v1/*"}, "/v10/models", false},
		{[]string{"/v1/*"}, "/v2/models", false},
		{[]string{"/v1/*"}, "/v1/../admin/keys", false},
		{[]string{"/v1/*"}, "/v1/./models", false},
		{[]string{"/v1/*"}, "/v1//models", false},
		{[]string{"/v1/*"}, "v1/models", false},
		{[]string{"/v1/*"}, "", false},
		{[]string{"/proxy/iris/*"}, "/proxy/iris/predict", true},
		{[]string{"/proxy/iris/*"}, "/proxy/iris2/predict", false},
		{[]string{"/proxy/*/predict"}, "/proxy/iris/predict", true},
		{[]string{"/proxy/*/predict"}, "/proxy/iris/v2/predict", false},
		{[]string{"/proxy/*/*"}, "/proxy/iris/v2/predict", true},
		{[]string{"/proxy/*/*"}, "/proxy/iris", false},
		{[]string{"/v1/audio/*", "/v1/models"}, "/v1/models", true},
		{[]string{"/v1/audio/*", "/v1/models"}, "/v1/audio/speech", true},
		{[]string{"/v1/audio/*", "/v1/models"}, "/v1/chat/completions", false},
		{[]string{"/*"}, "/anything/deep", true},
		{[]string{"/*"}, "/", true},
		{[]string{"/"}, "/", true},
		{[]string{"/"}, "/v1", false},
		{[]string{"/v1/[a-c]*"}, "/v1/chat", true},
		{[]string{"/v1/[a-c]*"}, "/v1/models", false},
	}
	for _, tc := range tests {
		k := keys.Key{Routes: tc.routes}
		if got := k.AllowsRoute(tc.path); got != tc.want {
			t.Errorf("routes %q: AllowsRoute(%q) = %v, want %v", tc.routes, tc.path, got, tc.want)
		}
	}
}

func TestAllowsIP(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	tests := []struct {
		ips  []netip.Prefix
		addr string // "" is the zero Addr
		want bool
	}{
		{nil, "203.0.113.9", true},
		{nil, "", true},
		{pfx("10.0.0.0/8"), "10.1.2.3", true},
		{pfx("10.0.0.0/8"), "11.0.0.1", false},
		{pfx("10.0.0.0/8"), "::ffff:10.1.2.3", true},
		{pfx("10.0.0.0/8"), "::ffff:11.1.2.3", false},
		{pfx("10.0.0.0/8"), "", false},
		{pfx("192.0.2.7/32"), "192.0.2.7", true},
		{pfx("192.0.2.7/32"), "192.0.2.8", false},
		{pfx("2001:db8::/32"), "2001:db8::1", true},
		{pfx("2001:db8::/32"), "2001:db8::1%eth0", true},
		{pfx("2001:db8::/32"), "2001:db9::1", false},
		{pfx("2001:db8::/32"), "10.0.0.1", false},
		{pfx("10.0.0.0/8", "::1/128"), "::1", true},
		{pfx("10.0.0.0/8", "::1/128"), "127.0.0.1", false},
		{pfx("0.0.0.0/0"), "198.51.100.1", true},
		{pfx("0.0.0.0/0"), "2001:db8::1", false},
	}
	for _, tc := range tests {
		var a netip.Addr
		if tc.addr != "" {
			a = netip.MustParseAddr(tc.addr)
		}
		k := keys.Key{IPs: tc.ips}
		if got := k.AllowsIP(a); got != tc.want {
			t.Errorf("ips %v: AllowsIP(%q) = %v, want %v", tc.ips, tc.addr, got, tc.want)
		}
	}
}

func TestParseIPPrefix(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
		msg      string
	}{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{" 10.0.0.0/8 ", "10.0.0.0/8", ""},
		{"192.0.2.7", "192.0.2.7/32", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"2001:db8::/32", "2001:db8::/32", ""},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", ""},
		{"::ffff:192.0.2.7", "192.0.2.7/32", ""},
		{"10.1.2.3/8", "", "10.0.0.0/8"},
		{"10.0.0.0/33", "", "not an IP address"},
		{"10.0.0", "", "not an IP address"},
		{"fe80::1%eth0", "", "not an IP address"},
		{"", "", "not an IP address"},
		{"example.com", "", "not an IP address"},
	}
	for _, tc := range tests {
		got, err := keys.ParseIPPrefix(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseIPPrefix(%q) = %v, want an error", tc.in, got)
		case tc.want == "" && !strings.Contains(err.Error(), tc.msg):
			t.Errorf("ParseIPPrefix(%q) error %q lacks %q", tc.in, err, tc.msg)
		case tc.want != "" && (err != nil || got.String() != tc.want):
			t.Errorf("ParseIPPrefix(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseIPPrefix: whatever it accepts is masked, never IPv4-mapped, and
// reads back as itself.
func FuzzParseIPPrefix(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7", "::ffff:10.0.0.0/104", "2001:db8::/32", "1.2.3.4/40", "::/0", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := keys.ParseIPPrefix(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() {
			t.Fatalf("ParseIPPrefix(%q) = %v: not valid, masked and unmapped", s, p)
		}
		again, err := keys.ParseIPPrefix(p.String())
		if err != nil || again != p {
			t.Fatalf("ParseIPPrefix(%q) = %v does not read back (%v, %v)", s, p, again, err)
		}
	})
}

// FuzzAllowsRoute checks AllowsRoute against plain string rules for two
// patterns whose meaning is easy to state: a literal path, and a subtree.
func FuzzAllowsRoute(f *testing.F) {
	for _, s := range []string{"/v1/models", "/v1/chat/completions", "/v1/../x", "/v1", "/v1/", "//v1/x", "/v1/a/./b"} {
		f.Add(s)
	}
	literal := keys.Key{Routes: []string{"/v1/models"}}
	subtree := keys.Key{Routes: []string{"/v1/*"}}
	f.Fuzz(func(t *testing.T, p string) {
		if got := literal.AllowsRoute(p); got != (p == "/v1/models") {
			t.Fatalf("literal route: AllowsRoute(%q) = %v", p, got)
		}
		want := strings.HasPrefix(p, "/v1/")
		for _, seg := range strings.Split(strings.TrimPrefix(p, "/v1/"), "/") {
			if seg == "." || seg == ".." {
				want = false
			}
		}
		if strings.Contains(p, "//") {
			want = false
		}
		if got := subtree.AllowsRoute(p); got != want {
			t.Fatalf("subtree route: AllowsRoute(%q) = %v, want %v", p, got, want)
		}
	})
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"ml-platform", true},
		{"ada.lovelace+ai@example.com", true},
		{"équipe_2", true},
		{"", false},
		{"-team", false},
		{"two words", false},
		{"a/b", false},
		{"a,b", false},
		{strings.Repeat("a", 129), false},
		{"wdn_" + strings.Repeat("A", 40), false},
	} {
		err := keys.CheckName("team", tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && strings.Contains(tc.name, keys.Prefix) && strings.Contains(err.Error(), tc.name) {
			t.Errorf("CheckName echoed a key-like name: %v", err)
		}
	}
}

// BenchmarkPolicyChecks measures the per-request route and IP checks of a
// key with a realistic policy.
func BenchmarkPolicyChecks(b *testing.B) {
	k := keys.Key{
		Routes: []string{"/v1/chat/completions", "/v1/embeddings", "/proxy/iris/*", "/v1/audio/*"},
		IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16"),
			netip.MustParsePrefix("2001:db8::/32")},
	}
	addr := netip.MustParseAddr("::ffff:192.168.7.9")
	b.ReportAllocs()
	for b.Loop() {
		if !k.AllowsRoute("/proxy/iris/v2/predict") || !k.AllowsIP(addr) {
			b.Fatal("refused")
		}
	}
}
