package keys

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wardenproject/warden/internal/meter"
)

// Roles a key or a user can have. They are plain strings here, because
// package auth, which decides what each may do, imports this one; auth.Role
// converts them.
const (
	// RoleAdmin may do everything on the admin plane. Data-plane limits
	// and budgets apply to an admin key all the same.
	RoleAdmin = "admin"
	// RoleManager manages the keys and budgets of their own team.
	RoleManager = "manager"
	// RoleUser calls the data plane; it is the default.
	RoleUser = "user"
	// RoleAuditor reads usage and audit records and changes nothing.
	RoleAuditor = "auditor"
)

// Roles lists every role, most powerful first.
var Roles = []string{RoleAdmin, RoleManager, RoleUser, RoleAuditor}

// ValidRole reports whether r is one of Roles.
func ValidRole(r string) bool { return slices.Contains(Roles, r) }

// Limits bound how fast a key, user or team may call. Zero means no limit;
// none is ever negative.
type Limits struct {
	// RPS and RPM are requests per second and per minute.
	RPS, RPM int64
	// TPM is tokens (input and output) per minute.
	TPM int64
	// MaxParallel is how many calls may be in flight at once.
	MaxParallel int64
}

// IsZero reports whether l limits nothing.
func (l Limits) IsZero() bool { return l == Limits{} }

// LimitsUpdate changes some of a Limits: a nil field is left alone, and a
// field set to zero removes that limit.
type LimitsUpdate struct {
	RPS, RPM, TPM, MaxParallel *int64
}

// apply returns l with u's fields set.
func (u LimitsUpdate) apply(l Limits) Limits {
	for _, f := range []struct {
		src *int64
		dst *int64
	}{{u.RPS, &l.RPS}, {u.RPM, &l.RPM}, {u.TPM, &l.TPM}, {u.MaxParallel, &l.MaxParallel}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return l
}

// FieldError is a refused value, named by the field it was given for, so
// that the CLI can point at a flag and the admin API at a request field.
// Err, when set, is a sentinel the caller may match (ErrNotFound for a
// team or user that does not exist).
type FieldError struct {
	Field   string
	Problem string
	Err     error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Unwrap returns e.Err.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

const (
	maxRoutes  = 256
	maxIPs     = 256
	maxTags    = 64
	maxTagLen  = 64
	maxNameRef = 128 // team and user names
)

// AllowsRoute reports whether the key may call the URL path p. Patterns
// use path.Match syntax, where '*' does not cross '/'; a pattern ending in
// "/*" also takes in everything below it, so "/v1/*" allows
// "/v1/chat/completions". No routes means every route. A path that is not
// clean (with "." or ".." segments or doubled slashes) matches no pattern:
// it could name something other than it seems to.
func (k Key) AllowsRoute(p string) bool {
	if len(k.Routes) == 0 {
		return true
	}
	if !cleanPath(p) {
		return false
	}
	for _, pat := range k.Routes {
		if matchRoute(pat, p) {
			return true
		}
	}
	return false
}

// cleanPath reports whether p is an absolute path that path.Clean leaves
// alone, apart from one trailing slash.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	return c == p || c+"/" == p
}

// matchRoute matches one route pattern, which was checked when it was
// stored; a bad one matches nothing.
func matchRoute(pattern, p string) bool {
	if ok, err := path.Match(pattern, p); ok && err == nil {
		return true
	}
	dir, ok := strings.CutSuffix(pattern, "/*")
	if !ok {
		return false
	}
	// The subtree: p's first segments match dir, then a slash follows.
	i := nthSlash(p, strings.Count(dir, "/"))
	if i < 0 {
		return false
	}
	ok, err := path.Match(dir, p[:i])
	return ok && err == nil
}

// nthSlash returns the index of the slash in p that has n slashes before
// it, or -1.
func nthSlash(p string, n int) int {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		if n == 0 {
			return i
		}
		n--
	}
	return -1
}

// AllowsIP reports whether a caller at addr may use the key. No prefixes
// means every address; with some, an invalid address is refused. An
// IPv4-mapped IPv6 address counts as the IPv4 address it carries, and a
// zone is ignored.
func (k Key) AllowsIP(addr netip.Addr) bool {
	if len(k.IPs) == 0 {
		return true
	}
	if !addr.IsValid() {
		return false
	}
	a := addr.Unmap().WithZone("")
	for _, p := range k.IPs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseIPPrefix parses an allowlist entry: a CIDR prefix such as
// "10.0.0.0/8" or "2001:db8::/32", or a bare address, which stands for
// itself alone (/32 or /128). A prefix with host bits set is refused
// rather than silently widened or narrowed: "10.1.2.3/8" is a typo for one
// of two different things.
func ParseIPPrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix (such as 10.0.0.0/8 or 2001:db8::/32)", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix (such as 10.0.0.0/8 or 2001:db8::/32)", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return normPrefix(p)
}

// normPrefix checks p and writes an IPv4-mapped prefix as the IPv4 prefix
// it means, so that it matches the unmapped addresses AllowsIP compares.
func normPrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, errors.New("an empty or invalid prefix")
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%s has bits set past the /%d mask; write %s for the network, or %s for the one address",
			p, p.Bits(), p.Masked(), netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, nil
}

