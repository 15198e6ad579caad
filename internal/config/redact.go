package config

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// redactedHeader starts the output of Redacted. It is a comment, so the
// output is itself a valid warden.yaml.
const redactedHeader = `# Effective Warden configuration: defaults, then the file, then WARDEN_*
# environment variables. Credentials appear only as references.
`

// redacted replaces a value that must not be shown.
const redacted = "REDACTED"

// Redacted returns the effective configuration as YAML, for `warden doctor`
// and `warden serve --config-test`. The output parses back (with Parse) to
// the same Config.
//
// A Config that passed validation holds no secrets, only references. Since
// Redacted may also be called on one that did not (or was changed in code),
// it still redacts on a copy: credential fields that are not references,
// strings shaped like keys, the values of headers that carry credentials,
// and userinfo, query or fragment in base URLs.
func (c *Config) Redacted() ([]byte, error) {
	cp := c.clone()
	cp.scrub()
	var buf bytes.Buffer
	buf.WriteString(redactedHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cp); err != nil {
		return nil, fmt.Errorf("config: render effective configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: render effective configuration: %w", err)
	}
	return buf.Bytes(), nil
}

// clone returns a deep copy of c.
func (c *Config) clone() *Config {
	cp := *c
	cp.Server.TrustedProxies = slices.Clone(c.Server.TrustedProxies)
	cp.Providers = make(map[string]Provider, len(c.Providers))
	for name, p := range c.Providers {
		p.APIKeys = slices.Clone(p.APIKeys)
		p.Headers = maps.Clone(p.Headers)
		cp.Providers[name] = p
	}
	cp.Models = make(map[string]Model, len(c.Models))
	for name, m := range c.Models {
		m.Deployments = slices.Clone(m.Deployments)
		m.Fallbacks = slices.Clone(m.Fallbacks)
		cp.Models[name] = m
	}
	return &cp
}

// scrub redacts c in place; see Redacted.
func (c *Config) scrub() {
	hide := func(s *string) {
		if looksLikeKey(*s) {
			*s = redacted
		}
	}
	hideRef := func(s *string) {
		if _, err := ParseRef(*s); err != nil || looksLikeKey(*s) {
			*s = redacted
		}
	}
	// hideName is for fields that name an entry of kind (providers or
	// models): one that is not safe to print is replaced, like the entry's
	// own name.
	hideName := func(kind string, s *string) {
		if !safeName(kind, *s) {
			*s = redacted
		}
	}
	hide(&c.DataDir)
	hide(&c.Server.Addr)
	for i := range c.Server.TrustedProxies {
		hide(&c.Server.TrustedProxies[i])
	}
	hide(&c.Server.TLS.CertFile)
	hide(&c.Server.TLS.KeyFile)
	hide(&c.Server.TLS.MinVersion)
	hide(&c.Log.Level)
	hide(&c.Log.Format)

	providers := make(map[string]Provider, len(c.Providers))
	for i, name := range sortedKeys(c.Providers) {
		p := c.Providers[name]
		hide(&p.Type)
		p.BaseURL = scrubURL(p.BaseURL)
		if p.APIKey != "" {
			hideRef(&p.APIKey)
		}
		for j := range p.APIKeys {
			hideRef(&p.APIKeys[j])
		}
		p.Headers = scrubHeaders(p.Headers)
		hide(&p.AzureAPIVersion)
		providers[scrubName("providers", name, i)] = p
	}
	c.Providers = providers

	models := make(map[string]Model, len(c.Models))
	for i, name := range sortedKeys(c.Models) {
		m := c.Models[name]
		if m.Provider != "" {
			hideName("providers", &m.Provider)
		}
		hide(&m.UpstreamModel)
		for j := range m.Deployments {
			hideName("providers", &m.Deployments[j].Provider)
			hide(&m.Deployments[j].Model)
		}
		for j := range m.Fallbacks {
			hideName("models", &m.Fallbacks[j])
		}
		models[scrubName("models", name, i)] = m
	}
	c.Models = models
}

// scrubHeaders returns h with names that are not safe to print replaced,
// and with the values of key-shaped entries and of headers that carry
// credentials redacted. Validation refuses such headers; a Config changed in
// code may still hold them.
func scrubHeaders(h map[string]string) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for i, name := range sortedKeys(h) {
		val := h[name]
		if looksLikeKey(val) || checkHeaderName(name) != "" {
			val = redacted
		}
		out[scrubName("providers.headers", name, i)] = val
	}
	return out
}

// scrubName keeps a map name of the given kind (providers, models or a
// headers map) if it is safe to print and otherwise replaces it with a
// numbered placeholder, so entries stay distinct.
func scrubName(kind, name string, i int) string {
	if safeName(kind, name) {
		return name
	}
	return "redacted-" + strconv.Itoa(i+1)
}

// safeName reports whether a name may be printed by Redacted: it is a
// valid name of its kind, which validation has already judged not to be a
// key, or printable in a message. Keeping every valid name is what lets an
// accepted Config survive the round trip through Redacted.
func safeName(kind, name string) bool {
	return checkName(kind, name) == "" || printable(name) == name
}

// scrubURL drops the parts of a URL that can hold credentials.
func scrubURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || looksLikeKey(raw) {
		return redacted
	}
	if u.User == nil && u.RawQuery == "" && !u.ForceQuery && u.Fragment == "" && u.Opaque == "" {
		return raw
	}
	if u.Opaque != "" {
		return redacted
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
