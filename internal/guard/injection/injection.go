// Package injection scores text for prompt injection: instructions hidden
// in a prompt, a document or a tool result that try to take over the
// model (override its instructions, switch it into a "no rules" persona,
// make it reveal its system prompt, forge chat-template turns, or leak the
// conversation through a URL or a tool call).
//
// Scorer is the contract the input guard depends on; Heuristic is the
// built-in implementation, and a classifier model can be plugged in
// behind the same interface later (or combined with it).
//
// # How the heuristic scores
//
// The text is normalised first: Unicode NFKC (which folds fullwidth and
// mathematical letter forms), zero-width, bidi and other invisible
// characters removed, Cyrillic and Greek look-alikes of Latin letters
// folded inside Latin-looking words, lowercase, whitespace collapsed.
// Then two tables of weighted signals are matched against its words:
//
//   - fixed phrasings (rules.go): "ignore all previous instructions",
//     "reveal your system prompt", jailbreak personas, claimed authority,
//     secrecy, text addressed to a model;
//   - word classes combined by order and distance within a sentence
//     (classes.go, rules_general.go), so that a paraphrase made of other
//     members of the same families matches too. The classes carry their
//     inflections and phrases: override verbs ("disregard", "set aside",
//     "stop following") before instruction nouns ("guidance", "system
//     message") marked as the model's by a scope word ("your", "earlier")
//     or by "you were given"; persona verbs with words for a model
//     without restrictions; refusal and disclaimer suppression; requests
//     to show the prompt ("print the instructions you were given",
//     "the exact wording of your guidelines"); data sent to an address,
//     a link or a tool; claims to speak for the developer; notes to
//     "any AI reading this". A small lexicon covers the override and
//     prompt families in French, German, Spanish, Portuguese and Italian,
//     and word pairs close together cover Chinese, Japanese and Korean.
//
// Fixed strings find chat-template markup, role headers and role tags
// such as </user_query> or <system_override>, and RE2 expressions links
// and images that carry data. Spans that may hide an attack are decoded
// and matched too: base64 runs of 16 characters or more that decode to
// text, rot13 when the text names it or reads like rot13 of English,
// leetspeak (1→i/l, 3→e, 4→a, 0→o, 5→s, 7→t, @→a, $→s), Unicode tag
// characters, and words spelt letter by letter ("i.g.n.o.r.e").
//
// The score is
//
//	score = 1 − Π (1 − wᵢ)
//
// over the distinct signals i that matched, each at the weight of its
// strongest match. One unmistakable attack clears DefaultThreshold alone;
// the weaker signals (a request for verbatim output, "without any
// warnings", a note addressed to an assistant) need each other. A phrase
// that is cited rather than used — right after "like", "such as",
// "typed", or in quotation marks in a text that talks about attacks or
// about grammar — counts at MentionFactor of its weight. Two bonus
// signals amplify but never stand alone: encoded_payload
// (ObfuscationBonus) when a signal was found only after decoding, and
// unicode_obfuscation (UnicodeBonus) when normalising had to fold
// mixed-script words or remove invisible characters between letters. The
// score is in [0, 1]; the threshold is the caller's, DefaultThreshold is
// a good start.
//
// # The classifier
//
// Classifier is logistic regression over hashed words, word pairs and
// character 4-grams of the normalised text, trained when first used (in
// about a tenth of a second) on the labelled sets embedded from testdata.
// Combined keeps the higher of the heuristic's score and the classifier's
// probability scaled by DefaultClassifierWeight; NewDefault, what Warden
// runs, combines the two. The heuristic's signals explain most verdicts;
// the classifier adds a "classifier" signal when it decided.
//
// # How well it does
//
// testdata/injection_blind.jsonl (324 prompts, half attacks) was written
// apart from the detector and has never been tuned or trained on
// (TestBlindSet). On it, at DefaultThreshold, the heuristic alone reaches
// precision 1.00 and recall 0.57; NewDefault reaches precision 0.99 and
// recall 0.87. The classifier's settings were chosen by five-fold
// cross-validation on the training sets, where it alone reaches precision
// 0.97 and recall 0.89 at the probability that DefaultClassifierWeight maps
// to the threshold (TestClassifierCrossValidation). Figures on the
// training sets themselves (injection.jsonl, injection_more.jsonl,
// injection_holdout.jsonl: precision 1.00, recall 0.98 to 1.00 for the
// heuristic) overstate what it does on new text: both parts were fitted
// to them. Attacks whose words resemble neither known attacks nor the
// tables' classes still get through.
package injection

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// DefaultThreshold is the score at and above which a caller should treat a
// text as an injection attempt. At this threshold one unmistakable phrase
// is enough, while words that also occur in ordinary requests need
// company.
const DefaultThreshold = 0.8