// checkRoutes validates route patterns and returns a copy, nil if empty.
func checkRoutes(routes []string) ([]string, error) {
	if len(routes) > maxRoutes {
		return nil, fieldErr("routes", "%d patterns given; the limit is %d", len(routes), maxRoutes)
	}
	for _, r := range routes {
		switch {
		case r == "" || len(r) > maxPatternLen || !utf8.ValidString(r):
			return nil, fieldErr("routes", "patterns must be 1-%d bytes of UTF-8; got %q", maxPatternLen, r)
		case r[0] != '/':
			return nil, fieldErr("routes", "%q does not start with '/'; routes are URL paths such as /v1/chat/completions or /v1/*", r)
		case strings.ContainsRune(r, '\\'):
			return nil, fieldErr("routes", "%q contains a backslash; routes are URL paths", r)
		case path.Clean(r) != r:
			return nil, fieldErr("routes", "%q is not a clean path (no trailing slash, '.', '..' or '//'); for everything below a path write %s/*",
				r, strings.TrimSuffix(path.Clean(r), "/"))
		}
		if _, err := path.Match(r, ""); err != nil {
			return nil, fieldErr("routes", "%q: %v (patterns use path.Match syntax: *, ?, [a-z]; a trailing /* takes in a whole subtree)", r, err)
		}
	}
	return cloneOrNil(routes), nil
}

// checkIPs validates an allowlist and returns it normalized, nil if empty.
func checkIPs(ips []netip.Prefix) ([]netip.Prefix, error) {
	if len(ips) > maxIPs {
		return nil, fieldErr("ips", "%d prefixes given; the limit is %d", len(ips), maxIPs)
	}
	if len(ips) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, len(ips))
	for i, p := range ips {
		n, err := normPrefix(p)
		if err != nil {
			return nil, fieldErr("ips", "%v", err)
		}
		out[i] = n
	}
	return out, nil
}

// checkTags validates tags: short printable labels without commas or
// spaces, so that they list and filter cleanly.
func checkTags(tags []string) ([]string, error) {
	if len(tags) > maxTags {
		return nil, fieldErr("tags", "%d tags given; the limit is %d", len(tags), maxTags)
	}
	for i, t := range tags {
		if t == "" || len(t) > maxTagLen || !utf8.ValidString(t) {
			return nil, fieldErr("tags", "tags must be 1-%d bytes of UTF-8; got %q", maxTagLen, t)
		}
		for _, r := range t {
			if unicode.IsControl(r) || unicode.IsSpace(r) || r == ',' {
				return nil, fieldErr("tags", "%q contains a space, comma or control character", t)
			}
		}
		if slices.Contains(tags[:i], t) {
			return nil, fieldErr("tags", "%q is given twice", t)
		}
	}
	return cloneOrNil(tags), nil
}

// checkLimits refuses negative limits.
func checkLimits(l Limits) error {
	for _, f := range []struct {
		name string
		v    int64
	}{{"rps", l.RPS}, {"rpm", l.RPM}, {"tpm", l.TPM}, {"max_parallel", l.MaxParallel}} {
		if f.v < 0 {
			return fieldErr(f.name, "%d is negative; a limit is zero (none) or more", f.v)
		}
	}
	return nil
}

// checkBudget accepts no budget, or a positive limit with a known period.
// A $0 budget is refused: it would refuse every paid call, which is what
// suspending does, and zero means "no limit" everywhere else.
func checkBudget(b meter.Budget) error {
	switch {
	case b.IsZero():
		return nil
	case b.Limit < 0:
		return fieldErr("budget", "%s is negative", b.Limit)
	case b.Limit > meter.MaxAmount:
		return fieldErr("budget", "%s is more than the largest budget allowed (%s)", b.Limit, meter.MaxAmount)
	case b.Limit == 0:
		return fieldErr("budget", "a period (%s) without an amount; give an amount above $0, or no budget at all", b.Period)
	case b.Period == "":
		return fieldErr("budget", "%s has no period; give day, month or total", b.Limit)
	case !b.Period.Valid():
		return fieldErr("budget_period", "%q is not a period; use day, month or total", b.Period)
	}
	return nil
}

// checkRole returns the role to store: RoleUser for none.
func checkRole(r string) (string, error) {
	if r == "" {
		return RoleUser, nil
	}
	if !ValidRole(r) {
		return "", fieldErr("role", "%q is not a role; use one of %s", r, strings.Join(Roles, ", "))
	}
	return r, nil
}

// CheckName validates a team or user name: 1-128 letters, digits and
// . _ - @ +, not starting with '-' (it would read as a flag). Emails fit.
func CheckName(field, name string) error {
	if name == "" {
		return fieldErr(field, "the name is empty")
	}
	if len(name) > maxNameRef || !utf8.ValidString(name) {
		return fieldErr(field, "names must be valid UTF-8 of at most %d bytes", maxNameRef)
	}
	if strings.Contains(name, Prefix) {
		// Likely a key pasted in the wrong place: do not repeat it.
		return fieldErr(field, "names may not contain %s, which is how keys start", Prefix)
	}
	if name[0] == '-' {
		return fieldErr(field, "%q starts with '-'", name)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-@+", r) {
			return fieldErr(field, "%q: names may hold letters, digits and . _ - @ + only", name)
		}
	}
	return nil
}

// checkRef validates an optional reference to a team or user by name.
func checkRef(field, name string) error {
	if name == "" {
		return nil
	}
	return CheckName(field, name)
}

func cloneOrNil[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
