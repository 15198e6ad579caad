package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Validate checks c as Load does and returns a Problems error listing
// everything wrong, or nil. Use it after changing a loaded Config (for
// example from command-line flags); the problems then carry no Source,
// since the values no longer come from the file.
//
// Validate does not fill defaults: an empty upstream_model or deployment
// model is accepted and means the model's own name, and a deployment weight
// of 0 means 1 (see Model.Resolved).
func (c *Config) Validate() error {
	v := validator{}
	v.config(c)
	if len(v.probs) > 0 {
		return capProblems(v.probs, false)
	}
	return nil
}

// validator collects problems with a decoded Config.
type validator struct {
	// src is the decoder's field → source map; nil for Validate.
	src   map[string]string
	probs Problems
	// flagged fields already have a "looks like a key" problem; further
	// checks on them would only add noise.
	flagged map[string]bool
	// broken is the decoder's set of fields that could not be decoded,
	// with the settings containing them; nil for Validate.
	broken map[string]bool
	// providerList and modelList cache the "; configured: ..." tails of
	// messages, which would otherwise be rebuilt for every bad reference.
	providerList, modelList *string
	// parsed is set when checking what Parse decoded, where defaults are
	// already filled in: a zero deployment weight was then written out and
	// is refused, while Validate takes it as "the default".
	parsed bool
}

// add records a problem with field. Past maxProblems (plus one, so that
// capProblems still sees the overflow) problems are dropped here, so that
// a hostile file cannot make the list huge before it is capped.
func (v *validator) add(field, msg string) {
	if len(v.probs) > maxProblems {
		return
	}
	v.probs = append(v.probs, Problem{Source: v.source(field), Field: field, Message: msg})
}

// undecodable reports whether field, or anything inside it, could not be
// decoded; "is required" problems for it would then only repeat the
// decoder's.
func (v *validator) undecodable(field string) bool { return v.broken[field] }

// source finds where field was set, falling back to the nearest enclosing
// setting that was (a missing key is reported at its mapping).
func (v *validator) source(field string) string {
	for f := field; f != ""; {
		if s, ok := v.src[f]; ok {
			return s
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return ""
}

// config runs every check.
func (v *validator) config(c *Config) {
	v.flagged = map[string]bool{}
	v.keyShaped(reflect.ValueOf(c).Elem(), "")
	if c.DataDir == "" && !v.flagged["data_dir"] {
		v.add("data_dir", "must not be empty; the default is "+Default().DataDir)
	}
	v.server(&c.Server)
	v.log(&c.Log)
	for _, name := range sortedKeys(c.Providers) {
		v.provider(name, c.Providers[name])
	}
	for _, name := range sortedKeys(c.Models) {
		v.model(name, c.Models[name], c.Providers, c.Models)
	}
	v.fallbackCycles(c.Models)
	v.routing(&c.Routing)
	v.keys(&c.Keys)
	v.oidc(&c.Auth.OIDC)
	v.limits(&c.Limits)
	if c.Budgets.ReservationTTL < time.Minute || c.Budgets.ReservationTTL > 24*time.Hour {
		v.add("budgets.reservation_ttl", "must be from 1m to 24h, and longer than the longest call; the default is 15m")
	}
	for _, name := range sortedKeys(c.Pricing) {
		v.price(name, c.Pricing[name])
	}
	v.guardrails(&c.Guardrails)
	for i, w := range c.Alerts.Webhooks {
		path := fmt.Sprintf("alerts.webhooks[%d]", i)
		u, err := url.Parse(w.URL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			v.add(path+".url", "must be an https URL")
		case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
			v.add(path+".url", "must use https; plain http is allowed only to a loopback address")
		}
		if _, err := ParseRef(w.Secret); err != nil {
			v.add(path+".secret", "must be a reference, env://VAR or secret://NAME; webhooks are always signed")
		}
		if w.Format != "" && w.Format != "json" && w.Format != "slack" {
			v.add(path+".format", "must be json or slack")
		}
	}
	for _, rule := range sortedKeys(c.Alerts.Responses) {
		if r := c.Alerts.Responses[rule]; r != "alert" && r != "suspend" {
			v.add("alerts.responses."+rule, "must be alert or suspend")
		}
	}
	if p := c.Audit.QueuePolicy; p != "block" && p != "drop" {
		v.add("audit.queue_policy", "must be block or drop")
	}
	if n := c.Audit.QueueSize; n < 100 || n > 1_000_000 {
		v.add("audit.queue_size", "must be from 100 to 1000000; the default is 10000")
	}
	if r := c.Audit.Retention; r < 24*time.Hour {
		v.add("audit.retention", "must be at least 1d; the default is 90d")
	}
	if a := c.Metrics.Addr; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.add("metrics.addr", "must be host:port, such as 127.0.0.1:9090")
		} else if a == c.Server.Addr {
			v.add("metrics.addr", "must differ from server.addr; leave it empty to serve /metrics on the main listener")
		}
	}
	if t := c.Metrics.Token; t != "" {
		if _, err := ParseRef(t); err != nil {
			v.add("metrics.token", "must be a reference, env://VAR or secret://NAME, never the token itself")
		}
	}
}

