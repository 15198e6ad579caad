package injection

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// tables is the compiled form of the signal tables, built once and shared
// read-only by every Heuristic.
type tables struct {
	sigs       []sigInfo
	rules      []compiledRule
	plain      *matcher // patterns as written, for the normalised and rot13 views
	leet       *matcher // patterns folded to their leetspeak skeleton
	literals   []compiledLiteral
	pairs      []compiledPair
	roleTag    int // signal of role tags found by roleTagAt
	markups    []compiledMarkup
	headers    []compiledHeader
	regexRules []compiledRegex
}

type sigInfo struct{ name, category string }

type compiledRule struct {
	sig    int
	weight float64
}

type compiledLiteral struct {
	text   []byte
	sig    int
	weight float64
}

// compiledPair is a literalPair as bytes.
type compiledPair struct {
	a, b   [][]byte
	within int
	sig    int
	weight float64
}

type compiledMarkup struct {
	text    string
	sig     int
	weight  float64
	wordEnd bool
}

type compiledHeader struct {
	text   string
	sig    int
	weight float64
}

type compiledRegex struct {
	literal []byte
	re      *regexp.Regexp
	sig     int
	weight  float64
}

// markupFirst are the bytes markup and role headers start with; the scan
// looks for them with IndexByte and compares only where they occur.
var markupFirst = []byte{'<', '[', '`', '#'}

// Word classes for the scan's side counts. meta words say a text talks
// about attacks, cue words introduce an example, template words say it is
// about chat templates and tokenizers.
var (
	metaWords = []string{
		"injection", "injections", "inject", "jailbreak", "jailbreaks", "jailbreaking",
		"attack", "attacks", "attacker", "attackers", "example", "examples", "phrase",
		"phrases", "security", "malicious", "detect", "detects", "detection", "detector",
		"classifier", "filter", "research", "researcher", "researchers", "paper",
		"adversarial", "exploit", "exploits", "payload", "payloads", "vulnerability",
		"vulnerable", "owasp", "mitigate", "mitigation", "mitigations", "defend", "defense",
		"defence", "defenses", "prevent", "sanitize", "dataset", "benchmark", "mean",
		"means", "meaning", "explain", "explains", "talk", "article", "blog", "lecture",
		"course", "quiz", "guardrail", "pentest", "threat", "threats", "ctf",
		"test", "tests", "testing", "regex", "heuristic", "heuristics", "training",
		// Questions about the form of a quoted text: the quote is the
		// material, not a command. Translation is not among them: "translate
		// this: '...'" is a classic carrier of an attack.
		"grammar", "grammatical", "spelling", "idiom", "idioms",
	}
	cueWords = []string{
		"like", "example", "examples", "eg", "phrase", "phrases", "string", "strings",
		"saying", "says", "containing", "contains", "contain", "called", "pattern",
		"patterns", "such", "sentence", "sentences", "payload", "payloads", "keyword",
		"keywords", "quote", "quotes", "typed", "typing", "types", "wrote", "writes",
		"entered", "enters", "said", "sent", "sends", "pasted",
	}
	templateWords = []string{
		"template", "templates", "tokenizer", "tokenizers", "tokenizer's", "token", "tokens",
		"chatml", "format", "formats", "formatting", "finetune", "finetuning", "llama",
		"mistral", "jinja", "eos", "bos", "huggingface", "transformers", "vllm", "gguf",
		"ollama", "html", "tag", "tags", "markdown", "strikethrough",
	}
)

var tablesOnce = sync.OnceValue(func() *tables {
	t, err := compileTables()
	if err != nil {
		// The tables are constants of this package; a bad row is a bug
		// that the package tests catch.
		panic(err)
	}
	return t
})

