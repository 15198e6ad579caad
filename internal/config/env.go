package config

import (
	"errors"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// envPrefix starts every variable Warden reads.
const envPrefix = "WARDEN_"

// notConfig lists WARDEN_* variables that other parts of Warden read and
// that therefore are not unknown settings. They are never looked at here.
var notConfig = map[string]bool{
	"WARDEN_CONFIG":              true, // path of this file, read by the CLI
	"WARDEN_MASTER_KEY":          true, // vault master key sources
	"WARDEN_MASTER_KEY_FILE":     true,
	"WARDEN_PASSPHRASE":          true,
	"WARDEN_NEW_MASTER_KEY":      true, // master key rotation
	"WARDEN_NEW_MASTER_KEY_FILE": true,
	"WARDEN_NEW_PASSPHRASE":      true,
	"WARDEN_KEY":                 true, // a virtual key, used by clients
}

// envSetting is one setting that can come from the environment.
type envSetting struct {
	name  string // WARDEN_SERVER_ADDR
	path  string // server.addr
	index []int  // field index path from Config
}

// envSettings lists every environment-settable field. It is derived from
// the struct tags so that a new field under data_dir, server, log, routing
// or keys gets its variable without anyone remembering to add it.
var envSettings = func() map[string]envSetting {
	out := map[string]envSetting{}
	var walk func(t reflect.Type, path string, index []int)
	walk = func(t reflect.Type, path string, index []int) {
		for name, i := range yamlFields(t) {
			f := t.Field(i)
			p := join(path, name)
			idx := append(append([]int(nil), index...), i)
			switch {
			case f.Type.Kind() == reflect.Map,
				f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				// providers, models, lists of webhooks: file only.
			case f.Type.Kind() == reflect.Struct && f.Type != durationType:
				walk(f.Type, p, idx)
			default:
				env := envPrefix + strings.ToUpper(strings.ReplaceAll(p, ".", "_"))
				out[env] = envSetting{name: env, path: p, index: idx}
			}
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}()

// EnvNames returns the names of all WARDEN_* variables that set
// configuration, sorted; for documentation and `warden doctor`.
func EnvNames() []string {
	names := make([]string, 0, len(envSettings))
	for n := range envSettings {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// env applies WARDEN_* overrides from environ. As with os.Getenv, the first
// occurrence of a name wins. An empty value counts as unset, so that
// templated deployments that write VAR= for "no value" keep the file's
// setting (the price: an empty list cannot be forced from the
// environment).
func (d *decoder) env(environ []string, cfg *Config) {
	seen := map[string]bool{}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) || seen[name] {
			continue
		}
		seen[name] = true
		if notConfig[name] || strings.HasPrefix(name, "WARDEN_TEST_") {
			continue
		}
		s, known := envSettings[name]
		if !known {
			d.unknownEnv(name)
			continue
		}
		if val == "" {
			continue
		}
		d.setEnv(s, val, reflect.ValueOf(cfg).Elem().FieldByIndex(s.index))
	}
}

// unknownEnv reports a WARDEN_* variable that is not a setting, with the
// nearest known name.
func (d *decoder) unknownEnv(name string) {
	src := printable(name)
	best, _ := closest(name, EnvNames())
	d.probs = append(d.probs, Problem{
		Source:  src,
		Message: "unknown setting; did you mean " + best + "? Settings outside providers, models, pricing and other lists and maps can be set from the environment, as WARDEN_ plus the path in upper case (e.g. WARDEN_SERVER_TLS_CERT_FILE)",
	})
}

// setEnv parses one environment value into v. Messages name the variable
// and the expected form, never the value.
func (d *decoder) setEnv(s envSetting, val string, v reflect.Value) {
	fail := func(msg string) {
		d.probs = append(d.probs, Problem{Source: s.name, Field: s.path, Message: msg})
	}
	d.src[s.path] = s.name
	switch {
	case v.Type() == durationType:
		dur, err := parseDuration(strings.TrimSpace(val))
		if err != nil {
			fail("must be a duration like 30s, 1m30s, 500ms or 90d (units ns, us, ms, s, m, h, d)")
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		v.SetString(val)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(val))
		if err != nil {
			fail("must be true or false")
			return
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		i, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		switch {
		case err == nil && !v.OverflowInt(i):
			v.SetInt(i)
		case err == nil || errors.Is(err, strconv.ErrRange):
			fail("the number is out of range")
		default:
			fail("must be " + intForm(s.path))
		}
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			fail("must be a number such as 0.8")
			return
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Slice:
		var list []string
		for _, item := range strings.Split(val, ",") {
			if item = strings.TrimSpace(item); item != "" {
				d.src[s.path+"["+strconv.Itoa(len(list))+"]"] = s.name
				list = append(list, item)
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		panic("config: no environment parser for " + s.path)
	}
}
