package anomaly

import (
	"math"
	"net/netip"
	"strings"
)

// Indexes of the rates in the arrays below.
const (
	mRequests = iota
	mTokens
	mCost
	mErrors
	nMetrics
)

var metricRules = [nMetrics]Rule{RuleRequestSpike, RuleTokenSpike, RuleCostSpike, RuleErrorSpike}

var metricNames = [nMetrics]string{"requests_per_bucket", "tokens_per_bucket", "cost_nano_usd_per_bucket", "errors_per_bucket"}

// rates is the baseline of one key or team: the running bucket and the
// EWMA mean and variance of the closed active buckets.
type rates struct {
	bucket  int64 // index of the running bucket
	started bool  // the running bucket has events
	cur     [nMetrics]float64
	fired   [nMetrics]bool // the running bucket has alerted for the metric
	mean    [nMetrics]float64
	vari    [nMetrics]float64
	// Sums of the squares of single calls' tokens and cost, running and
	// EWMA mean, for the spike floor (see spike).
	curSq, meanSq [2]float64
	samples       int64
}

// add counts an event of the given bucket, first folding the running
// bucket into the baseline if the event starts a new one. Events from a
// bucket before the running one (a late event) count in the running one.
func (r *rates) add(bucket int64, v [nMetrics]float64, alpha float64) {
	if r.started && bucket > r.bucket {
		r.fold(alpha)
	}
	if !r.started || bucket > r.bucket {
		r.bucket, r.started = bucket, true
	}
	for i := range v {
		r.cur[i] += v[i]
	}
	r.curSq[0] += v[mTokens] * v[mTokens]
	r.curSq[1] += v[mCost] * v[mCost]
}

// fold adds the running bucket to the EWMA and clears it.
func (r *rates) fold(alpha float64) {
	for i, x := range r.cur {
		if r.samples == 0 {
			r.mean[i], r.vari[i] = x, 0
		} else {
			diff := x - r.mean[i]
			incr := alpha * diff
			r.mean[i] += incr
			r.vari[i] = (1 - alpha) * (r.vari[i] + diff*incr)
		}
	}
	for i, x := range r.curSq {
		if r.samples == 0 {
			r.meanSq[i] = x
		} else {
			r.meanSq[i] += alpha * (x - r.meanSq[i])
		}
	}
	r.samples++
	r.cur, r.fired = [nMetrics]float64{}, [nMetrics]bool{}
	r.curSq = [2]float64{}
}

// sizeSq is the EWMA mean sum of squared single-call amounts of metric
// m, for tokens and cost; 0 for the others.
func (r *rates) sizeSq(m int) float64 {
	switch m {
	case mTokens:
		return r.meanSq[0]
	case mCost:
		return r.meanSq[1]
	}
	return 0
}

// spike reports whether metric m of the running bucket is a spike, and
// marks it so that it reports once per bucket.
func (r *rates) spike(m int, c *Config, floor float64) (threshold float64, ok bool) {
	x := r.cur[m]
	if sq := r.sizeSq(m); sq > 0 && r.mean[m] > 0 {
		// Tokens and cost come in calls, and a few calls more than usual
		// in a bucket are many standard deviations of a stream of one or
		// two calls, or of a team's few large ones among many small: the
		// sum is skewed and a K-sigma threshold is no longer rare. The
		// request rule's floor says a few calls are no spike, so neither
		// is less than what MinSpike.Requests calls carry, counting calls
		// by the size a token's call has on average (sum of squares over
		// sum), so that a team's large calls count at their size.
		floor = max(floor, c.MinSpike.Requests*sq/r.mean[m])
	}
	if r.fired[m] || x < floor || r.samples < int64(c.Warmup) {
		return 0, false
	}
	mean := r.mean[m]
	sd := max(math.Sqrt(r.vari[m]), math.Sqrt(max(mean, 0)), c.MinRelStdDev*mean)
	threshold = mean + c.K*sd
	if x > threshold {
		r.fired[m] = true
		return threshold, true
	}
	return threshold, false
}

// window counts events in a sliding window, approximated with two fixed
// windows: the estimate is the previous window's count weighted by how
// much of it the sliding window still covers, plus the current count.
// Constant memory, at most one window's worth of error at the edges.
type window struct {
	idx       int64 // index of the current fixed window
	prev, cur float64
	fired     int64 // idx+1 of the window that last alerted; 0 for none
}

// add counts an event at now (nanoseconds) and returns the estimate.
func (w *window) add(now, size int64) float64 {
	idx := now / size
	switch {
	case idx <= w.idx: // same window, or late
	case idx == w.idx+1:
		w.prev, w.cur = w.cur, 0
	default:
		w.prev, w.cur = 0, 0
	}
	w.idx = max(idx, w.idx)
	w.cur++
	covered := 1 - float64(now-w.idx*size)/float64(size)
	return w.prev*max(covered, 0) + w.cur
}

