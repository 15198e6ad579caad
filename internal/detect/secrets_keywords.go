package detect

import (
	"cmp"
	"slices"
)

// keywordIndex finds every occurrence of a set of keywords in one pass over
// a text, ignoring ASCII case: an Aho-Corasick automaton compiled to a
// table-driven DFA. The standard library's strings.Index would need one
// pass per keyword and a lower-cased copy of the text; with thirty-odd
// rules, one pass is several times faster.
//
// Bytes that occur in no keyword share one column of the transition table,
// so the table is states × (distinct keyword bytes + 1) entries, a few tens
// of kilobytes for the rule table.
type keywordIndex struct {
	// class maps a byte to its column; 0 is every byte in no keyword.
	class [256]uint8
	cols  uint32
	// delta[row+class] is the next state's row (state × cols) shifted
	// left by one, with the low bit set if keywords end in that state.
	delta []uint32
	// out[outStart[s]:outStart[s+1]] are the keywords that end in state s.
	outStart []int32
	out      []int32
	lens     []int
	maxLen   int
}

// hit is one keyword occurrence: the keyword's index and the offset just
// past its end.
type hit struct {
	kw  int32
	end int
}

// newKeywordIndex builds the automaton for kws, which are lower case.
func newKeywordIndex(kws []string) *keywordIndex {
	ix := &keywordIndex{lens: make([]int, len(kws))}
	ncls := 1
	for i, k := range kws {
		ix.lens[i] = len(k)
		ix.maxLen = max(ix.maxLen, len(k))
		for j := 0; j < len(k); j++ {
			c := k[j]
			if ix.class[c] == 0 {
				if ncls == 256 {
					panic("detect: too many distinct keyword bytes")
				}
				ix.class[c] = uint8(ncls)
				if c >= 'a' && c <= 'z' {
					ix.class[c-'a'+'A'] = uint8(ncls)
				}
				ncls++
			}
		}
	}
	cols := ncls
	ix.cols = uint32(cols)

	// The trie: next[s*cols+c] is the child of s on column c, or -1.
	next := make([]int32, cols)
	for i := range next {
		next[i] = -1
	}
	ends := [][]int32{nil}
	for i, k := range kws {
		s := int32(0)
		for j := 0; j < len(k); j++ {
			c := int32(ix.class[k[j]])
			t := next[int(s)*cols+int(c)]
			if t < 0 {
				t = int32(len(ends))
				ends = append(ends, nil)
				next[int(s)*cols+int(c)] = t
				for range cols {
					next = append(next, -1)
				}
			}
			s = t
		}
		ends[s] = append(ends[s], int32(i))
	}

	// Breadth-first, fill in the failure transitions and inherit the
	// keywords that end in each state's longest proper suffix.
	nstates := len(ends)
	fail := make([]int32, nstates)
	queue := make([]int32, 0, nstates)
	for c := 0; c < cols; c++ {
		if t := next[c]; t < 0 {
			next[c] = 0
		} else {
			fail[t] = 0
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		ends[s] = append(ends[s], ends[fail[s]]...)
		for c := 0; c < cols; c++ {
			i := int(s)*cols + c
			if t := next[i]; t < 0 {
				next[i] = next[int(fail[s])*cols+c]
			} else {
				fail[t] = next[int(fail[s])*cols+c]
				queue = append(queue, t)
			}
		}
	}

	ix.delta = make([]uint32, len(next))
	for i, t := range next {
		e := uint32(t) * uint32(cols) << 1
		if len(ends[t]) > 0 {
			e |= 1
		}
		ix.delta[i] = e
	}
	ix.outStart = make([]int32, nstates+1)
	for s, e := range ends {
		ix.outStart[s] = int32(len(ix.out))
		ix.out = append(ix.out, e...)
	}
	ix.outStart[nstates] = int32(len(ix.out))
	return ix
}

// scan appends to hits every keyword occurrence in text, in order of
// where they end.
//
// A DFA walk is a chain of dependent table loads, so its speed is set by
// load latency, not by bandwidth. Long texts are therefore cut into four
// lanes walked in one loop, whose loads overlap; each lane starts a
// keyword's length early, in the lane before it, and reports only the
// keywords that end inside it.
func (ix *keywordIndex) scan(text string, hits []hit) []hit {
	const lanes = 4
	if len(text) < 1024 {
		return ix.walk(text, 0, len(text), 0, 0, hits)
	}
	n0 := len(hits)
	overlap := ix.maxLen - 1
	var from, to, floor [lanes]int
	for k := range lanes {
		floor[k] = k * len(text) / lanes
		from[k] = max(0, floor[k]-overlap)
		to[k] = (k + 1) * len(text) / lanes
	}
	// The first lane has no overlap and is the shortest.
	m := to[0] - from[0]
	t0, t1 := text[from[0]:from[0]+m], text[from[1]:from[1]+m]
	t2, t3 := text[from[2]:from[2]+m], text[from[3]:from[3]+m]
	delta, class := ix.delta, &ix.class
	var r0, r1, r2, r3 uint32
	for i := 0; i < m; i++ {
		e0 := delta[r0+uint32(class[t0[i]])]
		e1 := delta[r1+uint32(class[t1[i]])]
		e2 := delta[r2+uint32(class[t2[i]])]
		e3 := delta[r3+uint32(class[t3[i]])]
		r0, r1, r2, r3 = e0>>1, e1>>1, e2>>1, e3>>1
		if (e0|e1|e2|e3)&1 != 0 {
			hits = ix.report(hits, e0, from[0]+i+1, floor[0])
			hits = ix.report(hits, e1, from[1]+i+1, floor[1])
			hits = ix.report(hits, e2, from[2]+i+1, floor[2])
			hits = ix.report(hits, e3, from[3]+i+1, floor[3])
		}
	}
	for k, row := range [lanes]uint32{r0, r1, r2, r3} {
		hits = ix.walk(text, from[k]+m, to[k], row, floor[k], hits)
	}
	// Lanes interleave their hits; put them back in text order.
	slices.SortFunc(hits[n0:], func(a, b hit) int { return cmp.Or(cmp.Compare(a.end, b.end), cmp.Compare(a.kw, b.kw)) })
	return hits
}

// walk runs the automaton over text[from:to] from the state at row and
// appends the keywords that end after floor.
func (ix *keywordIndex) walk(text string, from, to int, row uint32, floor int, hits []hit) []hit {
	delta, class := ix.delta, &ix.class
	for i := from; i < to; i++ {
		e := delta[row+uint32(class[text[i]])]
		row = e >> 1
		if e&1 != 0 {
			hits = ix.report(hits, e, i+1, floor)
		}
	}
	return hits
}

// report appends the keywords that end at end in the state the transition
// e leads to, if any do and end is past floor.
func (ix *keywordIndex) report(hits []hit, e uint32, end, floor int) []hit {
	if e&1 == 0 || end <= floor {
		return hits
	}
	s := (e >> 1) / ix.cols
	for _, k := range ix.out[ix.outStart[s]:ix.outStart[s+1]] {
		hits = append(hits, hit{kw: k, end: end})
	}
	return hits
}
