package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds the configuration file. Real files are a few KiB;
// the cap keeps a wrong path (a log, a disk image) from being read whole.
const MaxFileSize = 1 << 20

// Load reads the file at path ("" means no file: defaults and environment
// only), applies overrides from environ (in os.Environ form), fills defaults
// and validates. Invalid content gives a Problems error listing everything
// wrong; a file that cannot be read gives the *fs.PathError, wrapped, so
// errors.Is(err, fs.ErrNotExist) works.
func Load(path string, environ []string) (*Config, error) {
	if path == "" {
		return Parse("", nil, environ)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, environ)
}

// Parse is Load for bytes already read; name is used in messages as the
// file name. Empty data gives the defaults (plus environment).
func Parse(name string, data []byte, environ []string) (*Config, error) {
	if name == "" {
		name = "config"
	}
	cfg := Default()
	d := &decoder{name: name, src: map[string]string{}, broken: map[string]bool{}}
	d.file(data, cfg)
	d.env(environ, cfg)
	fillDefaults(cfg)
	v := validator{src: d.src, broken: d.broken, parsed: true}
	v.config(cfg)
	var probs Problems
	if d.stopped {
		probs = append(probs, Problem{Source: d.name, Message: "the file uses aliases (*name) or merge keys (<<) so heavily that it expands to far more settings than it holds; write the settings out"})
	}
	probs = capProblems(append(append(probs, d.probs...), v.probs...), d.truncated)
	if len(probs) > 0 {
		return nil, probs
	}
	return cfg, nil
}

// fillDefaults sets defaults that depend on other settings: upstream
// model names default to the public model name. Deployment weights are
// defaulted while decoding instead, so that an explicit weight: 0 is still
// seen (and refused) by validation.
func fillDefaults(c *Config) {
	for name, m := range c.Models {
		if len(m.Deployments) == 0 {
			if m.UpstreamModel == "" {
				m.UpstreamModel = name
				c.Models[name] = m
			}
			continue
		}
		for i := range m.Deployments {
			if m.Deployments[i].Model == "" {
				m.Deployments[i].Model = name
			}
		}
	}
}

// decoder turns the YAML node tree and the environment into a Config. It
// walks the tree itself instead of using yaml.Unmarshal so that it can
// report every unknown key and wrong type with a position, in its own
// words: yaml.v3's messages quote the offending value.
type decoder struct {
	name  string
	probs Problems
	// steps counts decoding work against budget. Aliases let a small file
	// describe a huge tree (the "billion laughs" attack); the walk stops
	// with a problem instead of following it.
	steps, budget int
	stopped       bool
	// truncated is set once problems were dropped for exceeding
	// maxProblems.
	truncated bool
	// src maps a field path to where its value came from, so that
	// validation problems found later can point at the right line or
	// variable.
	src map[string]string
	// broken holds the fields that had a decoding problem, and the
	// settings that contain them, so that validation does not pile "is
	// required" on top of "must be a list".
	broken map[string]bool
}

// maxProblems bounds the problems reported for one file: past that many,
// more would not help anyone and a hostile file could make the list huge.
const maxProblems = 100

// add records a problem at node n.
func (d *decoder) add(n *yaml.Node, field, msg string) {
	if len(d.probs) >= maxProblems {
		d.truncated = true
		return
	}
	for f := field; f != "" && !d.broken[f]; {
		d.broken[f] = true
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	d.probs = append(d.probs, Problem{Source: d.pos(n), Field: field, Message: msg})
}

// capProblems keeps the first maxProblems problems and says so if it
// dropped any.
func capProblems(probs Problems, truncated bool) Problems {
	if len(probs) > maxProblems {
		probs, truncated = probs[:maxProblems:maxProblems], true
	}
	if truncated {
		probs = append(probs, Problem{Message: fmt.Sprintf("more problems not shown (only the first %d are listed); fix these and check again", maxProblems)})
	}
	return probs
}

// step accounts for one unit of decoding work and reports whether the
// walk may go on.
func (d *decoder) step() bool {
	if d.stopped {
		return false
	}
	d.steps++
	if d.steps > d.budget {
		// Parse puts the problem first, so that capping cannot drop it.
		d.stopped = true
		return false
	}
	return true
}

// pos formats the position of n as file:line:col.
func (d *decoder) pos(n *yaml.Node) string {
	return fmt.Sprintf("%s:%d:%d", d.name, n.Line, n.Column)
}

// file decodes data into cfg. It never lets a panic from the YAML library
// escape: the input is outside data, and a crash on a bad file would be a
// worse diagnosis than a Problem.
func (d *decoder) file(data []byte, cfg *Config) {
	if len(data) > MaxFileSize {
		d.probs = append(d.probs, Problem{Source: d.name, Message: fmt.Sprintf("the file is larger than %d bytes; is this the right file?", MaxFileSize)})
		return
	}
	// A file without aliases costs about one step per node, and every node
	// takes at least a byte or two; this leaves ample room for honest use
	// of anchors.
	d.budget = 10_000 + 4*len(data)
	doc, ok := d.parse(data)
	if !ok || doc == nil {
		return
	}
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = root.Content[0]
	}
	d.value(root, reflect.ValueOf(cfg).Elem(), "")
}