// guardrails checks every guard policy: the defaults and each override.
func (v *validator) guardrails(g *Guardrails) {
	v.guardPolicy("guardrails", g.Defaults(), true)
	for _, set := range []struct {
		name string
		m    map[string]GuardPolicy
	}{{"models", g.Models}, {"teams", g.Teams}, {"keys", g.Keys}} {
		for _, name := range sortedKeys(set.m) {
			v.guardPolicy("guardrails."+set.name+"."+name, set.m[name], false)
		}
	}
	val := g.Validation
	for field, n := range map[string]int{"max_messages": val.MaxMessages, "max_chars": val.MaxChars, "max_tokens": val.MaxTokens} {
		if n < 0 {
			v.add("guardrails.validation."+field, "must be 0 (no bound) or positive")
		}
	}
}

func (v *validator) guardPolicy(path string, p GuardPolicy, top bool) {
	v.guardClass(path+".pii", p.PII, top)
	v.guardClass(path+".secrets", p.Secrets, top)
	v.guardClass(path+".output.pii", p.Output.PII, top)
	v.guardClass(path+".output.secrets", p.Output.Secrets, top)
	for _, c := range []struct {
		field string
		a     string
	}{{"output.pii", p.Output.PII.Action}, {"output.secrets", p.Output.Secrets.Action}} {
		if c.a == "pseudonymize" {
			v.add(path+"."+c.field+".action", "pseudonymize applies to prompts; on answers use allow, flag, mask, redact or block")
		}
	}
	switch a := p.Injection.Action; {
	case a == "" && !top:
	case a != "allow" && a != "flag" && a != "block":
		v.add(path+".injection.action", "must be allow, flag or block")
	}
	if t := p.Injection.Threshold; t < 0 || t > 1 || (top && t == 0) {
		v.add(path+".injection.threshold", "must be a score from 0 to 1 (exclusive of 0); the default is 0.8")
	}
}

func (v *validator) guardClass(path string, c GuardClass, top bool) {
	if !(c.Action == "" && !top) && !slices.Contains(guardActions, c.Action) {
		v.add(path+".action", "must be one of "+strings.Join(guardActions, ", "))
	}
	for _, t := range sortedKeys(c.Types) {
		if !slices.Contains(guardActions, c.Types[t]) {
			v.add(path+".types."+t, "must be one of "+strings.Join(guardActions, ", "))
		}
	}
}

// sortedKeys returns m's keys in order, so problems come out in a stable
// order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// keyMsg is the pointer to the vault given whenever a key turns up where
// it should not.
const keyMsg = `this looks like an API key, and keys must not be written in the config; store it with "warden secrets set NAME" and refer to it as secret://NAME in a provider's api_key`

