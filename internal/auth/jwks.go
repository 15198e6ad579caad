package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxDocumentSize bounds the discovery document and the JWKS: both come
// from the network, and a real one is a few kilobytes.
const maxDocumentSize = 1 << 20

// minRSABits is the smallest RSA key accepted from a JWKS; shorter keys
// can be factored by a determined attacker and forge any token.
const minRSABits = 2048

// keySet is one fetched JWKS, reduced to the public signing keys Warden can
// use. It is never changed after it is built, so readers need no lock.
type keySet struct {
	byKID map[string][]jose.JSONWebKey
	all   []jose.JSONWebKey
}

// keyMatch says what a key set knows of a token's key.
type keyMatch int

const (
	keyUnknown   keyMatch = iota // no key with that kid (or, without a kid, none fits)
	keyMismatch                  // the kid is known, but not for this algorithm
	keyFound                     // a key fits
	keyAmbiguous                 // no kid, and several keys fit: refuse rather than try them all
)

// find returns the key for kid that may verify alg.
func (s *keySet) find(kid string, alg jose.SignatureAlgorithm) (jose.JSONWebKey, keyMatch) {
	if s == nil {
		return jose.JSONWebKey{}, keyUnknown
	}
	if kid == "" {
		var found []jose.JSONWebKey
		for _, k := range s.all {
			if keyFits(k, alg) {
				found = append(found, k)
			}
		}
		switch len(found) {
		case 0:
			return jose.JSONWebKey{}, keyUnknown
		case 1:
			return found[0], keyFound
		default:
			return jose.JSONWebKey{}, keyAmbiguous
		}
	}
	ks, ok := s.byKID[kid]
	if !ok {
		return jose.JSONWebKey{}, keyUnknown
	}
	for _, k := range ks {
		if keyFits(k, alg) {
			return k, keyFound
		}
	}
	return jose.JSONWebKey{}, keyMismatch
}

// keyFits reports whether k may verify a signature made with alg. The key
// type must belong to the algorithm's family, and a key that names its own
// algorithm is used for that one only: otherwise an RSA key published for
// RS256 could be made to check a PS256 signature, or worse.
func keyFits(k jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case jose.ES256:
			return pub.Curve == elliptic.P256()
		case jose.ES384:
			return pub.Curve == elliptic.P384()
		case jose.ES512:
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// parseKeySet reads a JWKS document. Keys Warden cannot or must not use are
// skipped, as RFC 7517 asks, and reported in skipped: symmetric keys (they
// would make an HMAC token checkable with a published secret), anything
// carrying private key material, encryption-only keys, short RSA keys and
// unknown types. A set with no usable key is an error, so that a broken
// JWKS never replaces a working one.
func parseKeySet(doc []byte) (set *keySet, skipped []string, err error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, nil, fmt.Errorf("JWKS is not a JSON key set: %w", err)
	}
	set = &keySet{byKID: make(map[string][]jose.JSONWebKey)}
	for i, r := range raw.Keys {
		k, why := parsePublicKey(r)
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("key %d: %s", i, why))
			continue
		}
		set.all = append(set.all, k)
		if k.KeyID != "" {
			set.byKID[k.KeyID] = append(set.byKID[k.KeyID], k)
		}
	}
	if len(set.all) == 0 {
		return nil, skipped, fmt.Errorf("JWKS has no usable signing key (%d listed)", len(raw.Keys))
	}
	return set, skipped, nil
}