// fire reports whether the window may alert now, once per fixed window.
func (w *window) fire() bool {
	if w.fired == w.idx+1 {
		return false
	}
	w.fired = w.idx + 1
	return true
}

// Sizes of the per-key source memories. A key used from more ranges or
// agents than this in rotation forgets the least recently seen and alerts
// again when it comes back (once per dedupe window).
const (
	maxRanges = 32
	maxAgents = 16
)

// source is an address range or user agent a key was used from, by id.
type source struct {
	id   uint64
	seen int64
}

// keyState is everything the detector keeps per key, in one allocation.
type keyState struct {
	rates
	calls      int64 // calls seen (not failed authentications)
	firstSeen  int64
	ranges     [maxRanges]source
	nRanges    int
	agents     [maxAgents]source
	nAgents    int
	guard      window
	injections window
	hours      [24]uint32
	hoursTotal int64
	offFired   int64 // unix hour+1 of the last off-hours alert

	// Caches for the common case of a key called again by the same client
	// within the same hour: the last agent and its id, and the local hour
	// [hourFrom, hourTo) and its number.
	lastAgent        string
	lastAgentID      uint64
	agentCached      bool
	hourFrom, hourTo int64
	hour             int
}

// maxCachedAgent bounds the user agent kept per key for the cache; longer
// ones are hashed every time.
const maxCachedAgent = 256

// agent returns the id of ua, hashing only when it differs from the last.
func (k *keyState) agent(h *hasher, ua string) uint64 {
	if k.agentCached && ua == k.lastAgent {
		return k.lastAgentID
	}
	id := agentID(h, ua)
	if len(ua) <= maxCachedAgent {
		k.lastAgent, k.lastAgentID, k.agentCached = clone(ua), id, true
	}
	return id
}

// remember looks id up in the first *n entries of set, refreshing it, or
// adds it, replacing the least recently seen when full. It reports whether
// id was known.
func remember(set []source, n *int, id uint64, now int64) bool {
	oldest := 0
	for i := range set[:*n] {
		if set[i].id == id {
			set[i].seen = now
			return true
		}
		if set[i].seen < set[oldest].seen {
			oldest = i
		}
	}
	if *n < len(set) {
		oldest = *n
		*n++
	}
	set[oldest] = source{id: id, seen: now}
	return false
}

// rangeID names the /24 (IPv4) or /48 (IPv6) network of addr.
func rangeID(addr netip.Addr) uint64 {
	if addr.Is4() {
		b := addr.As4()
		return 1<<62 | uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
	}
	b := addr.As16()
	return 2<<62 | uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
}

// rangeOf is the network rangeID names, for people.
func rangeOf(addr netip.Addr) netip.Prefix {
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, _ := addr.Prefix(bits)
	return p
}

// clientOf is the address that failed authentications count against:
// the address itself for IPv4, its /64 for IPv6, since one client
// usually holds a whole /64 and could otherwise rotate through it.
func clientOf(addr netip.Addr) netip.Prefix {
	bits := 64
	if addr.Is4() {
		bits = 32
	}
	p, _ := addr.WithZone("").Prefix(bits)
	return p
}

// agentID hashes a user agent with its digits ignored, so that a client
// library's version bump ("openai-python/1.54.3" to 1.55.0) is not a new
// agent while a different tool is.
func agentID(h *hasher, ua string) uint64 {
	h.reset()
	digits := false
	for i := 0; i < len(ua); i++ {
		c := ua[i]
		if c >= '0' && c <= '9' {
			if !digits {
				h.byte('0')
			}
			digits = true
			continue
		}
		digits = false
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		h.byte(c)
	}
	return h.sum()
}

// hasher is FNV-1a, seeded per detector so that agent ids from one
// process cannot be precomputed. It only needs to tell a key's few agents
// apart, not resist collisions: an attacker who could collide with a
// key's known agent could as well send that agent.
type hasher struct{ seed, h uint64 }

func (h *hasher) reset()      { h.h = 14695981039346656037 ^ h.seed }
func (h *hasher) byte(c byte) { h.h = (h.h ^ uint64(c)) * 1099511628211 }
func (h *hasher) sum() uint64 { return h.h }

// prefixOf keeps at most the first 8 bytes of a presented key, cut at a
// character boundary, so that neither the detector nor an alert ever holds
// more of a key than that.
func prefixOf(s string) string {
	const n = 8
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !startsRune(s[cut]) {
		cut--
	}
	return s[:cut]
}

func startsRune(b byte) bool { return b&0xC0 != 0x80 }

// clone copies s so that a map key made from it does not pin the memory
// of a larger string it was cut from (a request, a whole presented key).
func clone(s string) string { return strings.Clone(s) }