// keyShaped flags every string setting that holds something shaped like a
// key. Credential fields (api_key, api_keys) are left to checkRef, which
// gives a more specific message.
func (v *validator) keyShaped(rv reflect.Value, path string) {
	switch rv.Kind() {
	case reflect.Struct:
		if rv.Type() == durationType {
			return
		}
		for i := range rv.NumField() {
			name := yamlName(rv.Type().Field(i))
			if name == "" || name == "api_key" || name == "api_keys" {
				continue
			}
			v.keyShaped(rv.Field(i), join(path, name))
		}
	case reflect.Map:
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			v.keyShaped(rv.MapIndex(k), join(path, printable(k.String())))
		}
	case reflect.Slice:
		for i := range rv.Len() {
			v.keyShaped(rv.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		if looksLikeKey(rv.String()) {
			v.flagged[path] = true
			v.add(path, keyMsg)
		}
	}
}

// server checks the listener settings.
func (v *validator) server(s *Server) {
	def := Default().Server
	if !v.flagged["server.addr"] {
		if msg := checkAddr(s.Addr); msg != "" {
			v.add("server.addr", msg)
		}
	}
	for _, d := range []struct {
		field  string
		val    time.Duration
		def    time.Duration
		zeroOK bool
	}{
		{"server.read_header_timeout", s.ReadHeaderTimeout, def.ReadHeaderTimeout, false},
		{"server.read_timeout", s.ReadTimeout, def.ReadTimeout, false},
		{"server.idle_timeout", s.IdleTimeout, def.IdleTimeout, false},
		{"server.shutdown_timeout", s.ShutdownTimeout, def.ShutdownTimeout, true},
	} {
		switch {
		case d.zeroOK && d.val < 0:
			v.add(d.field, fmt.Sprintf("must not be negative; 0 closes connections without waiting, the default is %s", d.def))
		case !d.zeroOK && d.val <= 0:
			v.add(d.field, fmt.Sprintf("must be longer than 0 (no timeout would let slow clients hold connections); the default is %s", d.def))
		}
	}
	if s.MaxHeaderBytes < 4<<10 || s.MaxHeaderBytes > 1<<20 {
		v.add("server.max_header_bytes", fmt.Sprintf("must be from 4096 (4 KiB) to 1048576 (1 MiB); the default is %d", def.MaxHeaderBytes))
	}
	if s.MaxBodyBytes < 1<<10 || s.MaxBodyBytes > 1<<30 {
		v.add("server.max_body_bytes", fmt.Sprintf("must be from 1024 (1 KiB) to 1073741824 (1 GiB); the default is %d", def.MaxBodyBytes))
	}
	for i, p := range s.TrustedProxies {
		field := fmt.Sprintf("server.trusted_proxies[%d]", i)
		if v.flagged[field] {
			continue
		}
		if _, err := parseProxy(p); err != nil {
			v.add(field, err.Error()+"; write an address like 10.0.0.1 or a prefix like 10.0.0.0/8")
		}
	}
	t := s.TLS
	switch {
	case t.SelfSigned && (t.CertFile != "" || t.KeyFile != ""):
		field := "server.tls.cert_file"
		if t.CertFile == "" {
			field = "server.tls.key_file"
		}
		v.add(field, "cannot be combined with self_signed: true; use your own certificate or a generated one, not both")
	case t.CertFile != "" && t.KeyFile == "":
		v.add("server.tls.key_file", "must be set together with cert_file: the private key for that certificate")
	case t.KeyFile != "" && t.CertFile == "":
		v.add("server.tls.cert_file", "must be set together with key_file: the certificate for that private key")
	}
	if t.MinVersion != "1.2" && t.MinVersion != "1.3" && !v.flagged["server.tls.min_version"] {
		v.add("server.tls.min_version", `must be "1.2" (the default) or "1.3"`)
	}
}

// hostnameRE is a DNS name: labels of letters, digits and hyphens.
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?$`)

// checkAddr checks a listen address and returns what is wrong, or "".
func checkAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port, like 127.0.0.1:8080, :8080 (all interfaces) or [::1]:8080"
	}
	if !validPort(port, 0) {
		return "the port must be a number from 0 to 65535"
	}
	if host == "" {
		return ""
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "IPv6 zones are not supported in the listen address; use the address alone"
		}
		return ""
	}
	if len(host) > 253 || !hostnameRE.MatchString(host) {
		return "the host must be an IP address or a host name (or empty for all interfaces)"
	}
	return ""
}

// validPort reports whether p is a decimal port number from low to 65535.
func validPort(p string, low int) bool {
	if p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= low && n <= 65535
}

// log checks the log settings.
func (v *validator) log(l *Log) {
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, l.Level) && !v.flagged["log.level"] {
		v.add("log.level", "must be one of debug, info (the default), warn, error")
	}
	if l.Format != "json" && l.Format != "text" && !v.flagged["log.format"] {
		v.add("log.format", "must be json (the default) or text")
	}
}

// provider checks one provider entry.
func (v *validator) provider(name string, p Provider) {
	path := join("providers", printable(name))
	if msg := checkName("providers", name); msg != "" {
		v.add(path, msg)
	}
	typeField := path + ".type"
	switch {
	case v.flagged[typeField]:
	case p.Type == "":
		v.add(typeField, "is required: one of "+strings.Join(providerTypes, ", "))
	case !slices.Contains(providerTypes, p.Type):
		v.add(typeField, "must be one of "+strings.Join(providerTypes, ", "))
	}
	urlField := path + ".base_url"
	switch {
	case v.flagged[urlField]:
	case p.BaseURL == "" && p.Type == "http":
		v.add(urlField, "is required for type http: the server's URL, like https://models.internal/v1 or http://127.0.0.1:9000")
	case p.BaseURL != "":
		if msg := checkBaseURL(p.BaseURL, p.AllowInsecureHTTP); msg != "" {
			v.add(urlField, msg)
		}
	}
	secretName := "NAME"
	if printable(name) == name && secretNameRE.MatchString(name) {
		secretName = name
	}
	switch {
	case p.APIKey != "" && len(p.APIKeys) > 0:
		v.add(path+".api_keys", "cannot be combined with api_key; move every reference into api_keys")
	case p.APIKey == "" && len(p.APIKeys) == 0 && p.Type != "http" && slices.Contains(providerTypes, p.Type):
		v.add(path+".api_key", fmt.Sprintf(`is required for type %s: store the key with "warden secrets set %s" and write api_key: secret://%s`,
			p.Type, secretName, secretName))
	}
	if p.APIKey != "" {
		v.ref(path+".api_key", p.APIKey, secretName, "write api_key: secret://"+secretName)
	}
	seen := map[string]int{}
	for i, k := range p.APIKeys {
		field := fmt.Sprintf("%s.api_keys[%d]", path, i)
		sn := secretName
		if sn != "NAME" && i > 0 {
			sn = fmt.Sprintf("%s-%d", sn, i+1)
		}
		if k == "" {
			v.add(field, "must not be empty: write a reference like secret://"+sn)
			continue
		}
		if !v.ref(field, k, sn, "list secret://"+sn+" under api_keys") {
			continue
		}
		if j, dup := seen[k]; dup {
			v.add(field, fmt.Sprintf("is the same reference as api_keys[%d]; list each key once", j))
			continue
		}
		seen[k] = i
	}
	v.headers(path, p.Headers)
	knownType := slices.Contains(providerTypes, p.Type)
	af := path + ".azure_api_version"
	if p.AzureAPIVersion != "" && !v.flagged[af] {
		switch {
		case knownType && p.Type != "openai":
			v.add(af, "only applies to type openai (Azure OpenAI); remove it, or set type: openai")
		case !azureVersionRE.MatchString(p.AzureAPIVersion):
			v.add(af, "must be an Azure OpenAI API version like 2024-10-21 or 2025-04-01-preview")
		}
		if p.Type == "openai" && p.BaseURL == "" {
			v.add(urlField, "is required with azure_api_version: your Azure OpenAI resource's endpoint, like https://NAME.openai.azure.com")
		}
	}
	if p.Public {
		switch {
		case knownType && p.Type != "http":
			v.add(path+".public", "only applies to type http; the other types are always behind a Warden key")
		case p.APIKey != "" || len(p.APIKeys) > 0:
			v.add(path+".public", "cannot be combined with api_key or api_keys: anyone could then use this provider's key without a Warden key; drop public: true, or the key")
		}
	}
	v.timeouts(path+".timeouts", p.Timeouts)
}

