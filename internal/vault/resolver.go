package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wardenproject/warden/internal/secret"
)

// Resolver turns credential references (secret://NAME, env://VAR) into
// values for the request path. Vault reads are cached for TTL, so a call
// neither hits the database nor decrypts, while a new version stored with
// `warden secrets set` still takes effect within TTL.
type Resolver struct {
	v      *Vault
	lookup func(string) (string, bool)
	ttl    time.Duration
	now    func() time.Time
	log    *slog.Logger

	mu    sync.Mutex
	cache map[string]cachedValue
}

type cachedValue struct {
	val secret.Secret
	at  time.Time
}

// NewResolver returns a Resolver over v and the environment lookup. A ttl
// of zero means 30 seconds.
func NewResolver(v *Vault, lookup func(string) (string, bool), ttl time.Duration, log *slog.Logger) *Resolver {
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Resolver{v: v, lookup: lookup, ttl: ttl, now: time.Now, log: log, cache: map[string]cachedValue{}}
}

// Resolve returns the value behind scheme://name. Values are shared with
// other callers: do not Destroy them.
//
// When the vault cannot be read after the cache expired, the last value is
// kept (a provider key, not an access decision, so availability wins); a
// secret that was deleted stops being served.
func (r *Resolver) Resolve(ctx context.Context, scheme, name string) (secret.Secret, error) {
	switch scheme {
	case "env":
		v, ok := r.lookup(name)
		if !ok || v == "" {
			return secret.Secret{}, fmt.Errorf("env://%s: the environment variable is not set", name)
		}
		return secret.FromString(v), nil
	case "secret":
	default:
		return secret.Secret{}, fmt.Errorf("unknown reference scheme %q: use secret://NAME or env://VAR", scheme)
	}
	now := r.now()
	r.mu.Lock()
	c, ok := r.cache[name]
	r.mu.Unlock()
	if ok && now.Sub(c.at) < r.ttl {
		return c.val, nil
	}
	val, err := r.v.Get(ctx, name, 0)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			r.mu.Lock()
			delete(r.cache, name)
			r.mu.Unlock()
			return secret.Secret{}, fmt.Errorf("secret://%s: %w", name, err)
		}
		if ok {
			r.log.Warn("could not refresh a secret; using the cached value", "secret", name, "error", err)
			return c.val, nil
		}
		return secret.Secret{}, fmt.Errorf("secret://%s: %w", name, err)
	}
	r.mu.Lock()
	r.cache[name] = cachedValue{val: val, at: now}
	r.mu.Unlock()
	return val, nil
}