// parse reads exactly one YAML document. A nil node with ok means an empty
// file.
func (d *decoder) parse(data []byte) (doc *yaml.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			d.probs = append(d.probs, Problem{Source: d.name, Message: "the YAML parser failed on this file; check its syntax (indentation, quotes, comments)"})
			doc, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first yaml.Node
	if err := dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		d.syntax(err)
		return nil, false
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntax(err)
		return nil, false
	default:
		d.add(&second, "", "the file holds more than one YAML document (a second ---); put all settings in one document")
		return nil, false
	}
	return &first, true
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// syntax records a YAML syntax error. The library's messages are fixed
// texts except for a few that quote input (an anchor name, for one), so
// the message is cut at the first quote character. Cutting, rather than
// removing quoted parts, matters: the quoted input may itself contain a
// quote and so end the "quotation" early.
func (d *decoder) syntax(err error) {
	msg := err.Error()
	src := d.name
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		src += ":" + m[1]
		msg = msg[len(m[0]):]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if i := strings.IndexAny(msg, "'\"`"); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.Join(strings.Fields(msg), " ")
	switch msg {
	case "unknown anchor":
		msg = "an alias (*name) refers to an anchor (&name) that is not defined before it"
	case "":
		msg = "the file is not valid YAML"
	}
	d.probs = append(d.probs, Problem{Source: src, Message: "invalid YAML: " + msg})
}

// maxAliasChain bounds alias-to-alias hops and merge nesting; the parser
// lets an anchor refer to itself, so unbounded loops are possible.
const maxAliasChain = 32

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasChain; i++ {
		n = n.Alias
	}
	return n
}

var durationType = reflect.TypeFor[time.Duration]()

// value decodes node n (the value of setting path) into v.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if !d.step() {
		return
	}
	r := resolve(n)
	if r == nil || r.Kind == yaml.AliasNode {
		d.add(n, path, "an alias that cannot be resolved; write the value out")
		return
	}
	if !strings.HasPrefix(r.ShortTag(), "!!") {
		d.add(n, path, "custom YAML tags are not supported; remove the tag")
		return
	}
	if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!null" {
		// An empty value (`server:` or `level: ~`) keeps the default,
		// like leaving the key out.
		return
	}
	if path != "" && v.Kind() != reflect.Struct && v.Kind() != reflect.Map {
		// Scalars and lists are located at their value; sections and
		// entries at their key, which the caller recorded.
		d.src[path] = d.pos(n)
	}
	switch {
	case v.Type() == durationType:
		if dur, ok := d.duration(n, r, path); ok {
			v.SetInt(int64(dur))
		}
	case v.Kind() == reflect.Struct:
		d.structure(n, r, v, path)
	case v.Kind() == reflect.Map:
		d.mapping(n, r, v, path)
	case v.Kind() == reflect.Slice:
		d.list(n, r, v, path)
	case v.Kind() == reflect.String:
		if s, ok := d.str(n, r, path); ok {
			v.SetString(s)
		}
	case v.Kind() == reflect.Bool:
		if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!bool" {
			switch strings.ToLower(r.Value) {
			case "true":
				v.SetBool(true)
				return
			case "false":
				v.SetBool(false)
				return
			}
		}
		d.add(n, path, "must be true or false (without quotes), not "+describe(r))
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!int" {
			i, err := strconv.ParseInt(strings.ReplaceAll(r.Value, "_", ""), 0, 64)
			switch {
			case err == nil && !v.OverflowInt(i):
				v.SetInt(i)
			case err == nil || errors.Is(err, strconv.ErrRange):
				d.add(n, path, "the number is out of range")
			default:
				d.add(n, path, "must be "+intForm(path))
			}
			return
		}
		d.add(n, path, "must be "+intForm(path)+" (without quotes), not "+describe(r))
	case v.Kind() == reflect.Float64:
		if r.Kind == yaml.ScalarNode && (r.ShortTag() == "!!float" || r.ShortTag() == "!!int") {
			f, err := strconv.ParseFloat(strings.ReplaceAll(r.Value, "_", ""), 64)
			if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				v.SetFloat(f)
				return
			}
		}
		d.add(n, path, "must be a number such as 0.8 (without quotes), not "+describe(r))
	default:
		// Every field type in Config is handled above; this guards against
		// a new field type being added without teaching the decoder.
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}
}