// azureVersionRE is the shape of an Azure OpenAI api-version: a date, for
// preview versions with -preview.
var azureVersionRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$`)

// maxHeaderValue bounds one configured header value; servers commonly
// refuse header blocks past 8 KiB, and real values are short.
const maxHeaderValue = 4096

// headers checks a provider's static headers. Names are checked here too
// for the Validate path; Parse drops entries with a bad name while
// decoding and reports them at the key.
func (v *validator) headers(path string, h map[string]string) {
	first := map[string]string{}
	for _, name := range sortedKeys(h) {
		field := join(path+".headers", printable(name))
		if msg := checkHeaderName(name); msg != "" {
			v.add(field, msg)
			continue
		}
		lower := strings.ToLower(name)
		if other, dup := first[lower]; dup {
			v.add(field, "is the same header as "+printable(other)+" (header names ignore case); keep one")
			continue
		}
		first[lower] = name
		if v.flagged[field] {
			continue
		}
		val := h[name]
		switch {
		case len(val) > maxHeaderValue:
			v.add(field, fmt.Sprintf("the value must be at most %d bytes", maxHeaderValue))
		case strings.ContainsFunc(val, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }):
			v.add(field, "the value must not contain control characters such as newlines, which would end the header early")
		case strings.HasPrefix(val, "secret://") || strings.HasPrefix(val, "env://"):
			v.add(field, "header values are sent as written, and a reference here would not be resolved; credentials belong in api_key")
		}
	}
}

// timeouts checks a provider's upstream timeouts.
func (v *validator) timeouts(path string, t Timeouts) {
	ok := true
	for _, d := range []struct {
		name string
		val  time.Duration
	}{{"connect", t.Connect}, {"first_byte", t.FirstByte}, {"total", t.Total}, {"stream_idle", t.StreamIdle}} {
		switch {
		case d.val < 0:
			v.add(path+"."+d.name, "must not be negative; leave it out (or 0) for the gateway's default")
			ok = false
		case d.val > MaxProviderTimeout:
			v.add(path+"."+d.name, "must be at most "+fmtDuration(MaxProviderTimeout)+"; leave it out for the gateway's default")
			ok = false
		}
	}
	if !ok || t.Total == 0 {
		return
	}
	if t.Connect > t.Total {
		v.add(path+".connect", "must not be longer than total, which bounds the whole call")
	}
	if t.FirstByte > t.Total {
		v.add(path+".first_byte", "must not be longer than total, which bounds the whole call")
	}
}

// fmtDuration prints d without trailing zero units (1h, not 1h0m0s).
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ref checks one credential reference and reports whether it is usable.
// hint says how to write the reference in this position.
func (v *validator) ref(field, s, secretName, hint string) bool {
	if looksLikeKey(s) || !strings.Contains(s, "://") {
		v.add(field, fmt.Sprintf(`literal keys are not allowed in the config; store it with "warden secrets set %s" and %s`, secretName, hint))
		return false
	}
	r, err := ParseRef(s)
	if err != nil {
		v.add(field, err.Error())
		return false
	}
	if r.Scheme == "env" && strings.HasPrefix(r.Name, envPrefix) {
		// WARDEN_* variables hold Warden's own settings and master key;
		// naming one here would send it to a provider.
		v.add(field, "env:// cannot name a WARDEN_* variable, which holds Warden's own settings and keys; use the provider's variable (e.g. env://OPENAI_API_KEY) or secret://NAME")
		return false
	}
	return true
}

// checkBaseURL checks a provider URL and returns what is wrong, or "". The
// value is never quoted: a URL may carry credentials.
func checkBaseURL(raw string, allowInsecure bool) string {
	u, err := url.Parse(raw)
	const form = "must be an absolute http or https URL, like https://api.example.com/v1"
	if err != nil || u.Opaque != "" {
		return form
	}
	if u.User != nil {
		return `credentials in a URL are refused; store the key with "warden secrets set NAME" and reference it from api_key`
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" {
		return form
	}
	if u.RawQuery != "" || u.ForceQuery {
		return "must not have a query (?...): query parameters often carry keys; give scheme, host, port and path only"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not have a fragment (#...); give scheme, host, port and path only"
	}
	if p := u.Port(); p != "" && !validPort(p, 1) {
		return "the port must be a number from 1 to 65535"
	}
	if u.Scheme == "http" && !allowInsecure && !isLoopback(u.Hostname()) {
		return "must use https; plain http is allowed only for loopback hosts (localhost, 127.0.0.1, ::1) or with allow_insecure_http: true on this provider"
	}
	return ""
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// model checks one model entry.
func (v *validator) model(name string, m Model, providers map[string]Provider, models map[string]Model) {
	path := join("models", printable(name))
	if msg := checkName("models", name); msg != "" {
		v.add(path, msg)
	}
	pf, uf := path+".provider", path+".upstream_model"
	if len(m.Deployments) > 0 {
		if m.Provider != "" {
			v.add(pf, "cannot be combined with deployments; list this provider as one of the deployments instead")
		}
		if m.UpstreamModel != "" {
			v.add(uf, "cannot be combined with deployments; give each deployment its model instead")
		}
		v.deployments(name, path, m.Deployments, providers)
	} else {
		switch {
		case m.Provider == "" && (v.undecodable(path+".deployments") || v.undecodable(pf)):
		case m.Provider == "":
			v.add(pf, "is required: the name of an entry under providers (or list deployments instead)")
		default:
			v.providerRef(pf, m.Provider, providers)
		}
		v.upstreamName(uf, m.UpstreamModel)
	}
	first := map[string]int{}
	for i, f := range m.Fallbacks {
		field := fmt.Sprintf("%s.fallbacks[%d]", path, i)
		if v.flagged[field] {
			continue
		}
		j, dup := first[f]
		switch {
		case f == "":
			v.add(field, "must not be empty: the name of another model")
		case f == name:
			v.add(field, "is this model itself; a model cannot fall back to itself")
		case dup:
			v.add(field, fmt.Sprintf("is the same model as fallbacks[%d]; list each model once", j))
		default:
			first[f] = i
			if _, ok := models[f]; !ok {
				if v.modelList == nil {
					list := listNames(models)
					v.modelList = &list
				}
				v.add(field, "must name a configured model (an entry under models)"+*v.modelList)
			}
		}
	}
}

// deployments checks the deployments of model name at path.
func (v *validator) deployments(name, path string, deps []Deployment, providers map[string]Provider) {
	first := map[[2]string]int{}
	for i, d := range deps {
		dp := fmt.Sprintf("%s.deployments[%d]", path, i)
		switch {
		case d.Provider == "" && v.undecodable(dp+".provider"):
		case d.Provider == "":
			v.add(dp+".provider", "is required: the name of an entry under providers")
		default:
			v.providerRef(dp+".provider", d.Provider, providers)
		}
		v.upstreamName(dp+".model", d.Model)
		if d.Weight < 0 || d.Weight > MaxWeight || (d.Weight == 0 && v.parsed) {
			v.add(dp+".weight", fmt.Sprintf("must be from 1 to %d (leave it out for 1); weights are shares of the model's traffic", MaxWeight))
		}
		up := d.Model
		if up == "" {
			up = name
		}
		target := [2]string{d.Provider, up}
		if j, dup := first[target]; dup {
			v.add(dp, fmt.Sprintf("has the same provider and model as deployments[%d]; list it once and raise its weight instead", j))
			continue
		}
		first[target] = i
	}
}

// providerRef checks that field names a configured provider.
func (v *validator) providerRef(field, name string, providers map[string]Provider) {
	if v.flagged[field] {
		return
	}
	if len(providers) == 0 {
		v.add(field, "no providers are configured; add one under providers")
		return
	}
	if _, ok := providers[name]; !ok {
		if v.providerList == nil {
			var names []string
			for _, n := range sortedKeys(providers) {
				names = append(names, printable(n))
			}
			list := strings.Join(names, ", ")
			v.providerList = &list
		}
		v.add(field, "must name a configured provider; configured: "+*v.providerList)
	}
}

// upstreamName checks a model name sent upstream.
func (v *validator) upstreamName(field, s string) {
	switch {
	case v.flagged[field]:
	case len(s) > 256:
		v.add(field, "must be at most 256 bytes")
	case strings.ContainsFunc(s, unicode.IsControl):
		v.add(field, "must not contain control characters such as newlines")
	}
}

// maxListedNames bounds the names listed in a "must name a configured ..."
// message.
const maxListedNames = 20

// listNames returns "; configured: a, b, ..." for a message, or "" if
// there are none.
func listNames[V any](m map[string]V) string {
	names := sortedKeys(m)
	if len(names) == 0 {
		return ""
	}
	more := ""
	if len(names) > maxListedNames {
		names, more = names[:maxListedNames], ", ..."
	}
	for i, n := range names {
		names[i] = printable(n)
	}
	return "; configured: " + strings.Join(names, ", ") + more
}

// fallbackCycles reports fallback chains that lead back to where they
// started (a -> b -> a), once per cycle, at the entry that closes it.
// Self-references, unknown and repeated fallbacks are reported by model and
// skipped here.
func (v *validator) fallbackCycles(models map[string]Model) {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	// The walk is iterative: a long chain of models must not be able to
	// exhaust the stack.
	type frame struct {
		name string
		next int // index of the next fallback to follow
		// followed holds the fallbacks already taken from this model, so a
		// repeated one (reported by model) is not followed twice.
		followed map[string]bool
	}
	for _, start := range sortedKeys(models) {
		if state[start] != unseen {
			continue
		}
		state[start] = onPath
		stack := []frame{{name: start}}
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			fbs := models[top.name].Fallbacks
			if top.next >= len(fbs) {
				state[top.name] = done
				stack = stack[:len(stack)-1]
				continue
			}
			i := top.next
			top.next++
			f := fbs[i]
			field := fmt.Sprintf("%s.fallbacks[%d]", join("models", printable(top.name)), i)
			if _, ok := models[f]; !ok || f == top.name || v.flagged[field] || top.followed[f] {
				continue
			}
			if top.followed == nil {
				top.followed = map[string]bool{}
			}
			top.followed[f] = true
			switch state[f] {
			case onPath:
				var chain []string
				for j := len(stack) - 1; j >= 0; j-- {
					chain = append(chain, printable(stack[j].name))
					if stack[j].name == f {
						break
					}
				}
				slices.Reverse(chain)
				chain = append(chain, printable(f))
				v.add(field, "makes a fallback cycle ("+strings.Join(chain, " -> ")+"); a model's fallbacks must not lead back to it")
			case unseen:
				state[f] = onPath
				stack = append(stack, frame{name: f})
			}
		}
	}
}

// routing checks the retry and breaker settings.
func (v *validator) routing(r *Routing) {
	def := Default().Routing
	if r.MaxRetries < 0 || r.MaxRetries > 10 {
		v.add("routing.max_retries", fmt.Sprintf("must be from 0 (no retries) to 10; the default is %d", def.MaxRetries))
	}
	for _, d := range []struct {
		field    string
		val, def time.Duration
	}{
		{"routing.backoff_base", r.BackoffBase, def.BackoffBase},
		{"routing.backoff_max", r.BackoffMax, def.BackoffMax},
		{"routing.max_total", r.MaxTotal, def.MaxTotal},
		{"routing.breaker_cooldown", r.BreakerCooldown, def.BreakerCooldown},
	} {
		if d.val <= 0 || d.val > time.Hour {
			v.add(d.field, "must be longer than 0 and at most 1h; the default is "+fmtDuration(d.def))
		}
	}
	if r.BackoffBase > 0 && r.BackoffMax > 0 && r.BackoffMax < r.BackoffBase {
		v.add("routing.backoff_max", "must be at least backoff_base: it caps a delay that starts at backoff_base")
	}
	if r.BreakerFailures < 1 || r.BreakerFailures > 1000 {
		v.add("routing.breaker_failures", fmt.Sprintf("must be from 1 to 1000; the default is %d", def.BreakerFailures))
	}
}

// Bounds of the key settings.
const (
	minPollInterval = 50 * time.Millisecond
	maxPollInterval = 5 * time.Second
	maxRotateGrace  = 30 * 24 * time.Hour
)

// keys checks the virtual key settings.
func (v *validator) keys(k *Keys) {
	def := Default().Keys
	if k.PollInterval < minPollInterval || k.PollInterval > maxPollInterval {
		v.add("keys.poll_interval", fmt.Sprintf("must be from %s to %s (it bounds how long a revoked key keeps working on a running server); the default is %s",
			minPollInterval, maxPollInterval, def.PollInterval))
	}
	if k.RotateGrace < 0 || k.RotateGrace > maxRotateGrace {
		v.add("keys.rotate_grace", fmt.Sprintf("must be from 0 (the old key stops at once) to %s; the default is %s", fmtDuration(maxRotateGrace), fmtDuration(def.RotateGrace)))
	}
}

// roles are the role names of RBAC, as auth defines them.
var roles = []string{"admin", "manager", "user", "auditor"}

// oidc checks the token settings.
func (v *validator) oidc(o *OIDC) {
	if o.Issuer == "" {
		if o.Audience != "" || len(o.AllowedModels) > 0 {
			v.add("auth.oidc.issuer", "must be set when other auth.oidc settings are; it is the URL of your identity provider")
		}
		return
	}
	u, err := url.Parse(o.Issuer)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		v.add("auth.oidc.issuer", "must be an https URL such as https://login.example.com/realms/main")
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		v.add("auth.oidc.issuer", "must use https; plain http is allowed only for a loopback issuer (127.0.0.1, ::1, localhost)")
	}
	if o.Audience == "" {
		v.add("auth.oidc.audience", "must be set: tokens are accepted only when their aud names Warden (for example the client id registered for Warden)")
	}
	for name, claim := range map[string]string{"role_claim": o.RoleClaim, "team_claim": o.TeamClaim, "user_claim": o.UserClaim} {
		if claim == "" {
			v.add("auth.oidc."+name, "must name a token claim")
		}
	}
	if !slices.Contains(roles, o.DefaultRole) {
		v.add("auth.oidc.default_role", "must be one of "+strings.Join(roles, ", "))
	}
	if o.Leeway < 0 || o.Leeway > 5*time.Minute {
		v.add("auth.oidc.leeway", "must be from 0 to 5m; the default is 60s")
	}
	for i, m := range o.AllowedModels {
		if _, err := path.Match(m, ""); err != nil || m == "" {
			v.add(fmt.Sprintf("auth.oidc.allowed_models[%d]", i), "must be a model name or a glob such as gpt-4o*")
		}
	}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// limits checks the throttle settings.
func (v *validator) limits(l *Limits) {
	a := l.AuthFailures
	if a.SlowAfter < 1 || a.SlowAfter > 1000 {
		v.add("limits.auth_failures.slow_after", "must be from 1 to 1000; the default is 5")
	}
	if a.BlockAfter < 0 || a.BlockAfter > 100000 || (a.BlockAfter > 0 && a.BlockAfter <= a.SlowAfter) {
		v.add("limits.auth_failures.block_after", "must be 0 (never block) or more than slow_after, up to 100000; the default is 20")
	}
	if a.Window < time.Second || a.Window > 24*time.Hour {
		v.add("limits.auth_failures.window", "must be from 1s to 24h; the default is 1m")
	}
	if a.BlockFor < time.Second || a.BlockFor > 24*time.Hour {
		v.add("limits.auth_failures.block_for", "must be from 1s to 24h; the default is 5m")
	}
	if a.MaxDelay < 0 || a.MaxDelay > 30*time.Second {
		v.add("limits.auth_failures.max_delay", "must be from 0 to 30s; the default is 2s")
	}
}

// price checks one pricing override: every given price is a dollar
// amount.
func (v *validator) price(model string, p Price) {
	for name, val := range map[string]string{
		"input_cost_per_mtok": p.InputCostPerMTok, "output_cost_per_mtok": p.OutputCostPerMTok,
		"cached_input_cost_per_mtok": p.CachedInputCostPerMTok, "cache_write_cost_per_mtok": p.CacheWriteCostPerMTok,
	} {
		if val == "" {
			continue
		}
		if f, err := strconv.ParseFloat(val, 64); err != nil || f < 0 || f > 1e6 {
			v.add("pricing."+model+"."+name, "must be a price in US dollars per million tokens, such as 2.5")
		}
	}
}
