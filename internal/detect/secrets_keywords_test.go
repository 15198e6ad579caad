package detect

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/detect/detecttest"
)

// naiveHits finds every keyword occurrence with strings.Index on a copy
// of the text with ASCII letters in lower case.
func naiveHits(kws []string, text string) []hit {
	b := []byte(text)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	lower := string(b)
	var hits []hit
	for k, kw := range kws {
		for off := 0; ; {
			i := strings.Index(lower[off:], kw)
			if i < 0 {
				break
			}
			hits = append(hits, hit{kw: int32(k), end: off + i + len(kw)})
			off += i + 1
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.end != b.end {
			return a.end - b.end
		}
		return int(a.kw - b.kw)
	})
	return hits
}

// The automaton finds what a search for each keyword finds, in any case,
// overlapping and nested keywords included, and on texts long enough to
// be cut into lanes, keywords across lane boundaries included.
func TestKeywordIndex(t *testing.T) {
	kws := []string{"key", "api_key", "sk-", "sk-proj-", "ask", "-----begin", "aaa", "a", "eyj", "hooks.slack.com"}
	ix := newKeywordIndex(kws)
	g := detecttest.NewGen(10)
	pieces := append(slices.Clone(kws), "API_KEY", "SK-PROJ-", "EyJ", "x", " ", "\n", "é", "\x00", "\xff", "kez", "sk", "-----BEGI")
	for _, n := range []int{0, 1, 10, 100, 1023, 1024, 1025, 4000, 10000} {
		for round := range 20 {
			var b strings.Builder
			for b.Len() < n {
				b.WriteString(pieces[g.IntN(len(pieces))])
			}
			text := b.String()
			if len(text) > n {
				text = text[:n]
			}
			got := ix.scan(text, nil)
			slices.SortStableFunc(got, func(a, b hit) int {
				if a.end != b.end {
					return a.end - b.end
				}
				return int(a.kw - b.kw)
			})
			if want := naiveHits(kws, text); !slices.Equal(got, want) {
				t.Fatalf("length %d round %d: got %d hits, want %d\n%v\n%v", n, round, len(got), len(want), got, want)
			}
		}
	}
	// Hits come in text order.
	text := strings.Repeat("the api_key and a sk-proj- key ", 200)
	hits := ix.scan(text, nil)
	if !slices.IsSortedFunc(hits, func(a, b hit) int { return a.end - b.end }) {
		t.Fatal("hits out of order")
	}
	// A non-empty dst is appended to.
	prior := []hit{{kw: 99, end: 1}}
	if got := ix.scan("key", prior); len(got) != 2 || got[0] != prior[0] {
		t.Fatalf("append: %v", got)
	}
}

// The run search of context rules is read off their regular expressions.
func TestSecretShape(t *testing.T) {
	want := map[string]string{
		"azure_openai_key":      "32-32",
		"cohere_key":            "40-40",
		"mistral_key":           "32-32",
		"deepseek_key":          "35-35",
		"together_key":          "50-64",
		"aws_secret_access_key": "40-40",
	}
	for _, r := range rules {
		got := "none"
		if r.runs {
			got = fmt.Sprintf("%d-%d", r.minLen, r.maxLen)
		}
		w, ok := want[r.ID]
		if !ok {
			w = "none"
		}
		if got != w {
			t.Errorf("%s: runs %s, want %s", r.ID, got, w)
		}
	}
}

// Searching runs finds what running the regular expression over the
// whole window finds.
func TestFindRunsMatchesRegexp(t *testing.T) {
	g := detecttest.NewGen(11)
	noise := []string{"{h:32}", "{A:40}", "{A:32}", "sk-{h:32}", "{h:64}", "{b:40}", "{h:33}", "{A:41}", "{b:300}", "x", "-", "_", " ", "/", "+", "=", "\n", "tgp_v1_{u:43}"}
	for _, r := range rules {
		if !r.runs {
			continue
		}
		plain := *r
		plain.runs = false
		for range 200 {
			var tmpl strings.Builder
			for range 1 + g.IntN(10) {
				tmpl.WriteString(noise[g.IntN(len(noise))])
			}
			text, _ := g.Expand(t, tmpl.String())
			// Whole text, and windows that start and end anywhere,
			// inside runs too: the run search covers the runs a
			// window touches.
			a, b := g.IntN(len(text)+1), g.IntN(len(text)+1)
			for _, w := range []window{{0, len(text)}, {min(a, b), max(a, b)}} {
				touched := w
				for touched.start > 0 && r.alpha[text[touched.start-1]] {
					touched.start--
				}
				for touched.end < len(text) && r.alpha[text[touched.end]] {
					touched.end++
				}
				got, want := r.find(nil, text, w), plain.find(nil, text, touched)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s on %q %v: runs %s, regexp %s", r.ID, text, w, describe(got, text), describe(want, text))
				}
			}
		}
	}
}