// intForm describes the integer expected at path, for messages.
func intForm(path string) string {
	if strings.HasSuffix(path, "_bytes") {
		return "an integer number of bytes, like 65536"
	}
	return "a whole number, like 3"
}

// describe says what kind of YAML value n is, without saying what it holds.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!bool":
		return "true/false"
	case "!!int", "!!float":
		return "a number"
	case "!!str":
		return "text"
	}
	return "a value of another type"
}

// str accepts a scalar as text. Numbers and dates are taken as written
// (min_version: 1.3 is the string "1.3"); true/false is refused because a
// string setting given a boolean is almost always a mistake.
func (d *decoder) str(n, r *yaml.Node, path string) (string, bool) {
	if r.Kind == yaml.ScalarNode {
		switch r.ShortTag() {
		case "!!str", "!!int", "!!float", "!!timestamp":
			return r.Value, true
		case "!!bool":
			d.add(n, path, "must be text; put true/false in quotes if that is really meant")
			return "", false
		}
	}
	d.add(n, path, "must be text, not "+describe(r))
	return "", false
}

// duration accepts Go duration syntax.
func (d *decoder) duration(n, r *yaml.Node, path string) (time.Duration, bool) {
	if r.Kind == yaml.ScalarNode {
		switch r.ShortTag() {
		case "!!str", "!!int", "!!float":
			if dur, err := parseDuration(r.Value); err == nil {
				return dur, true
			}
		}
	}
	d.add(n, path, "must be a duration like 30s, 1m30s, 500ms or 90d (units ns, us, ms, s, m, h, d)")
	return 0, false
}