func compileTables() (*tables, error) {
	t := &tables{plain: &matcher{}, leet: &matcher{}}
	sigID := make(map[string]int)
	sig := func(name, category string) (int, error) {
		if id, ok := sigID[name]; ok {
			if t.sigs[id].category != category {
				return 0, fmt.Errorf("signal %q is in categories %q and %q", name, t.sigs[id].category, category)
			}
			return id, nil
		}
		id := len(t.sigs)
		sigID[name] = id
		t.sigs = append(t.sigs, sigInfo{name, category})
		return id, nil
	}
	same := func(s string) string { return s }
	// Class words get their ids first, class by class, so that each
	// class is a few runs of ids: the cheap "can this pattern match this
	// text" test then reads a few words of a bitset, not dozens.
	for _, name := range slices.Sorted(maps.Keys(wordClasses)) {
		for _, m := range []*matcher{t.plain, t.leet} {
			fold := same
			if m == t.leet {
				fold = skeleton
			}
			for _, w := range wordClasses[name] {
				for _, part := range strings.Split(w, "+") {
					m.info(fold(part))
				}
			}
		}
	}
	for _, r := range slices.Concat(rules, generalRules) {
		if r.weight <= 0 || r.weight >= 1 {
			return nil, fmt.Errorf("rule %q: weight %v is not in (0, 1)", r.name, r.weight)
		}
		id, err := sig(r.name, r.category)
		if err != nil {
			return nil, err
		}
		ri := len(t.rules)
		t.rules = append(t.rules, compiledRule{sig: id, weight: r.weight})
		for _, src := range r.patterns {
			p, err := compilePattern(src, ri, same)
			if err != nil {
				return nil, fmt.Errorf("rule %q: %w", r.name, err)
			}
			t.plain.add(p)
			lp, err := compilePattern(src, ri, skeleton)
			if err != nil {
				return nil, fmt.Errorf("rule %q: %w", r.name, err)
			}
			t.leet.add(lp)
		}
	}
	for _, m := range []*matcher{t.plain, t.leet} {
		fold := same
		if m == t.leet {
			fold = skeleton
		}
		for _, cls := range []struct {
			words []string
			class uint8
		}{
			{englishWords, wEnglish}, {rot13Words, wRot13}, {metaWords, wMeta},
			{cueWords, wCue}, {templateWords, wTemplate}, {[]string{"rot13", "rot"}, wRotName},
		} {
			for _, w := range cls.words {
				m.info(fold(w)).class |= cls.class
			}
		}
	}
	for _, m := range []*matcher{t.plain, t.leet} {
		if err := m.finish(); err != nil {
			return nil, err
		}
	}
	for _, l := range literals {
		id, err := sig(l.name, l.category)
		if err != nil {
			return nil, err
		}
		t.literals = append(t.literals, compiledLiteral{text: []byte(l.text), sig: id, weight: l.weight})
	}
	for _, p := range literalPairs {
		id, err := sig(p.name, p.category)
		if err != nil {
			return nil, err
		}
		cp := compiledPair{within: p.within, sig: id, weight: p.weight}
		for _, a := range p.a {
			cp.a = append(cp.a, []byte(a))
		}
		for _, b := range p.b {
			cp.b = append(cp.b, []byte(b))
		}
		t.pairs = append(t.pairs, cp)
	}
	roleTag, err := sig("fake_role_tag", CategoryDelimiter)
	if err != nil {
		return nil, err
	}
	t.roleTag = roleTag
	for _, m := range markups {
		id, err := sig(m.name, CategoryDelimiter)
		if err != nil {
			return nil, err
		}
		t.markups = append(t.markups, compiledMarkup{text: m.text, sig: id, weight: m.weight, wordEnd: m.wordEnd})
	}
	for _, h := range headers {
		id, err := sig("role_header", CategoryDelimiter)
		if err != nil {
			return nil, err
		}
		t.headers = append(t.headers, compiledHeader{text: h.text, sig: id, weight: h.weight})
	}
	for _, r := range regexRules {
		id, err := sig(r.name, r.category)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(r.re.String(), regexp.QuoteMeta(r.literal)) {
			return nil, fmt.Errorf("regex rule %q: expression %q does not start with its literal %q", r.name, r.re, r.literal)
		}
		anchored, err := regexp.Compile(`\A(?:` + r.re.String() + `)`)
		if err != nil {
			return nil, fmt.Errorf("regex rule %q: %w", r.name, err)
		}
		t.regexRules = append(t.regexRules, compiledRegex{literal: []byte(r.literal), re: anchored, sig: id, weight: r.weight})
	}
	return t, nil
}

// find returns the span of the first place where a word of one family
// occurs within p.within bytes of a word of the other.
func (p *compiledPair) find(text []byte) (int, int, bool) {
	for _, a := range p.a {
		for off := 0; ; {
			i := bytes.Index(text[off:], a)
			if i < 0 {
				break
			}
			i += off
			off = i + len(a)
			lo, hi := max(0, i-p.within), min(len(text), i+len(a)+p.within)
			for _, b := range p.b {
				window := text[lo:hi]
				if j := bytes.Index(window, b); j >= 0 {
					j += lo
					return min(i, j), max(i+len(a), j+len(b)), true
				}
			}
		}
	}
	return 0, 0, false
}