// parsePublicKey reads one JWK, or says why it is not used.
func parsePublicKey(r json.RawMessage) (jose.JSONWebKey, string) {
	// go-jose accepts private and symmetric keys in a JWK; look first.
	var peek struct {
		Kty string `json:"kty"`
		Use string `json:"use"`
		D   any    `json:"d"`
		P   any    `json:"p"`
		Q   any    `json:"q"`
		K   any    `json:"k"`
	}
	if err := json.Unmarshal(r, &peek); err != nil {
		return jose.JSONWebKey{}, "not a JSON object"
	}
	switch {
	case peek.D != nil || peek.P != nil || peek.Q != nil || peek.K != nil:
		return jose.JSONWebKey{}, "carries private or symmetric key material"
	case peek.Kty != "RSA" && peek.Kty != "EC" && peek.Kty != "OKP":
		return jose.JSONWebKey{}, fmt.Sprintf("key type %q not used for signatures here", peek.Kty)
	case peek.Use != "" && peek.Use != "sig":
		return jose.JSONWebKey{}, fmt.Sprintf("use %q is not \"sig\"", peek.Use)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(r); err != nil {
		return jose.JSONWebKey{}, "unreadable: " + err.Error()
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return jose.JSONWebKey{}, fmt.Sprintf("RSA key of %d bits is too short", pub.N.BitLen())
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return jose.JSONWebKey{}, "not a public signing key"
	}
	if !k.Valid() {
		return jose.JSONWebKey{}, "invalid key"
	}
	return k, ""
}

// discovery is the part of an OpenID Provider's metadata Warden uses.
type discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// fetchDiscovery reads the issuer's metadata and checks it names the
// configured issuer exactly (OpenID Connect Discovery §4.3): a document
// that names another issuer would have Warden trust that issuer's keys.
func (o *OIDC) fetchDiscovery(ctx context.Context) (string, error) {
	body, err := o.fetch(ctx, o.discoveryURL)
	if err != nil {
		return "", fmt.Errorf("fetch OIDC discovery document: %w", err)
	}
	var d discovery
	if err := json.Unmarshal(body, &d); err != nil {
		return "", fmt.Errorf("read OIDC discovery document: %w", err)
	}
	if d.Issuer != o.issuer {
		return "", fmt.Errorf("OIDC discovery document names issuer %q, not the configured %q: check the issuer URL", d.Issuer, o.issuer)
	}
	u, err := url.Parse(d.JWKSURI)
	if err != nil || d.JWKSURI == "" {
		return "", errors.New("OIDC discovery document has no valid jwks_uri")
	}
	if err := checkFetchURL(u); err != nil {
		return "", fmt.Errorf("OIDC discovery document's jwks_uri: %w", err)
	}
	return d.JWKSURI, nil
}

// fetch GETs u and returns the body of a 200 response, up to
// maxDocumentSize.
func (o *OIDC) fetch(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", redactURL(req.URL), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", redactURL(req.URL), err)
	}
	if len(body) > maxDocumentSize {
		return nil, fmt.Errorf("%s sent more than %d bytes", redactURL(req.URL), maxDocumentSize)
	}
	return body, nil
}

// redactURL drops credentials and the query from u for messages.
func redactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery = nil, "", false
	return c.String()
}