// list decodes a sequence of strings or of settings mappings (deployments).
// An empty list is stored as nil so that a Config compares equal however
// "no entries" was written. A list of strings with a bad item is not set at
// all; a list of mappings keeps its other items, so that validation does
// not add "required" problems on top of the item's own.
func (d *decoder) list(n, r *yaml.Node, v reflect.Value, path string) {
	if r.Kind != yaml.SequenceNode {
		d.add(n, path, "must be a list"+listForm(path)+", not "+describe(r))
		return
	}
	elemType := v.Type().Elem()
	out := reflect.MakeSlice(v.Type(), 0, len(r.Content))
	ok := true
	for i, item := range r.Content {
		if !d.step() {
			return
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		ri := resolve(item)
		if ri == nil || ri.Kind == yaml.AliasNode || (ri.Kind == yaml.ScalarNode && ri.ShortTag() == "!!null") {
			what := "text"
			if elemType.Kind() == reflect.Struct {
				what = "a mapping of settings"
			}
			d.add(item, p, "must be "+what+", not empty")
			ok = false
			continue
		}
		if elemType.Kind() == reflect.Struct {
			if ri.Kind != yaml.MappingNode {
				d.add(item, p, "must be a mapping of settings, not "+describe(ri))
				continue
			}
			elem := reflect.New(elemType).Elem()
			if dep, isDep := elem.Addr().Interface().(*Deployment); isDep {
				dep.Weight = 1
			}
			d.src[p] = d.pos(item)
			d.value(item, elem, p)
			out = reflect.Append(out, elem)
			continue
		}
		s, good := d.str(item, ri, p)
		if good {
			d.src[p] = d.pos(item)
		}
		ok = ok && good
		out = reflect.Append(out, reflect.ValueOf(s))
	}
	if !ok && elemType.Kind() != reflect.Struct {
		return
	}
	if out.Len() == 0 {
		out = reflect.Zero(v.Type())
	}
	v.Set(out)
}

// listForm gives an example of the list expected at path, for messages.
func listForm(path string) string {
	key := path[strings.LastIndex(path, ".")+1:]
	switch key {
	case "trusted_proxies":
		return ", like [10.0.0.0/8, 192.168.1.1]"
	case "api_keys":
		return ", like [secret://openai, secret://openai-2]"
	case "fallbacks":
		return " of model names, like [gpt-4o, claude-sonnet]"
	case "deployments":
		return " of entries like {provider: openai, model: gpt-4o, weight: 2}"
	}
	return ""
}

// entry is one key/value pair of a mapping, after merge keys are expanded.
type entry struct{ key, val *yaml.Node }

// entries lists the pairs of mapping m in document order, followed by
// pairs pulled in with merge keys (<<: *anchor) that the mapping does not
// set itself. Keys that are not plain text and keys set twice are reported.
func (d *decoder) entries(m *yaml.Node, path string) []entry {
	seen := map[string]*yaml.Node{}
	var own []entry
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, val := m.Content[i], m.Content[i+1]
		rk := resolve(k)
		if rk != nil && rk.Kind == yaml.ScalarNode && rk.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		if rk == nil || rk.Kind != yaml.ScalarNode {
			d.add(k, path, "keys must be plain names, not "+describeKey(rk))
			continue
		}
		if first, dup := seen[rk.Value]; dup {
			d.add(k, join(path, printable(rk.Value)), fmt.Sprintf("set twice (first at line %d); keep one", first.Line))
			continue
		}
		seen[rk.Value] = k
		own = append(own, entry{k, val})
	}
	if len(merges) == 0 {
		return own
	}
	mg := &merger{d: d, path: path, seen: seen, active: map[*yaml.Node]bool{m: true}, done: map[*yaml.Node]bool{}}
	for _, mv := range merges {
		mg.merge(mv, 0)
	}
	return append(own, mg.out...)
}

// merger expands the merge keys of one mapping.
type merger struct {
	d    *decoder
	path string
	// seen holds the keys already set; the first setting of a key wins.
	seen map[string]*yaml.Node
	// active holds the mappings being expanded, to catch a mapping that
	// merges itself; done holds those already expanded, since expanding
	// one twice adds nothing and, with several merge keys per level, would
	// take time exponential in the nesting depth.
	active, done map[*yaml.Node]bool
	out          []entry
}

// merge expands the value of a merge key: a mapping, or a list of them
// with earlier ones taking precedence, as YAML specifies.
func (mg *merger) merge(n *yaml.Node, depth int) {
	r := resolve(n)
	if depth > maxAliasChain || r == nil || mg.active[r] {
		mg.d.add(n, mg.path, "merge keys (<<) nest too deep or refer to themselves")
		return
	}
	if mg.done[r] || !mg.d.step() {
		return
	}
	switch r.Kind {
	case yaml.MappingNode:
		mg.active[r], mg.done[r] = true, true
		defer delete(mg.active, r)
		// The merged mapping's own merges rank below its own keys.
		var inner []*yaml.Node
		for i := 0; i+1 < len(r.Content); i += 2 {
			k, val := r.Content[i], r.Content[i+1]
			rk := resolve(k)
			if rk != nil && rk.Kind == yaml.ScalarNode && rk.ShortTag() == "!!merge" {
				inner = append(inner, val)
				continue
			}
			if rk == nil || rk.Kind != yaml.ScalarNode {
				mg.d.add(k, mg.path, "keys must be plain names, not "+describeKey(rk))
				continue
			}
			if _, dup := mg.seen[rk.Value]; dup {
				continue
			}
			mg.seen[rk.Value] = k
			mg.out = append(mg.out, entry{k, val})
		}
		for _, in := range inner {
			mg.merge(in, depth+1)
		}
	case yaml.SequenceNode:
		if depth > 0 {
			mg.d.add(n, mg.path, "a merge key (<<) takes a mapping or a list of mappings")
			return
		}
		for _, item := range r.Content {
			if ri := resolve(item); ri == nil || ri.Kind != yaml.MappingNode {
				mg.d.add(item, mg.path, "a merge key (<<) takes a mapping or a list of mappings")
				continue
			}
			mg.merge(item, depth+1)
		}
	default:
		mg.d.add(n, mg.path, "a merge key (<<) takes a mapping or a list of mappings")
	}
}

