package detect

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// SecretsOptions selects the rules a secret detector runs.
type SecretsOptions struct {
	// Rules lists the IDs of the rules to run (see [Rules]). Empty runs
	// every rule except generic_secret.
	Rules []string
	// Generic adds the generic_secret rule: high-entropy values assigned
	// to names like api_key or password. It finds keys no specific rule
	// knows, at a lower confidence and with more noise.
	Generic bool
}

// Validate reports rule IDs that name no rule. Configuration code calls it
// so that a typo fails at start-up with a clear message; [NewSecrets]
// panics on options that do not validate.
func (o SecretsOptions) Validate() error {
	var unknown []string
	for _, id := range o.Rules {
		if ruleByID(id) == nil {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	known := make([]string, len(rules))
	for i, r := range rules {
		known[i] = r.ID
	}
	return fmt.Errorf("detect: unknown secret rule %s; use one of %s",
		strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// NewSecrets returns a detector for the secrets the options select. Its
// findings have Class [Secret] and the rule ID as Type; generic_secret
// findings that overlap a specific rule's are dropped.
//
// The detector scans a text once for the keywords of all its rules and
// runs a rule's regular expression only in a window around each keyword
// occurrence, so text without keywords costs one table lookup per byte.
//
// Matching is byte-wise over ASCII alphabets. Text is not normalised: a
// zero-width space or another invisible character inside a key splits it,
// and then at most a piece that is a whole key of some format by itself is
// found. Callers that must catch keys disguised that way strip format
// characters (Unicode category Cf) before detection.
//
// It panics if opts do not pass [SecretsOptions.Validate].
func NewSecrets(opts SecretsOptions) Detector {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	want := func(r *Rule) bool {
		if r.ID == GenericSecret && opts.Generic {
			return true
		}
		if len(opts.Rules) == 0 {
			return r.ID != GenericSecret
		}
		return slices.Contains(opts.Rules, r.ID)
	}
	d := &secrets{}
	kwIndex := map[string]int{}
	var kws []string
	for _, r := range rules {
		if !want(r) {
			continue
		}
		ri := int32(len(d.rules))
		d.rules = append(d.rules, r)
		for _, k := range r.Keywords {
			i, ok := kwIndex[k]
			if !ok {
				i = len(kws)
				kwIndex[k] = i
				kws = append(kws, k)
				d.kwRules = append(d.kwRules, nil)
			}
			d.kwRules[i] = append(d.kwRules[i], ri)
		}
	}
	d.index = newKeywordIndex(kws)
	d.scratch.New = func() any { return &secretsScratch{pending: make([]ruleWindows, len(d.rules))} }
	return d
}

// secrets is the detector NewSecrets returns.
type secrets struct {
	rules   []*Rule
	index   *keywordIndex
	kwRules [][]int32 // keyword index → indexes into rules
	scratch sync.Pool // *secretsScratch
}

var _ Detector = (*secrets)(nil)

// secretsScratch is the per-call working memory, pooled so that a Detect
// call on clean text allocates nothing.
type secretsScratch struct {
	hits    []hit
	pending []ruleWindows // per rule
}

// window is a span of the text a rule's regular expression runs on; the
// zero window (end 0) is none.
type window struct{ start, end int }

// contains reports whether o lies within w.
func (w window) contains(o window) bool {
	return w.end > 0 && w.start <= o.start && o.end <= w.end
}

// ruleWindows are one rule's windows during a Detect call: the next to
// search, still growing, and the last searched.
type ruleWindows struct{ next, last window }

// Detect implements [Detector].
func (d *secrets) Detect(dst []Finding, text string) []Finding {
	sc := d.scratch.Get().(*secretsScratch)
	defer d.scratch.Put(sc)
	sc.hits = d.index.scan(text, sc.hits[:0])
	if len(sc.hits) == 0 {
		return dst
	}
	pending := sc.pending
	clear(pending)
	base := len(dst)
	for _, h := range sc.hits {
		start := h.end - d.index.lens[h.kw]
		for _, ri := range d.kwRules[h.kw] {
			r := d.rules[ri]
			if r.anchored && start > 0 && r.leftAlpha[text[start-1]] {
				continue
			}
			// A context word that continues a word in lower case
			// (the "aws" in "Laws", "together" in "altogether") says
			// nothing; one after a camel-case hump (myAwsKey) does.
			if r.near && start > 0 && isLetter(text[start-1]) && isLower(text[start]) {
				continue
			}
			w := window{max(0, start-r.before), min(len(text), h.end+r.after)}
			if r.span != nil {
				var ok bool
				if w, ok = r.span(text, start, h.end); !ok {
					continue
				}
			}
			p := &pending[ri]
			// A window inside one already searched or about to be
			// adds nothing: keywords repeated within a token ("eyJ"
			// in a long base64url run) would otherwise search it
			// once for each.
			if p.next.contains(w) || p.last.contains(w) {
				continue
			}
			// Hits arrive in text order, so a rule's windows either
			// overlap the pending one, and widen it, or come after it,
			// and it can be searched. Windows stop growing at the
			// rule's mergeLimit. Overlapping windows searched apart
			// can find a secret twice; tidy drops the copy.
			if n := p.next; n.end > 0 && w.start <= n.end && w.end >= n.start && max(n.end, w.end)-min(n.start, w.start) <= r.mergeLimit {
				p.next = window{min(n.start, w.start), max(n.end, w.end)}
				continue
			}
			if p.next.end > 0 {
				dst = r.find(dst, text, p.next)
				p.last = p.next
			}
			p.next = w
		}
	}
	for ri, p := range pending {
		if p.next.end > 0 {
			dst = d.rules[ri].find(dst, text, p.next)
		}
	}
	return tidy(dst, base)
}

// find appends the findings of r in the window w of text.
func (r *Rule) find(dst []Finding, text string, w window) []Finding {
	win := text[w.start:w.end]
	if r.runs {
		return r.findRuns(dst, text, w)
	}
	for _, m := range r.Regexp.FindAllStringSubmatchIndex(win, -1) {
		dst = r.emit(dst, text, w, m)
	}
	return dst
}

// findRuns is find for rules whose secrets are made only of bytes in
// alpha: such a secret, bounded by bytes outside alpha, is a whole run of
// alpha bytes, so Regexp needs to see only the runs of a length it can
// match. Context rules match bare runs (32 hex digits, 40 letters and
// digits) whose regular expressions have no literal to search for; run
// over whole windows, they would cost as much as all other rules together.
func (r *Rule) findRuns(dst []Finding, text string, w window) []Finding {
	// Runs longer than maxLen are passed over without being measured to
	// their ends, so that each window costs its own length and no more,
	// however long the run it sits in.
	i := w.start
	for k := 0; i > 0 && r.alpha[text[i-1]] && k <= r.maxLen; k++ {
		i-- // back to the start of the run the window begins in
	}
	if i > 0 && r.alpha[text[i-1]] {
		for i < w.end && r.alpha[text[i]] {
			i++ // that run is too long
		}
	}
	for i < w.end {
		if !r.alpha[text[i]] {
			i++
			continue
		}
		j := i + 1
		for j < len(text) && r.alpha[text[j]] && j-i <= r.maxLen {
			j++
		}
		if j-i > r.maxLen {
			for j < w.end && r.alpha[text[j]] {
				j++
			}
			i = j
			continue
		}
		if j-i >= r.minLen {
			if m := r.Regexp.FindStringSubmatchIndex(text[i:j]); m != nil {
				dst = r.emit(dst, text, window{i, j}, m)
			}
		}
		i = j
	}
	return dst
}

// emit checks the match m in window w of text and appends it if it passes.
func (r *Rule) emit(dst []Finding, text string, w window, m []int) []Finding {
	s, e := -1, -1
	for _, g := range r.secretGroups {
		if m[2*g] >= 0 {
			s, e = m[2*g], m[2*g+1]
			break
		}
	}
	if s < 0 || s == e {
		return dst
	}
	s, e = s+w.start, e+w.start
	// The boundary is checked in the whole text: the window's edge may
	// have cut a longer token.
	if (s > 0 && r.leftAlpha[text[s-1]]) || (e < len(text) && r.alpha[text[e]]) {
		return dst
	}
	secret := text[s:e]
	if !r.anyValue && IsPlaceholder(secret) {
		return dst
	}
	if r.MinEntropy > 0 && ShannonEntropy(secret) < r.MinEntropy {
		return dst
	}
	if r.accept != nil && !r.accept(r.candidate(text, text[w.start:w.end], m, s, e)) {
		return dst
	}
	ok, verified := true, false
	if r.Validate != nil {
		ok, verified = r.Validate(secret)
	}
	if !ok {
		return dst
	}
	conf := r.Confidence
	if verified {
		conf = max(conf, VerifiedConfidence)
	}
	return append(dst, Finding{Type: r.ID, Class: Secret, Start: s, End: e, Confidence: conf, Verified: verified})
}

// candidate describes the match m, whose secret is text[s:e], in the
// window win.
func (r *Rule) candidate(text, win string, m []int, s, e int) candidate {
	c := candidate{secret: text[s:e]}
	if g := r.nameGroup; g >= 0 && m[2*g] >= 0 {
		c.name = win[m[2*g]:m[2*g+1]]
	}
	b := max(0, s-40)
	if nl := strings.LastIndexByte(text[b:s], '\n'); nl >= 0 {
		b += nl + 1
	}
	c.before = text[b:s]
	if e < len(text) {
		c.next = text[e]
	}
	return c
}

// tidy orders the findings appended after base and leaves one finding
// per secret: of findings that overlap, it keeps a verified one over an
// unverified one, then the more confident, then the longer, then the one
// whose rule comes first in the table (the more specific: a service
// account's key before the bare PEM block). Two rules seeing one value
// (the "aws" inside a random Warden key, a Cohere key next to an AWS
// name) would otherwise report one secret twice.
func tidy(dst []Finding, base int) []Finding {
	fs := dst[base:]
	if len(fs) < 2 {
		return dst
	}
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(b.End, a.End), cmp.Compare(ruleRank(a.Type), ruleRank(b.Type)))
	})
	out := fs[:0]
	for _, f := range fs {
		if n := len(out); n > 0 && f.Start < out[n-1].End {
			if last := &out[n-1]; keepOver(f, *last) {
				*last = f
			}
			continue
		}
		out = append(out, f)
	}
	return dst[:base+len(out)]
}

// keepOver reports whether a is the better of two findings of one secret.
func keepOver(a, b Finding) bool {
	if a.Verified != b.Verified {
		return a.Verified
	}
	if a.Confidence != b.Confidence {
		return a.Confidence > b.Confidence
	}
	if la, lb := a.End-a.Start, b.End-b.Start; la != lb {
		return la > lb
	}
	return ruleRank(a.Type) < ruleRank(b.Type)
}

// ruleRank is the position of a rule in the table.
func ruleRank(id string) int {
	for i, r := range rules {
		if r.ID == id {
			return i
		}
	}
	return len(rules)
}

// IsPlaceholder reports whether s looks like a stand-in for a secret
// rather than one: documentation and sample values such as
// "sk-...xxxx", "your-api-key-here", "<YOUR_KEY>", "xxxxxxxx",
// "changeme", template references (${TOKEN}, {{ .Key }}), runs of one
// character (0000000), sequences (abcdefg, 1234567), strings of very few
// distinct characters, and providers' published example keys (AWS's end in
// EXAMPLE). The secret detector drops candidates it matches; a scanner can
// use it the same way.
//
// Short words (your, fake, demo) count only at the start of s or after a
// non-alphanumeric byte, so that random keys containing them by chance are
// not dropped; longer words count anywhere.
func IsPlaceholder(s string) bool {
	if s == "" {
		return true
	}
	for _, m := range placeholderMarks {
		if strings.Contains(s, m) {
			return true
		}
	}
	for _, ex := range publishedExamples {
		if strings.Contains(s, ex) {
			return true
		}
	}
	var buf [256]byte
	lower := buf[:0]
	if len(s) > len(buf) {
		lower = make([]byte, 0, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	for _, w := range placeholderWords {
		if bytes.Contains(lower, w) {
			return true
		}
	}
	for _, w := range placeholderShortWords {
		for off := 0; ; {
			i := bytes.Index(lower[off:], w)
			if i < 0 {
				break
			}
			if i += off; i == 0 || !isLetter(lower[i-1]) && !isDigit(lower[i-1]) {
				return true
			}
			off = i + 1
		}
	}
	return patterned(s)
}

// patterned reports a run of seven equal bytes, a run of seven
// consecutive bytes ascending or descending (abcdefg, 9876543), or, in
// twelve bytes or more, at most four distinct bytes. (Runs of six turn up
// in one random 64-digit hex key in twenty thousand.)
func patterned(s string) bool {
	const run = 7
	same, up, down := 1, 1, 1
	var seen [256]bool
	distinct := 0
	for i := 0; i < len(s); i++ {
		if !seen[s[i]] {
			seen[s[i]] = true
			distinct++
		}
		if i == 0 {
			continue
		}
		d := int(s[i]) - int(s[i-1])
		same, up, down = step(same, d == 0), step(up, d == 1), step(down, d == -1)
		if same >= run || up >= run || down >= run {
			return true
		}
	}
	return len(s) >= 12 && distinct <= 4
}

// step extends a run that continues and restarts one that does not.
func step(n int, cont bool) int {
	if cont {
		return n + 1
	}
	return 1
}

// placeholderMarks never occur in a real key: elisions, template syntax,
// format verbs and masks.
var placeholderMarks = []string{"...", "…", "<", ">", "${", "$(", "{{", "}}", "%s", "%(", "***"}

// placeholderWords mark a placeholder wherever they occur (lower case).
var placeholderWords = [][]byte{
	[]byte("example"), []byte("dummy"), []byte("changeme"), []byte("change_me"),
	[]byte("change-me"), []byte("placeholder"), []byte("redacted"), []byte("replace"),
	[]byte("insert"), []byte("sample"), []byte("foobar"), []byte("lorem"),
	[]byte("ipsum"), []byte("qwerty"), []byte("xxxxx"), []byte("notreal"),
	[]byte("not_real"), []byte("not-real"),
}

// placeholderShortWords mark a placeholder at the start of a word only
// (lower case): anywhere, they would turn up in random keys.
var placeholderShortWords = [][]byte{
	[]byte("your"), []byte("fake"), []byte("mock"), []byte("demo"), []byte("todo"),
}

// publishedExamples are parts of example credentials that providers and
// tools print in their documentation, which would otherwise pass every
// check. (AWS's examples end in EXAMPLE and are caught by the word.)
var publishedExamples = []string{
	// The signature of the example token on jwt.io.
	"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
}
