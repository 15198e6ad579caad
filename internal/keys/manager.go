package keys

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/netip"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/store"
)

// Defaults for Options.
const (
	DefaultCacheTTL      = time.Minute
	DefaultPollInterval  = 250 * time.Millisecond
	DefaultTouchInterval = 30 * time.Second
)

// MinPepperLen is the shortest pepper NewManager accepts.
const MinPepperLen = 32

const (
	// idPrefix and idLen describe public key ids: "key_" and 16 base62
	// characters (95 bits, so ids never collide in practice).
	idPrefix = "key_"
	idLen    = len(idPrefix) + 16

	maxNameLen    = 128
	maxModels     = 256
	maxPatternLen = 256

	// touchGranularity is how often one cached key records a use: last
	// used times are accurate to about this much.
	touchGranularity = time.Second

	// pollTimeout bounds one poll in Run, so that a hung store cannot stall
	// polling forever (the cache stops being used long before).
	pollTimeout = 5 * time.Second
	// flushTimeout bounds the last flush of use times when Run stops.
	flushTimeout = 5 * time.Second
)

// Options configure NewManager.
type Options struct {
	// Store holds the keys. Required.
	Store Store
	// Pepper is the HMAC key of the stored hashes, at least MinPepperLen
	// bytes. Required. The manager keeps its own copy. A different pepper
	// makes every existing key unusable, so it must stay the same for the
	// life of the store.
	Pepper secret.Secret
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Rand is the randomness for keys and ids (crypto/rand by default).
	Rand io.Reader
	// CacheTTL bounds how long a looked-up key is served from memory
	// (DefaultCacheTTL if zero); negative turns the cache off.
	CacheTTL time.Duration
	// PollInterval is how often Run checks the store for key changes
	// (DefaultPollInterval if zero). Cached lookups are used only while
	// the last successful poll began less than two intervals ago.
	PollInterval time.Duration
	// TouchInterval is how often Run writes last-used times
	// (DefaultTouchInterval if zero).
	TouchInterval time.Duration
	// Logger receives key ids and store problems, never keys (discarded
	// if nil).
	Logger *slog.Logger
}

// Manager creates, rotates, suspends and revokes keys, and authenticates
// presented keys. It is safe for concurrent use.
type Manager struct {
	store      Store
	pepper     secret.Secret
	now        func() time.Time
	rand       io.Reader
	cacheTTL   time.Duration
	pollEvery  time.Duration
	touchEvery time.Duration
	log        *slog.Logger
	macs       sync.Pool // of hash.Hash, HMAC-SHA256 keyed with pepper

	cache cache
	// freshUntil is the clock reading (unix nanos) until which cached
	// lookups may be used: two poll intervals after the start of the last
	// successful poll. Zero until the first one.
	freshUntil atomic.Int64

	pollMu      sync.Mutex // serializes Poll
	version     int64
	polled      bool
	pollFailing bool

	touchMu sync.Mutex
	touches map[string]time.Time // key id → last use not yet written
}