// describeKey says what kind of node was used as a mapping key.
func describeKey(n *yaml.Node) string {
	if n == nil {
		return "an unresolved alias"
	}
	return describe(n)
}

// join appends a key to a dotted path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structure decodes a mapping into a struct, reporting unknown keys.
func (d *decoder) structure(n, r *yaml.Node, v reflect.Value, path string) {
	if r.Kind != yaml.MappingNode {
		what := "settings"
		if path == "" {
			what = "top-level settings (data_dir, server, log, providers, models, routing, keys)"
		}
		d.add(n, path, "must be a mapping of "+what+", not "+describe(r))
		return
	}
	fields := yamlFields(v.Type())
	for _, e := range d.entries(r, path) {
		if !d.step() {
			return
		}
		key := resolve(e.key).Value
		idx, ok := fields[key]
		if !ok {
			d.unknownKey(e.key, path, key, fields)
			continue
		}
		d.src[join(path, key)] = d.pos(e.key)
		d.value(e.val, v.Field(idx), join(path, key))
	}
}

// unknownKey reports a key the schema does not have, with the nearest
// known one if it is plausibly a typo, and the full list.
func (d *decoder) unknownKey(k *yaml.Node, path, key string, fields map[string]int) {
	if len(d.probs) >= maxProblems {
		// Skip building a message that would be dropped anyway.
		d.truncated = true
		return
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	msg := "unknown key"
	if best, dist := closest(key, names); dist >= 0 && dist <= max(2, len(key)/3) && printable(key) != hiddenName {
		msg += " (did you mean " + best + "?)"
	}
	msg += "; allowed here: " + strings.Join(names, ", ")
	d.add(k, join(path, printable(key)), msg)
}

// yamlFields maps the yaml names of t's fields to their indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			out[name] = i
		}
	}
	return out
}

// yamlName returns the name a field has in the file, or "" if it has none.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// mapping decodes a mapping of names (providers, models, headers) into a
// map.
// Entries whose name is not acceptable are still walked, into a throwaway
// value, so that problems inside them are reported too.
func (d *decoder) mapping(n, r *yaml.Node, v reflect.Value, path string) {
	if r.Kind != yaml.MappingNode {
		what := "names to settings"
		if isHeaderMap(path) {
			what = "header names to values, like {OpenAI-Organization: org-example}"
		}
		d.add(n, path, "must be a mapping of "+what+", not "+describe(r))
		return
	}
	for _, e := range d.entries(r, path) {
		if !d.step() {
			return
		}
		name := resolve(e.key).Value
		field := join(path, printable(name))
		good := true
		if msg := checkName(path, name); msg != "" {
			d.add(e.key, field, msg)
			good = false
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		if good {
			d.src[field] = d.pos(e.key)
		}
		d.value(e.val, elem, field)
		if good {
			// Made on first use, so that an empty mapping is stored as
			// nil, like an absent one.
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
			}
			v.SetMapIndex(reflect.ValueOf(name), elem)
		}
	}
}

var (
	providerNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	modelNameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,127}$`)
)

// checkName checks a provider, model or header name and returns what is
// wrong with it, or "". Provider and model names show up in field paths,
// URLs and CLI commands, so they are kept to a small, printable alphabet.
func checkName(mapPath, name string) string {
	if isHeaderMap(mapPath) {
		return checkHeaderName(name)
	}
	if looksLikeKey(name) {
		return `this name looks like an API key; name the entry after the provider or model, and store the key with "warden secrets set NAME"`
	}
	switch mapPath {
	case "providers":
		if !providerNameRE.MatchString(name) {
			return "a provider name is 1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit"
		}
	case "models":
		if !modelNameRE.MatchString(name) {
			return "a model name is 1 to 128 of A-Z a-z 0-9 _ . : / @ + -, starting with a letter or digit"
		}
	}
	return ""
}

// parseDuration is time.ParseDuration that also takes whole days ("90d"),
// the unit retention periods are written in.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 && n <= 36500 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}
