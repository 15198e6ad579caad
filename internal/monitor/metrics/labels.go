package metrics

import (
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Other is the label value that every value outside a metric's bounded set
// becomes. A caller can never grow a metric by sending new names: the
// worst it can do is add to "other".
const Other = "other"

// None is the model label of a call that named no model (the model list,
// most pass-through calls).
const None = "none"

// maxLabelLen bounds an allowlisted label value. Configured names are
// short; a longer one is more likely a mistake (or a pasted secret) than a
// model name, and is left out of the allowlist.
const maxLabelLen = 200

// labelSet maps the values of one label to small indices. Index 0 is
// Other; the allowlisted values follow in the order given. The set is
// built once in New and only read afterwards, so lookups take no lock.
type labelSet struct {
	idx    map[string]uint32
	values []string
}

// newLabelSet builds a set from values, dropping duplicates, empty values,
// values that are not valid UTF-8 (the client library refuses them) and
// values past max entries, which then count as Other.
func newLabelSet(values []string, max int) labelSet {
	s := labelSet{idx: make(map[string]uint32, len(values)), values: []string{Other}}
	for _, v := range values {
		if len(s.values) > max {
			break
		}
		if v == "" || v == Other || len(v) > maxLabelLen || !utf8.ValidString(v) {
			continue
		}
		if _, dup := s.idx[v]; dup {
			continue
		}
		s.idx[v] = uint32(len(s.values))
		s.values = append(s.values, v)
	}
	return s
}

// index returns v's index, or 0 (Other) when v is not in the set.
func (s *labelSet) index(v string) uint32 { return s.idx[v] }

// size is the number of distinct label values, Other included.
func (s *labelSet) size() uint64 { return uint64(len(s.values)) }

// series caches the children of one metric vector by a key packed from
// label indices. The client library's WithLabelValues hashes every value,
// checks it is valid UTF-8 and takes a read lock shared by all goroutines
// on each call; here the hot path is one map read through an atomic
// pointer. The map is copied on write, which is cheap because a vector
// gains new children only until every combination in use has been seen.
type series[T any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[uint64]T]
}

// load returns the child cached under k.
func (s *series[T]) load(k uint64) (T, bool) {
	if m := s.m.Load(); m != nil {
		t, ok := (*m)[k]
		return t, ok
	}
	var zero T
	return zero, false
}

// store caches t under k unless another goroutine got there first, and
// returns the child to use.
func (s *series[T]) store(k uint64, t T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m.Load()
	n := 1
	if old != nil {
		if have, ok := (*old)[k]; ok {
			return have
		}
		n += len(*old)
	}
	m := make(map[uint64]T, n)
	if old != nil {
		for key, v := range *old {
			m[key] = v
		}
	}
	m[k] = t
	s.m.Store(&m)
	return t
}

// Scope is who a limit or budget applies to.
type Scope string

// Scopes of limits and budgets.
const (
	ScopeKey  Scope = "key"
	ScopeUser Scope = "user"
	ScopeTeam Scope = "team"
)

var scopes = []string{string(ScopeKey), string(ScopeUser), string(ScopeTeam)}

// Limit is the kind of rate limit that refused a call.
type Limit string

// Kinds of rate limit: requests per second and per minute, tokens per
// minute, and concurrent calls.
const (
	LimitRPS      Limit = "rps"
	LimitRPM      Limit = "rpm"
	LimitTPM      Limit = "tpm"
	LimitParallel Limit = "parallel"
)

var limits = []string{string(LimitRPS), string(LimitRPM), string(LimitTPM), string(LimitParallel)}

// AuthReason is why a caller was not authenticated. The set is closed so
// that an error message can never become a label value.
type AuthReason string

// Reasons for an authentication failure.
const (
	// AuthMissing: the request carried no credential Warden recognises.
	AuthMissing AuthReason = "missing"
	// AuthAmbiguous: several credentials that disagree.
	AuthAmbiguous AuthReason = "ambiguous"
	// AuthInvalid: an unknown key, or one whose checksum fails.
	AuthInvalid AuthReason = "invalid"
	// AuthExpired, AuthSuspended, AuthRevoked: a known key in that state.
	AuthExpired   AuthReason = "expired"
	AuthSuspended AuthReason = "suspended"
	AuthRevoked   AuthReason = "revoked"
	// AuthToken: a JWT or OIDC token that failed verification.
	AuthToken AuthReason = "invalid_token"
	// AuthIPDenied: a valid key used from outside its IP allowlist.
	AuthIPDenied AuthReason = "ip_denied"
	// AuthUnavailable: the key store or JWKS could not be asked, and the
	// call was refused (fail closed).
	AuthUnavailable AuthReason = "unavailable"
)

var authReasons = []string{
	string(AuthMissing), string(AuthAmbiguous), string(AuthInvalid),
	string(AuthExpired), string(AuthSuspended), string(AuthRevoked),
	string(AuthToken), string(AuthIPDenied), string(AuthUnavailable),
}

// BreakerState is a circuit breaker's state, exported as a gauge value.
// The order makes "higher is worse" true on a dashboard.
type BreakerState int

// Breaker states.
const (
	BreakerClosed   BreakerState = 0
	BreakerHalfOpen BreakerState = 1
	BreakerOpen     BreakerState = 2
)

// Guard verdict classes and actions, as the guard package names them
// (detect.PII, detect.Secret, guard.ClassInjection; guard.Allow ...). A
// test checks that the two lists agree.
var (
	guardClasses = []string{"pii", "secret", "injection"}
	guardActions = []string{"allow", "flag", "redact", "mask", "pseudonymize", "block"}
)

// injectionType is guard.TypeInjection, the verdict type of the
// prompt-injection check.
const injectionType = "prompt_injection"

// routes are the gateway's operation names (provider.Op values plus the
// gateway's own "models" and "unknown"). A test checks them against the
// provider package.
var routes = []string{
	"chat.completions", "completions", "embeddings", "responses",
	"images.generations", "audio.transcriptions", "audio.speech",
	"moderations", "messages", "messages.count_tokens", "passthrough",
	"models", "unknown",
}

// statusClasses are the status_class values; index 0 is Other (a status
// outside 200..599).
var statusClasses = []string{Other, "2xx", "3xx", "4xx", "5xx"}

// statusClass returns the index of status in statusClasses.
func statusClass(status int) uint32 {
	if status < 200 || status > 599 {
		return 0
	}
	return uint32(status/100 - 1)
}