// checkFetchURL refuses URLs whose answers decide who gets in but could be
// changed on the way: plain http is accepted for loopback hosts only, so
// that local test issuers work.
func checkFetchURL(u *url.URL) error {
	switch {
	case u.Host == "":
		return fmt.Errorf("%q is not an absolute URL", redactURL(u))
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q must use https (plain http only for 127.0.0.1, ::1 or localhost)", redactURL(u))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpClient returns a copy of c that refuses redirects to URLs
// checkFetchURL refuses, so that an https issuer cannot be redirected to
// plain http.
func httpClient(c *http.Client) *http.Client {
	cc := *c
	next := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkFetchURL(req.URL); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}

// keyCache is the OIDC authenticator's view of the issuer: the discovered
// JWKS URL, the last good key set, and when it may ask again. It is guarded
// by OIDC.mu.
type keyCache struct {
	jwksURI      string
	discoveredAt time.Time
	keys         *keySet
	fetchedAt    time.Time
	// retryAt is when a fetch may be tried again after a failed one;
	// kidRetryAt is when a token with an unknown key may cause a fetch
	// again. Both keep a flood of tokens from becoming a flood of requests
	// to the issuer.
	retryAt, kidRetryAt time.Time
	// inflight is non-nil while a refresh runs, and closed when it ends:
	// one refresh at a time, and everyone else waits for its result.
	inflight chan struct{}
	lastErr  error
}

// errNoKeys is the cause when nothing was ever fetched.
var errNoKeys = errors.New("no JWKS fetched yet")

// key returns the key that may verify a token signed with alg under kid.
// It refreshes the key set when there is none, when it is older than the
// TTL, or when kid is unknown (rate limited), and fails closed when no key
// set could ever be fetched.
func (o *OIDC) key(ctx context.Context, kid string, alg jose.SignatureAlgorithm) (jose.JSONWebKey, error) {
	refreshed := false
	for {
		o.mu.Lock()
		now := o.now()
		c := &o.cache
		k, match := c.keys.find(kid, alg)
		fresh := c.keys != nil && now.Sub(c.fetchedAt) < o.ttl
		if match == keyFound && (fresh || refreshed) {
			o.mu.Unlock()
			return k, nil
		}
		if match == keyMismatch || match == keyAmbiguous {
			o.mu.Unlock()
			return jose.JSONWebKey{}, keyError(match)
		}
		haveKeys, lastErr := c.keys != nil, c.lastErr
		if lastErr == nil {
			lastErr = errNoKeys
		}
		if refreshed {
			// Asked the issuer (or waited for someone who did) and still
			// nothing fits.
			retry := c.retryAt.Sub(now)
			o.mu.Unlock()
			if !haveKeys {
				return jose.JSONWebKey{}, o.unavailable(lastErr, retry)
			}
			return jose.JSONWebKey{}, keyError(match)
		}
		if wait := c.inflight; wait != nil {
			o.mu.Unlock()
			if match == keyFound {
				// Stale but good while another request refreshes.
				return k, nil
			}
			select {
			case <-wait:
			case <-ctx.Done():
				return jose.JSONWebKey{}, o.unavailable(ctx.Err(), 0)
			}
			refreshed = true
			continue
		}
		unknownKID := haveKeys && match == keyUnknown
		gate := c.retryAt
		if unknownKID && c.kidRetryAt.After(gate) {
			gate = c.kidRetryAt
		}
		if now.Before(gate) {
			o.mu.Unlock()
			switch {
			case match == keyFound:
				return k, nil
			case !haveKeys:
				return jose.JSONWebKey{}, o.unavailable(lastErr, gate.Sub(now))
			}
			return jose.JSONWebKey{}, keyError(match)
		}
		if unknownKID {
			c.kidRetryAt = now.Add(o.minRefresh)
		}
		done := make(chan struct{})
		c.inflight = done
		o.mu.Unlock()

		o.refresh(ctx, done)
		refreshed = true
	}
}

// keyError is the refusal for a key set that was searched and has no key
// for the token.
func keyError(m keyMatch) error {
	switch m {
	case keyMismatch:
		return errAlgMismatch
	case keyAmbiguous:
		return errKeyAmbiguous
	}
	return errUnknownKey
}

var (
	errUnknownKey   = errors.New("no key in the issuer's JWKS has the token's kid")
	errAlgMismatch  = errors.New("the token's algorithm does not fit the key its kid names")
	errKeyAmbiguous = errors.New("the token names no kid and several keys fit its algorithm")
)

// refresh fetches the discovery document (when missing or older than the
// TTL) and the JWKS, and records the outcome. A failure keeps the keys
// already held: they stay good until the issuer answers again. It runs
// detached from the caller's cancellation, since other requests wait for
// its result; the HTTP client's timeout bounds it.
func (o *OIDC) refresh(ctx context.Context, done chan struct{}) {
	ctx = context.WithoutCancel(ctx)
	if o.client.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultHTTPTimeout)
		defer cancel()
	}

	o.mu.Lock()
	start := o.now()
	jwksURI := o.cache.jwksURI
	rediscover := jwksURI == "" || start.Sub(o.cache.discoveredAt) >= o.ttl
	o.mu.Unlock()

	var discovered, finished bool
	var err error
	// Record the outcome and wake the waiters even if the fetch panics:
	// a refresh that never ends would hold every token forever.
	defer func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		now := o.now()
		if discovered {
			o.cache.jwksURI, o.cache.discoveredAt = jwksURI, now
		}
		if !finished {
			err = errors.New("JWKS refresh did not finish")
		}
		o.cache.lastErr = err
		if err != nil {
			o.cache.retryAt = now.Add(o.minRefresh)
			if o.cache.keys != nil {
				o.log.WarnContext(ctx, "OIDC keys not refreshed; still using the keys fetched before", "reason", err.Error(), "keys_fetched_at", o.cache.fetchedAt)
			} else {
				o.log.ErrorContext(ctx, "OIDC keys not fetched; tokens are refused until they are", "reason", err.Error())
			}
		} else {
			o.cache.retryAt = time.Time{}
		}
		o.cache.inflight = nil
		close(done)
	}()
	err = func() error {
		if rediscover {
			u, err := o.fetchDiscovery(ctx)
			switch {
			case err == nil:
				jwksURI, discovered = u, true
			case jwksURI == "":
				return err
			default:
				o.log.WarnContext(ctx, "OIDC discovery failed; using the JWKS URL found before", "reason", err.Error())
			}
		}
		body, err := o.fetch(ctx, jwksURI)
		if err != nil {
			return fmt.Errorf("fetch JWKS: %w", err)
		}
		set, skipped, err := parseKeySet(body)
		for _, s := range skipped {
			o.log.WarnContext(ctx, "OIDC JWKS key not used", "reason", s)
		}
		if err != nil {
			return err
		}
		o.mu.Lock()
		o.cache.keys, o.cache.fetchedAt = set, o.now()
		o.mu.Unlock()
		return nil
	}()
	finished = true
}