// Weights of the combination rule, exported so that callers can read the
// documented formula off the code.
const (
	// MentionFactor scales a signal that is quoted or cited rather than
	// used, in a text that talks about attacks.
	MentionFactor = 0.3
	// ObfuscationBonus is the weight of encoded_payload, added when a
	// signal was found only in a decoded view of the text.
	ObfuscationBonus = 0.5
	// UnicodeBonus is the weight of unicode_obfuscation, added when a
	// signal fired in a text with look-alike letters or invisible
	// characters inside words.
	UnicodeBonus = 0.3
)

// Views a signal can be found in, for Signal.Via.
const (
	ViaBase64      = "base64"
	ViaRot13       = "rot13"
	ViaLeet        = "leet"
	ViaUnicodeTags = "unicode_tags"
	// ViaSpacing is a word spelt out with a separator between its letters
	// ("i.g.n.o.r.e", "I g n o r e"), read with the letters joined.
	ViaSpacing = "spacing"
)

// Scorer rates how likely a text is to be a prompt-injection attempt.
// Implementations are safe for concurrent use and do not keep the text.
type Scorer interface {
	// Score returns a Result whose Score is in [0, 1]. It fails only when
	// ctx is done.
	Score(ctx context.Context, text string) (Result, error)
}

// Result is the outcome of scoring one text.
type Result struct {
	// Score is in [0, 1]; higher is more likely an injection.
	Score float64
	// Signals are the distinct signals that matched, strongest first.
	Signals []Signal
}

// Signal is one piece of evidence.
type Signal struct {
	// Name identifies the signal, e.g. "ignore_previous", "reveal_prompt",
	// "chat_markup", "encoded_payload". Stable: policies and audit use it.
	Name string
	// Category groups signals: instruction_override, role_hijack, ...
	Category string
	// Weight is what the signal contributed to the score.
	Weight float64
	// Start and End are byte offsets of the match in the scored text. For
	// a match inside decoded content they cover the encoded run.
	Start, End int
	// Via is empty when the signal matched the normalised text, else the
	// decoding that revealed it (ViaBase64, ViaRot13, ViaLeet,
	// ViaUnicodeTags).
	Via string
}

// Options tune a Heuristic. The zero value is ready to use.
type Options struct {
	// MaxDecodedBytes bounds the bytes decoded from base64 and tag
	// characters per call, so that a document full of encoded data costs
	// bounded time. Zero means 64 KiB.
	MaxDecodedBytes int
}

// maxDepth is how many layers of encoding are peeled (base64 inside
// base64).
const maxDepth = 2

// Heuristic is a Scorer built from normalisation, decoding and a table of
// weighted phrase and structure signals. It holds no per-call state and is
// safe for concurrent use.
type Heuristic struct {
	maxDecoded int
}

var _ Scorer = (*Heuristic)(nil)

// NewHeuristic returns a Heuristic with opts.
func NewHeuristic(opts Options) *Heuristic {
	h := &Heuristic{maxDecoded: opts.MaxDecodedBytes}
	if h.maxDecoded <= 0 {
		h.maxDecoded = 64 << 10
	}
	return h
}