// NewManager checks o and returns a Manager. To share key changes made by
// other processes, run Run for the life of the server; without it every
// Authenticate goes to the store.
func NewManager(o Options) (*Manager, error) {
	if o.Store == nil {
		return nil, errors.New("key manager: no store given")
	}
	if o.Pepper.Len() < MinPepperLen {
		return nil, fmt.Errorf("key manager: the pepper has %d bytes; it needs at least %d random bytes", o.Pepper.Len(), MinPepperLen)
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.TouchInterval == 0 {
		o.TouchInterval = DefaultTouchInterval
	}
	if o.PollInterval < 0 || o.TouchInterval < 0 {
		return nil, errors.New("key manager: poll and touch intervals must be positive (or zero for the defaults)")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		store:      o.Store,
		pepper:     secret.New(o.Pepper.Reveal()),
		now:        o.Now,
		rand:       o.Rand,
		cacheTTL:   o.CacheTTL,
		pollEvery:  o.PollInterval,
		touchEvery: o.TouchInterval,
		log:        o.Logger,
		touches:    make(map[string]time.Time),
	}
	m.macs.New = func() any { return &mac{h: hmac.New(sha256.New, m.pepper.Reveal())} }
	return m, nil
}

// Spec describes a key to create.
type Spec struct {
	// Name labels the key for people: 1-128 printable characters.
	Name string
	// Models are the model names or path.Match globs the key may use;
	// empty means every model.
	Models []string
	// TTL, if positive, makes the key expire that long after creation.
	TTL time.Duration
	// ExpiresAt, if set, is when the key expires. Give TTL or ExpiresAt,
	// not both; neither means the key never expires.
	ExpiresAt time.Time
	// Routes, IPs, Limits, Budget, Team, User, Role and Tags are the
	// key's policy, as documented on Key; the zero value of each
	// restricts nothing. A User in a team, without a Team given, puts the
	// key in the user's team.
	Routes []string
	IPs    []netip.Prefix
	Limits Limits
	Budget meter.Budget
	Team   string
	User   string
	Role   string
	Tags   []string
}

// KeyUpdate changes some of a key's name, policy and expiry. A nil field
// is left alone. A non-nil empty slice clears the list, and "" clears
// Team and User (Role "" is RoleUser). Limits set to zero are removed, and
// the zero Budget removes the budget.
type KeyUpdate struct {
	Name   *string
	Models []string
	Routes []string
	IPs    []netip.Prefix
	Tags   []string
	Limits LimitsUpdate
	Budget *meter.Budget
	Team   *string
	User   *string
	Role   *string
	// TTL, if positive, makes the key expire that long from now.
	TTL time.Duration
	// ExpiresAt, if not nil, sets the expiry; the zero time means never.
	// Give TTL or ExpiresAt, not both.
	ExpiresAt *time.Time
}

// ValidID reports whether id has the form of a key id. Commands check it
// before echoing an argument, so that a key pasted where an id belongs is
// not printed back.
func ValidID(id string) bool {
	if len(id) != idLen || id[:len(idPrefix)] != idPrefix {
		return false
	}
	for i := len(idPrefix); i < len(id); i++ {
		if isBase62[id[i]] == 0 {
			return false
		}
	}
	return true
}

// stamp is the clock reading stored with a write: UTC, whole microseconds,
// the finest resolution every backend keeps.
func (m *Manager) stamp() time.Time { return m.now().UTC().Truncate(time.Microsecond) }

// mac is a pooled HMAC with its buffers, so that hashing on the request
// path does not allocate.
type mac struct {
	h   hash.Hash
	buf [64]byte
	out []byte
}

// hashWith returns the stored form of a key: HMAC-SHA256 under m.pepper.
// The key goes through a fixed buffer, in pieces if it is long, so that an
// oversized header neither allocates nor grows a pooled buffer.
func hashWith[T ~string | ~[]byte](m *Manager, key T) digest {
	x := m.macs.Get().(*mac)
	x.h.Reset()
	for len(key) > 0 {
		n := copy(x.buf[:], key)
		x.h.Write(x.buf[:n])
		key = key[n:]
	}
	clear(x.buf[:])
	x.out = x.h.Sum(x.out[:0])
	var d digest
	copy(d[:], x.out)
	m.macs.Put(x)
	return d
}

// newSecret generates a key and its hash.
func (m *Manager) newSecret() (secret.Secret, digest, error) {
	sec, err := Generate(m.rand)
	if err != nil {
		return secret.Secret{}, digest{}, err
	}
	return sec, hashWith(m, sec.Reveal()), nil
}

// Create makes a new key and returns its record and the key itself, which
// exists nowhere else: the caller shows it once and destroys it.
func (m *Manager) Create(ctx context.Context, s Spec) (Key, secret.Secret, error) {
	now := m.stamp()
	if err := checkName(s.Name); err != nil {
		return Key{}, secret.Secret{}, fmt.Errorf("create key: %w", err)
	}
	expires, err := s.expiry(now)
	if err != nil {
		return Key{}, secret.Secret{}, fmt.Errorf("create key %q: %w", s.Name, err)
	}
	k := Key{
		Name: s.Name, Models: s.Models, Routes: s.Routes, IPs: s.IPs, Limits: s.Limits, Budget: s.Budget,
		Team: s.Team, User: s.User, Role: s.Role, Tags: s.Tags,
		ExpiresAt: expires, State: Active, CreatedAt: now, UpdatedAt: now,
	}
	if err := m.checkPolicy(ctx, &k); err != nil {
		return Key{}, secret.Secret{}, fmt.Errorf("create key %q: %w", s.Name, err)
	}
	var id [idLen]byte
	copy(id[:], idPrefix)
	if err := fillBase62(m.rand, id[len(idPrefix):]); err != nil {
		return Key{}, secret.Secret{}, fmt.Errorf("create key %q: key id: %w", s.Name, err)
	}
	sec, h, err := m.newSecret()
	if err != nil {
		return Key{}, secret.Secret{}, fmt.Errorf("create key %q: %w", s.Name, err)
	}
	k.ID, k.Hint = string(id[:]), hint(sec.Reveal())
	if err := m.store.CreateKey(ctx, k, h[:]); err != nil {
		sec.Destroy()
		return Key{}, secret.Secret{}, fmt.Errorf("create key %q: %w", s.Name, err)
	}
	m.cache.drop()
	m.log.Info("key created", "key_id", k.ID)
	return k, sec, nil
}

// checkPolicy validates k's policy fields and normalizes them in place:
// lists copied (nil if empty), prefixes masked, the role defaulted, and
// the team taken from the user when none is given. Teams and users named
// must exist.
func (m *Manager) checkPolicy(ctx context.Context, k *Key) error {
	var err error
	if k.Models, err = checkModels(k.Models); err != nil {
		return err
	}
	if k.Routes, err = checkRoutes(k.Routes); err != nil {
		return err
	}
	if k.IPs, err = checkIPs(k.IPs); err != nil {
		return err
	}
	if k.Tags, err = checkTags(k.Tags); err != nil {
		return err
	}
	if err := checkLimits(k.Limits); err != nil {
		return err
	}
	if err := checkBudget(k.Budget); err != nil {
		return err
	}
	if k.Role, err = checkRole(k.Role); err != nil {
		return err
	}
	if err := checkRef("team", k.Team); err != nil {
		return err
	}
	if err := checkRef("user", k.User); err != nil {
		return err
	}
	if k.User != "" {
		u, err := m.store.UserByName(ctx, k.User)
		if err != nil {
			return refError("user", k.User, err)
		}
		if k.Team == "" {
			k.Team = u.Team
		}
	}
	if k.Team != "" {
		if _, err := m.store.TeamByName(ctx, k.Team); err != nil {
			return refError("team", k.Team, err)
		}
	}
	return nil
}

func (s Spec) expiry(now time.Time) (time.Time, error) {
	switch {
	case s.TTL < 0:
		return time.Time{}, fieldErr("ttl", "the time to live %s is negative", s.TTL)
	case s.TTL > 0 && !s.ExpiresAt.IsZero():
		return time.Time{}, fieldErr("expires_at", "give a time to live or an expiry time, not both")
	case s.TTL > 0:
		return now.Add(s.TTL), nil
	case s.ExpiresAt.IsZero():
		return time.Time{}, nil
	case !s.ExpiresAt.After(now):
		return time.Time{}, fieldErr("expires_at", "the expiry time %s has already passed", s.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return s.ExpiresAt.UTC().Truncate(time.Microsecond), nil
}

func checkName(name string) error {
	if name == "" {
		return fieldErr("name", "the key needs a name")
	}
	if len(name) > maxNameLen || !utf8.ValidString(name) {
		return fieldErr("name", "the key name must be valid UTF-8 of at most %d bytes", maxNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fieldErr("name", "the key name must not contain control characters")
		}
	}
	return nil
}

// checkModels validates model patterns and returns a copy, nil if empty.
func checkModels(models []string) ([]string, error) {
	if len(models) > maxModels {
		return nil, fieldErr("models", "%d model patterns given; the limit is %d", len(models), maxModels)
	}
	for _, p := range models {
		if p == "" || len(p) > maxPatternLen || !utf8.ValidString(p) {
			return nil, fieldErr("models", "model patterns must be 1-%d bytes of UTF-8; got %q", maxPatternLen, p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, &FieldError{Field: "models", Err: err,
				Problem: fmt.Sprintf("model pattern %q: %v (patterns use path.Match syntax: *, ?, [a-z])", p, err)}
		}
	}
	return cloneOrNil(models), nil
}

// Get returns the key with the given id.
func (m *Manager) Get(ctx context.Context, id string) (Key, error) {
	if !ValidID(id) {
		return Key{}, errBadID
	}
	k, err := m.store.KeyByID(ctx, id)
	if err != nil {
		return Key{}, fmt.Errorf("key %s: %w", id, err)
	}
	return k, nil
}

// errBadID answers an argument that is not a key id without repeating it:
// it may be a key pasted in the wrong place.
var errBadID = fmt.Errorf("not a key id (ids look like %s followed by 16 letters and digits): %w", idPrefix, ErrNotFound)

// List returns every key, revoked ones included, oldest first.
func (m *Manager) List(ctx context.Context) ([]Key, error) {
	ks, err := m.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return ks, nil
}

// UpdateKey changes a key's name, policy or expiry and returns the key as
// stored. The change reaches running servers within a poll, since it
// changes the store's KeysVersion. A revoked key cannot be changed
// (ErrRevoked, a store.ErrConflict too), nor can an expired one
// (ErrExpired): create a new key instead. An update that changes nothing
// writes nothing.
func (m *Manager) UpdateKey(ctx context.Context, id string, u KeyUpdate) (Key, error) {
	if !ValidID(id) {
		return Key{}, fmt.Errorf("update key: %w", errBadID)
	}
	for try := 1; ; try++ {
		k, err := m.store.KeyByID(ctx, id)
		if err != nil {
			return Key{}, fmt.Errorf("update key %s: %w", id, err)
		}
		now := m.stamp()
		switch {
		case k.State == Revoked:
			return Key{}, fmt.Errorf("update key %s: %w (%w): revocation is final; create a new key instead", id, ErrRevoked, store.ErrConflict)
		case k.Expired(now):
			return Key{}, fmt.Errorf("update key %s: %w at %s; an expired key cannot be changed: create a new key instead",
				id, ErrExpired, k.ExpiresAt.UTC().Format(time.RFC3339))
		}
		next, err := u.apply(k, now)
		if err != nil {
			return Key{}, fmt.Errorf("update key %s: %w", id, err)
		}
		if err := m.checkPolicy(ctx, &next); err != nil {
			return Key{}, fmt.Errorf("update key %s: %w", id, err)
		}
		if samePolicy(k, next) {
			return cloneKey(k), nil
		}
		next.UpdatedAt = m.after(k.UpdatedAt)
		err = m.store.UpdateKey(ctx, next, k.UpdatedAt)
		if errors.Is(err, store.ErrConflict) && try < maxUpdateTries {
			// Changed meanwhile (or revoked: the next read tells).
			continue
		}
		if err != nil {
			// The store's error names the operation and the key.
			return Key{}, err
		}
		m.cache.drop()
		m.log.Info("key updated", "key_id", id)
		return cloneKey(next), nil
	}
}

// apply returns k with u's changes, the expiry checked against now.
func (u KeyUpdate) apply(k Key, now time.Time) (Key, error) {
	if u.Name != nil {
		if err := checkName(*u.Name); err != nil {
			return k, err
		}
		k.Name = *u.Name
	}
	switch {
	case u.TTL != 0 && u.ExpiresAt != nil:
		return k, fieldErr("expires_at", "give a time to live or an expiry time, not both")
	case u.ExpiresAt != nil && u.ExpiresAt.IsZero():
		k.ExpiresAt = time.Time{}
	case u.TTL != 0 || u.ExpiresAt != nil:
		s := Spec{TTL: u.TTL}
		if u.ExpiresAt != nil {
			s.ExpiresAt = *u.ExpiresAt
		}
		exp, err := s.expiry(now)
		if err != nil {
			return k, err
		}
		k.ExpiresAt = exp
	}
	if u.Models != nil {
		k.Models = u.Models
	}
	if u.Routes != nil {
		k.Routes = u.Routes
	}
	if u.IPs != nil {
		k.IPs = u.IPs
	}
	if u.Tags != nil {
		k.Tags = u.Tags
	}
	k.Limits = u.Limits.apply(k.Limits)
	if u.Budget != nil {
		k.Budget = *u.Budget
	}
	if u.Team != nil {
		k.Team = *u.Team
	}
	if u.User != nil {
		k.User = *u.User
	}
	if u.Role != nil {
		k.Role = *u.Role
	}
	return k, nil
}

// samePolicy reports whether a and b have the same name, policy and
// expiry: whether an update would change anything.
func samePolicy(a, b Key) bool {
	return a.Name == b.Name && equalStrings(a.Models, b.Models) && equalStrings(a.Routes, b.Routes) &&
		slices.Equal(a.IPs, b.IPs) && a.Limits == b.Limits && a.Budget == b.Budget && a.Team == b.Team &&
		a.User == b.User && a.Role == b.Role && equalStrings(a.Tags, b.Tags) && a.ExpiresAt.Equal(b.ExpiresAt)
}

// Revoke revokes a key for good, with its previous secret if it is still
// in a rotation grace period. Revoking a revoked key does nothing.
func (m *Manager) Revoke(ctx context.Context, id string) error {
	return m.setState(ctx, "revoke", id, Revoked)
}

// Suspend stops a key from authenticating until Resume.
func (m *Manager) Suspend(ctx context.Context, id string) error {
	return m.setState(ctx, "suspend", id, Suspended)
}

// Resume makes a suspended key usable again. A revoked key cannot be
// resumed (ErrRevoked).
func (m *Manager) Resume(ctx context.Context, id string) error {
	return m.setState(ctx, "resume", id, Active)
}

func (m *Manager) setState(ctx context.Context, verb, id string, s State) error {
	if !ValidID(id) {
		return fmt.Errorf("%s key: %w", verb, errBadID)
	}
	err := m.store.SetKeyState(ctx, id, s, m.stamp())
	switch {
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%s key %s: %w: revocation is final; create a new key instead", verb, id, ErrRevoked)
	case err != nil:
		return fmt.Errorf("%s key %s: %w", verb, id, err)
	}
	m.cache.drop()
	m.log.Info("key state changed", "key_id", id, "state", string(s))
	return nil
}

// Rotate gives a key a new secret and returns the updated record and the
// new key, which exists nowhere else. The old secret keeps working for
// grace (zero: not at all) so that clients can switch over; a secret
// replaced by an earlier rotation stops working at once. Rotation keeps the
// key's id, name, scope, expiry and state; a revoked key cannot be rotated.
func (m *Manager) Rotate(ctx context.Context, id string, grace time.Duration) (Key, secret.Secret, error) {
	if !ValidID(id) {
		return Key{}, secret.Secret{}, fmt.Errorf("rotate key: %w", errBadID)
	}
	if grace < 0 {
		return Key{}, secret.Secret{}, fmt.Errorf("rotate key %s: the grace period %s is negative", id, grace)
	}
	k, err := m.store.KeyByID(ctx, id)
	if err != nil {
		return Key{}, secret.Secret{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	if k.State == Revoked {
		return Key{}, secret.Secret{}, fmt.Errorf("rotate key %s: %w; create a new key instead", id, ErrRevoked)
	}
	sec, h, err := m.newSecret()
	if err != nil {
		return Key{}, secret.Secret{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	now := m.stamp()
	k.Hint, k.UpdatedAt, k.PreviousValidUntil = hint(sec.Reveal()), now, now.Add(grace)
	err = m.store.RotateKey(ctx, id, h[:], k.Hint, k.PreviousValidUntil, now)
	if err != nil {
		sec.Destroy()
		if errors.Is(err, store.ErrConflict) {
			return Key{}, secret.Secret{}, fmt.Errorf("rotate key %s: %w (revoked meanwhile?)", id, err)
		}
		return Key{}, secret.Secret{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	m.cache.drop()
	m.log.Info("key rotated", "key_id", id, "grace", grace.String())
	return k, sec, nil
}

// Authenticate returns the key for a presented secret if it may be used
// now. It fails with ErrInvalid for anything that is not a usable key,
// malformed or unknown or revoked alike; those cases share one code path
// (checksum, HMAC, cache, store lookup) so that neither the error nor the
// time taken tells them apart. ErrExpired and ErrSuspended come with the
// key's record, since the caller has shown it holds a real key. Any other
// error means the store could not be asked: the caller must refuse.
//
// The returned Key is the caller's to keep and change.
func (m *Manager) Authenticate(ctx context.Context, presented string) (Key, error) {
	now := m.now()
	wellFormed := Valid(presented)
	h := hashWith(m, presented)

	e := m.cached(&h, now)
	if e == nil {
		gen := m.cache.gen.Load()
		// A copy, so that only this path pays for the hash escaping to
		// the heap through the interface call.
		hc := h
		k, previous, err := m.store.KeyByHash(ctx, hc[:])
		switch {
		case errors.Is(err, store.ErrNotFound):
			return Key{}, ErrInvalid
		case err != nil:
			return Key{}, fmt.Errorf("authenticate: look up the key: %w", err)
		}
		e = &entry{key: k, previous: previous, expires: now.Add(m.cacheTTL).UnixNano()}
		if wellFormed && k.State != Revoked && m.cacheTTL > 0 {
			m.cache.put(&h, e, gen)
		}
	}
	if !wellFormed {
		// Only an HMAC collision could get here; refuse all the same.
		return Key{}, ErrInvalid
	}
	k := e.key
	switch {
	case k.State == Revoked:
		m.log.Warn("revoked key presented", "key_id", k.ID, "decision", "deny", "reason", "revoked")
		return Key{}, ErrInvalid
	case e.previous && !now.Before(k.PreviousValidUntil):
		m.log.Warn("rotated-out key presented", "key_id", k.ID, "decision", "deny", "reason", "rotated")
		return Key{}, ErrInvalid
	case k.State == Suspended:
		return cloneKey(k), ErrSuspended
	case k.State != Active:
		// A state this binary does not know: fail closed.
		return Key{}, ErrInvalid
	case k.Expired(now):
		return cloneKey(k), ErrExpired
	}
	m.noteUse(e, now)
	return cloneKey(k), nil
}

// Lookup finds the key a found secret belongs to, whatever its state,
// for an operator holding a leaked copy (warden scan --verify). Unlike
// Authenticate it tells revoked and expired keys apart from unknown ones,
// which is what the operator needs to decide on revocation; it does not
// count as a use of the key and never reads the cache. previous is true
// when the secret is the key's rotated-out predecessor. found is false for
// malformed secrets and secrets of no key in the store.
func (m *Manager) Lookup(ctx context.Context, presented string) (k Key, previous, found bool, err error) {
	if !Valid(presented) {
		return Key{}, false, false, nil
	}
	h := hashWith(m, presented)
	k, previous, err = m.store.KeyByHash(ctx, h[:])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Key{}, false, false, nil
	case err != nil:
		return Key{}, false, false, fmt.Errorf("look up the key: %w", err)
	}
	return cloneKey(k), previous, true, nil
}

// cloneKey copies k so that the caller cannot change the cached record.
func cloneKey(k Key) Key {
	k.Models = slices.Clone(k.Models)
	k.Routes = slices.Clone(k.Routes)
	k.IPs = slices.Clone(k.IPs)
	k.Tags = slices.Clone(k.Tags)
	return k
}

// cached returns the cache entry for h, or nil if there is none, it has
// expired, or the cache may not be used because polling has not succeeded
// recently (fail closed: then every lookup goes to the store).
func (m *Manager) cached(h *digest, now time.Time) *entry {
	if m.cacheTTL <= 0 {
		return nil
	}
	n := now.UnixNano()
	if n >= m.freshUntil.Load() {
		return nil
	}
	e := m.cache.get(h)
	if e == nil || n >= e.expires {
		return nil
	}
	return e
}

// noteUse records a use of the key for the next FlushTouches.
func (m *Manager) noteUse(e *entry, now time.Time) {
	n := now.UnixNano()
	if last := e.noted.Load(); last != 0 && n >= last && n-last < int64(touchGranularity) {
		return
	}
	e.noted.Store(n)
	m.touchMu.Lock()
	if t, ok := m.touches[e.key.ID]; !ok || now.After(t) {
		m.touches[e.key.ID] = now
	}
	m.touchMu.Unlock()
}

// FlushTouches writes the last-used times recorded since the previous
// flush. Times that could not be written are kept for the next one. Run
// calls it every TouchInterval and when it stops.
func (m *Manager) FlushTouches(ctx context.Context) error {
	m.touchMu.Lock()
	pending := m.touches
	m.touches = make(map[string]time.Time, len(pending))
	m.touchMu.Unlock()

	var failed int
	var first error
	for id, t := range pending {
		err := m.store.TouchKey(ctx, id, t.UTC().Truncate(time.Microsecond))
		if err == nil || errors.Is(err, store.ErrNotFound) {
			continue
		}
		failed++
		if first == nil {
			first = err
		}
		m.touchMu.Lock()
		if cur, ok := m.touches[id]; !ok || t.After(cur) {
			m.touches[id] = t
		}
		m.touchMu.Unlock()
	}
	if first != nil {
		return fmt.Errorf("record last use of %d key(s): %w", failed, first)
	}
	return nil
}

// Poll checks the store's KeysVersion once and drops every cached lookup
// if it changed. A successful poll lets the cache be used for two poll
// intervals from when it began. Run calls Poll every PollInterval.
func (m *Manager) Poll(ctx context.Context) error {
	m.pollMu.Lock()
	defer m.pollMu.Unlock()
	start := m.now()
	v, err := m.store.KeysVersion(ctx)
	if err != nil {
		if !m.pollFailing {
			m.log.Warn("cannot poll the key store for changes; key lookups bypass the cache until it answers",
				"reason", err.Error())
		}
		m.pollFailing = true
		return fmt.Errorf("poll the key store for changes: %w", err)
	}
	if m.pollFailing {
		m.log.Info("the key store answers polls again")
		m.pollFailing = false
	}
	if !m.polled || v != m.version {
		m.cache.drop()
		m.version, m.polled = v, true
	}
	m.freshUntil.Store(start.Add(2 * m.pollEvery).UnixNano())
	return nil
}

// Run polls the store for key changes every PollInterval, so that a key
// revoked by another process (the CLI, another replica) is refused here
// within one interval, and writes last-used times every TouchInterval. It
// returns when ctx ends, after a last flush of last-used times. Call it
// once per Manager.
func (m *Manager) Run(ctx context.Context) {
	m.pollOnce(ctx)
	polls := time.NewTicker(m.pollEvery)
	defer polls.Stop()
	flushes := time.NewTicker(m.touchEvery)
	defer flushes.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
			m.flushOnce(fctx)
			cancel()
			return
		case <-polls.C:
			m.pollOnce(ctx)
		case <-flushes.C:
			m.flushOnce(ctx)
		}
	}
}

// pollOnce polls with a time limit; Poll logs failures itself.
func (m *Manager) pollOnce(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	_ = m.Poll(pctx)
}

func (m *Manager) flushOnce(ctx context.Context) {
	if err := m.FlushTouches(ctx); err != nil && ctx.Err() == nil {
		m.log.Warn("cannot record when keys were last used; will retry", "reason", err.Error())
	}
}
