package detect

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
func (ix *keywordIndex) scan(text string, hits []hit) []hit {
	delta, class, cols := ix.delta, &ix.class, ix.cols
	var row uint32
	for i := 0; i < len(text); i++ {
		e := delta[row+uint32(class[text[i]])]
		row = e >> 1
		if e&1 != 0 {
			s := row / cols
			for _, k := range ix.out[ix.outStart[s]:ix.outStart[s+1]] {
				hits = append(hits, hit{kw: k, end: i + 1})
			}
		}
	}
	return hits
}
