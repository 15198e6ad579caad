package guard

import (
	"log/slog"
	"strconv"
	"strings"
)

// Pseudonyms remembers the placeholders the input guard put in place of
// values it was told to pseudonymize, so that the output guard can put the
// values back in the answer. It holds the original values: keep it for
// the length of the call only, and never log it (its String and LogValue
// show only a count).
//
// A Pseudonyms is filled by one Input call and then only read; it is safe
// for concurrent reads.
type Pseudonyms struct {
	byPlaceholder map[string]string
	// last is the highest number used per label, so that placeholders the
	// output guard makes for new findings do not reuse one of these.
	last   map[string]int
	maxLen int // of a placeholder, in bytes
}

// Len returns the number of placeholders.
func (p *Pseudonyms) Len() int {
	if p == nil {
		return 0
	}
	return len(p.byPlaceholder)
}

// Original returns the value a placeholder stands for.
func (p *Pseudonyms) Original(placeholder string) (string, bool) {
	if p == nil {
		return "", false
	}
	v, ok := p.byPlaceholder[placeholder]
	return v, ok
}

// Restore returns s with every placeholder replaced by its original value.
func (p *Pseudonyms) Restore(s string) string {
	hits := p.find(s, 0, nil)
	if len(hits) == 0 {
		return s
	}
	var b strings.Builder
	at := 0
	for _, h := range hits {
		b.WriteString(s[at:h.start])
		b.WriteString(h.original)
		at = h.end
	}
	b.WriteString(s[at:])
	return b.String()
}

// String shows the number of placeholders, never the values.
func (p *Pseudonyms) String() string {
	return strconv.Itoa(p.Len()) + " pseudonyms"
}

// LogValue implements slog.LogValuer so that a logged Pseudonyms shows
// only its size.
func (p *Pseudonyms) LogValue() slog.Value {
	return slog.IntValue(p.Len())
}

func (p *Pseudonyms) add(placeholder, original, label string, n int) {
	if p.byPlaceholder == nil {
		p.byPlaceholder = make(map[string]string)
		p.last = make(map[string]int)
	}
	p.byPlaceholder[placeholder] = original
	p.last[label] = max(p.last[label], n)
	p.maxLen = max(p.maxLen, len(placeholder))
}

// find appends a restore hit for every placeholder in s at or after
// offset from. Placeholders cannot nest (they hold no brackets), so a scan
// from any point finds the same ones as a scan of the whole text.
func (p *Pseudonyms) find(s string, from int, dst []hit) []hit {
	if p.Len() == 0 {
		return dst
	}
	for i := from; i < len(s); {
		j := strings.IndexByte(s[i:], '[')
		if j < 0 {
			break
		}
		i += j
		end := min(len(s), i+p.maxLen)
		k := strings.IndexByte(s[i+1:end], ']')
		if k < 0 {
			i++
			continue
		}
		ph := s[i : i+k+2]
		if orig, ok := p.byPlaceholder[ph]; ok {
			dst = append(dst, hit{start: i, end: i + len(ph), action: restore, original: orig})
			i += len(ph)
			continue
		}
		i++
	}
	return dst
}

// namer hands out placeholders: one number sequence per type label, and
// the same placeholder for the same value of the same type within a call.
type namer struct {
	last map[string]int
	ids  map[string]string // label + "\x00" + value → placeholder
	ps   *Pseudonyms       // where pseudonyms are recorded (input only)
}

// newNamer returns a namer whose numbers continue after those in seed.
func newNamer(seed *Pseudonyms) *namer {
	n := &namer{last: make(map[string]int), ids: make(map[string]string)}
	if seed != nil {
		for l, v := range seed.last {
			n.last[l] = v
		}
	}
	return n
}

// placeholder returns the placeholder for value of type typ, recording it
// as a pseudonym if pseudo.
func (n *namer) placeholder(typ, value string, pseudo bool) string {
	l := label(typ)
	key := l + "\x00" + value
	if ph, ok := n.ids[key]; ok {
		if pseudo && n.ps != nil {
			// The same value may have been redacted under an earlier
			// policy decision; recording it again is harmless.
			num, _ := strconv.Atoi(ph[len(l)+2 : len(ph)-1])
			n.ps.add(ph, value, l, num)
		}
		return ph
	}
	n.last[l]++
	num := n.last[l]
	ph := "[" + l + "_" + strconv.Itoa(num) + "]"
	n.ids[key] = ph
	if pseudo && n.ps != nil {
		n.ps.add(ph, value, l, num)
	}
	return ph
}

// label turns a finding type into a placeholder label: "openai_key"
// becomes "OPENAI_KEY". Anything but ASCII letters and digits becomes an
// underscore, so that a label never holds a bracket.
func label(typ string) string {
	if typ == "" {
		return "REDACTED"
	}
	b := []byte(typ)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