// Score implements Scorer.
func (h *Heuristic) Score(ctx context.Context, text string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("injection: scoring stopped before it began: %w", err)
	}
	t := tablesOnce()
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	st := &state{ctx: ctx, t: t, s: s, budget: h.maxDecoded, hits: s.hits[:0]}
	st.scan(text, 0, "", 0, len(text))
	s.hits = st.hits[:0]
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("injection: scoring stopped: %w", err)
	}
	return st.result(text), nil
}

// hit is one match before aggregation.
type hit struct {
	sig        int
	weight     float64
	start, end int
	via        string
	// inNorm is true when start and end are offsets in the normalised
	// top-level text and still have to be mapped to the caller's text.
	inNorm bool
}

// scratch holds the buffers of one call, reused through a pool: one set
// per decoding depth, because a decoded view is scanned while its parent's
// buffers are still in use.
type scratch struct {
	lv        [maxDepth + 1]buffers
	pos       []int32
	want, got []int32 // offsets to map, and where they map to
	hits      []hit
}

type buffers struct {
	norm, view, tags, dec []byte
	toks, vtoks           []token
	raw                   []rawHit
	ms, lms               matchScratch // for the plain and the leetspeak matcher
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

type rawHit struct {
	rule   int
	i, end int
}

type state struct {
	ctx    context.Context
	t      *tables
	s      *scratch
	budget int
	hits   []hit
	flags  normFlags // of the top-level text
}

// scan matches every view of text. depth is the number of decodings that
// produced text; via and [spanStart, spanEnd) describe the outermost one.
func (st *state) scan(text string, depth int, via string, spanStart, spanEnd int) {
	b := &st.s.lv[depth]
	norm, flags := normalize(b.norm, text, nil, &b.tags)
	b.norm = norm
	if depth == 0 {
		st.flags = flags
	}
	toks, leetish := tokenize(norm, b.toks)
	b.toks = toks

	add := func(sig int, weight float64, start, end int, v string) {
		h := hit{sig: sig, weight: weight, start: start, end: end, via: v, inNorm: depth == 0}
		if depth > 0 {
			h.start, h.end = spanStart, spanEnd
		}
		st.hits = append(st.hits, h)
	}
	viaOr := func(v string) string {
		if via != "" {
			return via
		}
		return v
	}

	// Phrases in the normalised text.
	raw, stats := st.t.plain.collect(norm, toks, b.raw[:0], &b.ms)
	b.raw = raw
	st.addPhrases(norm, toks, raw, stats.meta > 0, st.t.plain, via, add)

	// Scripts without spaces.
	if flags.nonASCII {
		for _, l := range st.t.literals {
			if i := bytes.Index(norm, l.text); i >= 0 {
				add(l.sig, l.weight, i, i+len(l.text), via)
			}
		}
		for k := range st.t.pairs {
			if start, end, ok := st.t.pairs[k].find(norm); ok {
				add(st.t.pairs[k].sig, st.t.pairs[k].weight, start, end, via)
			}
		}
	}

	// Chat markup and links that carry data.
	st.scanMarkup(norm, stats, via, add)

	// Leetspeak.
	if leetish {
		b.view = leetFold(b.view, norm)
		b.vtoks, _ = tokenize(b.view, b.vtoks)
		lraw, lstats := st.t.leet.collect(b.view, b.vtoks, b.raw[:0], &b.lms)
		b.raw = lraw
		st.addPhrases(b.view, b.vtoks, lraw, lstats.meta > 0 || stats.meta > 0, st.t.leet, viaOr(ViaLeet), add)
	}

	// rot13, when the text names it or reads like it.
	if stats.mentionsRot13 || stats.rot13 >= 3 && stats.rot13*2 >= stats.english {
		b.view = rot13(b.view, norm)
		b.vtoks, _ = tokenize(b.view, b.vtoks)
		rraw, rstats := st.t.plain.collect(b.view, b.vtoks, b.raw[:0], &b.ms)
		b.raw = rraw
		st.addPhrases(b.view, b.vtoks, rraw, rstats.meta > 0, st.t.plain, viaOr(ViaRot13), add)
	}

	if depth >= maxDepth {
		return
	}

	// Words spelt letter by letter.
	if st.budget > 0 {
		if view, ok := joinSpelled(b.dec[:0], norm, toks); ok {
			b.dec = view
			if len(view) > st.budget {
				view = view[:st.budget]
			}
			st.budget -= len(view)
			st.scan(string(view), depth+1, viaOr(ViaSpacing), spanFor(depth, spanStart, 0), spanFor(depth, spanEnd, len(text)))
		}
	}

	// Invisible Unicode tag characters carrying ASCII.
	if tags := b.tags; len(tags) >= 4 && st.budget > 0 {
		if len(tags) > st.budget {
			tags = tags[:st.budget]
		}
		st.budget -= len(tags)
		st.scan(string(tags), depth+1, viaOr(ViaUnicodeTags), spanFor(depth, spanStart, 0), spanFor(depth, spanEnd, len(text)))
	}

	// Base64 runs.
	base64Runs(text, func(start, end int) bool {
		if st.budget <= 0 || st.ctx.Err() != nil {
			return false
		}
		dec, ok := decodeBase64(b.dec, text[start:end], st.budget)
		b.dec = dec
		if !ok {
			return true
		}
		st.budget -= len(dec)
		st.scan(string(dec), depth+1, viaOr(ViaBase64), spanFor(depth, spanStart, start), spanFor(depth, spanEnd, end))
		return true
	})
}

// minSpelled is how many one-letter words in a row make a spelt-out word.
const minSpelled = 4

// Context kept around a spelt-out word, and the most runs joined per
// text: the view is read for the phrase around the word, and a document
// full of "a b c d" lists must not be read again whole.
const (
	spelledBefore = 200
	spelledAfter  = 300
	maxSpelled    = 16
)

// joinSpelled writes to dst, for every run of at least minSpelled
// one-letter words ("i.g.n.o.r.e", "I g n o r e"), the text around it with
// the run joined into one word, and reports whether there was such a run.
// Lists such as "a, b, c, d" are joined too; they seldom spell anything
// the tables know.
func joinSpelled(dst, text []byte, toks []token) ([]byte, bool) {
	// A quick look for one-character words in a row first: most texts
	// have none, and the exact pass below is slower.
	run, found := 0, false
	for k := range toks {
		if toks[k].end-toks[k].start != 1 {
			run = 0
			continue
		}
		if run++; run >= minSpelled {
			found = true
			break
		}
	}
	if !found {
		return dst, false
	}
	dst = dst[:0]
	runs, copied := 0, 0 // copied: end of the text already in dst
	for k := 0; k < len(toks) && runs < maxSpelled; {
		n := 0
		for k+n < len(toks) && toks[k+n].end-toks[k+n].start == 1 && isLetterByte(text[toks[k+n].start]) &&
			(n == 0 || toks[k+n].start-toks[k+n-1].end <= 2) {
			n++
		}
		if n < minSpelled {
			k += max(n, 1)
			continue
		}
		start, end := int(toks[k].start), int(toks[k+n-1].end)
		if runs == 0 || start-copied > spelledBefore+spelledAfter {
			// A new window: close the previous one, open this one.
			if runs > 0 {
				dst = append(dst, text[copied:min(len(text), copied+spelledAfter)]...)
				dst = append(dst, '\n')
			}
			copied = max(copied, start-spelledBefore)
		}
		dst = append(dst, text[copied:start]...)
		for j := k; j < k+n; j++ {
			dst = append(dst, text[toks[j].start])
		}
		copied = end
		runs++
		k += n
	}
	if runs > 0 {
		dst = append(dst, text[copied:min(len(text), copied+spelledAfter)]...)
	}
	return dst, runs > 0
}

// spanFor keeps the outermost encoded span: a match in base64 inside
// base64 is reported at the outer run, which is what the caller sees.
func spanFor(depth, outer, here int) int {
	if depth > 0 {
		return outer
	}
	return here
}

// addPhrases turns raw pattern matches into hits, scaling mentions down.
func (st *state) addPhrases(text []byte, toks []token, raw []rawHit, meta bool, m *matcher, via string, add func(int, float64, int, int, string)) {
	// Several patterns often match the same words; the mention test
	// scans the line, so it runs once per span.
	last, lastEnd, lastMention := -1, -1, false
	for _, r := range raw {
		ru := &st.t.rules[r.rule]
		w := ru.weight
		if r.i != last || r.end != lastEnd {
			last, lastEnd = r.i, r.end
			lastMention = isMention(text, toks, r.i, r.end, m, meta)
		}
		if lastMention {
			w *= MentionFactor
		}
		add(ru.sig, w, int(toks[r.i].start), int(toks[r.end-1].end), via)
	}
}

// isMention reports whether the match toks[i:end] is cited rather than
// used: right after a word that introduces an example or a quote
// ("phrases like ...", "the user typed ..."), or, in a text that talks
// about attacks (meta), in quotation marks.
func isMention(text []byte, toks []token, i, end int, m *matcher, meta bool) bool {
	if i > 0 {
		t := toks[i-1]
		if t.id != 0 && m.class[t.id]&wCue != 0 && toks[i].flags&tBreak == 0 {
			return true
		}
	}
	return meta && quoted(text, int(toks[i].start), int(toks[end-1].end))
}

// quoted reports whether text[start:end] sits between a pair of quotation
// marks (" ` or a single quote at a word edge) on one line.
func quoted(text []byte, start, end int) bool {
	const reach = 300
	open := byte(0)
	dq, bq := 0, 0
	lineStart := start
	for lineStart > 0 && text[lineStart-1] != '\n' && start-lineStart < reach {
		lineStart--
	}
	for k := lineStart; k < start; k++ {
		switch c := text[k]; c {
		case '"':
			dq++
		case '`':
			bq++
		case '\'':
			if k == 0 || !isLetterByte(text[k-1]) {
				open = '\''
			} else if open == '\'' && (k+1 >= len(text) || !isLetterByte(text[k+1])) {
				open = 0
			}
		}
	}
	switch {
	case dq%2 == 1:
		open = '"'
	case bq%2 == 1:
		open = '`'
	}
	if open == 0 {
		return false
	}
	for k := end; k < len(text) && k < end+reach && text[k] != '\n'; k++ {
		if text[k] == open && (open != '\'' || k+1 >= len(text) || !isLetterByte(text[k+1])) {
			return true
		}
	}
	return false
}

// scanMarkup finds chat-template markup, role headers and data-carrying
// links in a normalised text.
func (st *state) scanMarkup(text []byte, stats viewStats, via string, add func(int, float64, int, int, string)) {
	// Markup is quoted or fenced when a developer asks about templates;
	// that is a mention if the text talks about templates or attacks.
	talk := stats.meta > 0 || stats.template > 0
	var fences fenceIndex
	for _, first := range markupFirst {
		for off := 0; ; {
			i := bytes.IndexByte(text[off:], first)
			if i < 0 {
				break
			}
			i += off
			off = i + 1
			if first == '#' {
				if i > 0 && text[i-1] != '\n' {
					continue
				}
				j := i
				for j < len(text) && text[j] == '#' {
					j++
				}
				off = j
				if j-i > 6 {
					continue
				}
				if j < len(text) && text[j] == ' ' {
					j++
				}
				for _, hd := range st.t.headers {
					if hasPrefix(text[j:], hd.text) && !letterAt(text, j+len(hd.text)) {
						w := hd.weight
						if talk && fences.inside(text, i) {
							w *= MentionFactor
						}
						add(hd.sig, w, i, j+len(hd.text), via)
						break
					}
				}
				continue
			}
			found := false
			for _, mk := range st.t.markups {
				if mk.text[0] != first || !hasPrefix(text[i:], mk.text) {
					continue
				}
				end := i + len(mk.text)
				if mk.wordEnd && letterAt(text, end) {
					continue
				}
				w := mk.weight
				if talk && (stats.template > 0 || fences.inside(text, i) || quoted(text, i, end)) {
					w *= MentionFactor
				}
				add(mk.sig, w, i, end, via)
				off = end
				found = true
				break
			}
			if !found && first == '<' {
				if end, w := roleTagAt(text, i); end > 0 {
					if talk && (stats.template > 0 || fences.inside(text, i) || quoted(text, i, end)) {
						w *= MentionFactor
					}
					add(st.t.roleTag, w, i, end, via)
					off = end
				}
			}
		}
	}
	for _, rr := range st.t.regexRules {
		for off, n := 0, 0; n < regexMaxSites; n++ {
			i := bytes.Index(text[off:], rr.literal)
			if i < 0 {
				break
			}
			i += off
			off = i + len(rr.literal)
			if loc := rr.re.FindIndex(text[i:min(len(text), i+regexWindow)]); loc != nil {
				add(rr.sig, rr.weight, i, i+loc[1], via)
				break
			}
		}
	}
}

// roleTagWeight rates an XML-like tag named after a chat role, such as
// <system_override> or </user_query>, that the fixed markup table does
// not list. Closing the user's turn is how forged content pretends the
// user has finished; tags users write to structure their own prompts
// (<instructions>, <document>) weigh nothing.
func roleTagWeight(name []byte, closing bool) float64 {
	base := name
	if k := bytes.IndexAny(name, "_-"); k >= 0 {
		base = name[:k]
	}
	w := 0.0
	switch string(base) {
	case "system", "sys":
		w = 0.65
		if closing {
			w = 0.6
		}
	case "admin", "administrator", "developer", "root", "operator":
		w = 0.5
	case "user", "human":
		w = 0.3
		if closing {
			w = 0.5
		}
	case "assistant", "ai", "model":
		w = 0.35
	}
	if w > 0 && bytes.Contains(name, []byte("override")) {
		w = max(w, 0.65)
	}
	return w
}

// roleTagAt parses a tag "<name>" or "</name>" at text[i] and returns its
// end and weight, or 0 and 0.
func roleTagAt(text []byte, i int) (int, float64) {
	j := i + 1
	closing := j < len(text) && text[j] == '/'
	if closing {
		j++
	}
	start := j
	for j < len(text) && j-start <= maxTagName && (isLetterByte(text[j]) || text[j] == '_' || text[j] == '-') {
		j++
	}
	if j == start || j >= len(text) || text[j] != '>' {
		return 0, 0
	}
	w := roleTagWeight(text[start:j], closing)
	if w == 0 {
		return 0, 0
	}
	return j + 1, w
}

// maxTagName bounds the name of a role tag.
const maxTagName = 32

// fenceIndex answers "is this offset inside a ``` code block" in
// logarithmic time, so that a text full of markup costs linear time.
type fenceIndex struct {
	built bool
	at    []int // offsets of every ``` in the text, ascending
}

func (f *fenceIndex) inside(text []byte, i int) bool {
	if !f.built {
		f.built = true
		for off := 0; ; {
			k := bytes.Index(text[off:], fence)
			if k < 0 {
				break
			}
			f.at = append(f.at, off+k)
			off += k + len(fence)
		}
	}
	n, _ := slices.BinarySearch(f.at, i)
	return n%2 == 1
}

var fence = []byte("```")

// A regex rule looks at no more than regexMaxSites occurrences of its
// literal and regexWindow bytes from each: links and images are short.
const (
	regexMaxSites = 64
	regexWindow   = 512
)

func letterAt(text []byte, i int) bool {
	return i < len(text) && (isLetterByte(text[i]) || text[i] == '_')
}

// result aggregates hits into distinct signals and the score.
func (st *state) result(text string) Result {
	if len(st.hits) == 0 {
		return Result{}
	}
	t := st.t
	// Map offsets in the normalised text back to the caller's text.
	needMap := false
	for _, h := range st.hits {
		needMap = needMap || h.inNorm
	}
	if needMap && !st.flags.nonASCII {
		// ASCII text: map just the offsets the hits need, in one pass,
		// instead of building the map of every byte.
		want := st.s.want[:0]
		for _, h := range st.hits {
			if h.inNorm {
				want = append(want, int32(h.start), int32(h.end))
			}
		}
		slices.Sort(want)
		want = slices.Compact(want)
		got := asciiPos(text, want, st.s.got[:0])
		st.s.want, st.s.got = want, got
		for k := range st.hits {
			h := &st.hits[k]
			if !h.inNorm {
				continue
			}
			i, _ := slices.BinarySearch(want, int32(h.start))
			j, _ := slices.BinarySearch(want, int32(h.end))
			h.start, h.end = int(got[i]), int(got[j])
			if h.end < h.start {
				h.end = h.start
			}
		}
	} else if needMap {
		pos := st.s.pos[:0]
		b := &st.s.lv[0]
		norm, _ := normalize(b.view[:0], text, &pos, nil)
		st.s.pos, b.view = pos, norm
		for k := range st.hits {
			h := &st.hits[k]
			if !h.inNorm {
				continue
			}
			h.start = mapOffset(pos, h.start, len(text))
			h.end = mapOffset(pos, h.end, len(text))
			if h.end < h.start {
				h.end = h.start
			}
		}
	}
	best := make(map[int]int, len(st.hits)) // signal -> index of its best hit
	plain := make(map[int]bool)
	for k, h := range st.hits {
		if h.via == "" {
			plain[h.sig] = true
		}
		b, ok := best[h.sig]
		if !ok || better(h, st.hits[b]) {
			best[h.sig] = k
		}
	}
	sigs := make([]int, 0, len(best))
	for sig := range best {
		sigs = append(sigs, sig)
	}
	slices.Sort(sigs) // map order must not decide ties
	var out []Signal
	var encoded *hit
	for _, sig := range sigs {
		h := st.hits[best[sig]]
		if plain[sig] && h.via != "" {
			// Found in clear too: report the clear match.
			for _, o := range st.hits {
				if o.sig == sig && o.via == "" && o.weight >= h.weight {
					h = o
					break
				}
			}
		}
		out = append(out, Signal{
			Name: t.sigs[sig].name, Category: t.sigs[sig].category, Weight: h.weight,
			Start: h.start, End: h.end, Via: h.via,
		})
		if !plain[sig] && (encoded == nil || better(h, *encoded)) {
			hh := h
			encoded = &hh
		}
	}
	if encoded != nil {
		out = append(out, Signal{
			Name: "encoded_payload", Category: CategoryObfuscation, Weight: ObfuscationBonus,
			Start: encoded.start, End: encoded.end, Via: encoded.via,
		})
	}
	if st.flags.mixedScript || st.flags.hiddenChars {
		out = append(out, Signal{
			Name: "unicode_obfuscation", Category: CategoryObfuscation, Weight: UnicodeBonus,
			Start: 0, End: len(text),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Weight != out[j].Weight {
			return out[i].Weight > out[j].Weight
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Start < out[j].Start
	})
	keep := 1.0
	for _, s := range out {
		keep *= 1 - s.Weight
	}
	score := 1 - keep
	switch {
	case score < 0:
		score = 0
	case score > 1:
		score = 1
	}
	return Result{Score: score, Signals: out}
}

// better orders two hits of one signal: heavier first, then found in
// clear, then earlier.
func better(a, b hit) bool {
	if a.weight != b.weight {
		return a.weight > b.weight
	}
	if (a.via == "") != (b.via == "") {
		return a.via == ""
	}
	return a.start < b.start
}

// mapOffset maps offset i in the normalised text to the caller's text.
func mapOffset(pos []int32, i, n int) int {
	if i >= len(pos) {
		return n
	}
	if i < 0 {
		return 0
	}
	return int(pos[i])
}
