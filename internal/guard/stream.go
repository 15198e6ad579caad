package guard

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/provider/sse"
)

// A streamed answer arrives as text deltas spread over many events. The
// StreamGuard keeps, per text channel (a choice, a content block, an
// output part), the text not yet released plus some already released
// text for context, runs the detectors over both, and releases text only
// up to window bytes before the end of what has arrived. Any match of up
// to window bytes therefore arrives whole before its first byte is
// released, wherever the upstream split it; the released text is the
// same as if the whole answer had been guarded at once.
//
// Released text goes out in the event that brought the latest delta, its
// text value replaced (possibly by ""), so that every event keeps its
// place and its other fields. What is still held when a channel ends (an
// OpenAI finish_reason or [DONE], an Anthropic content_block_stop or
// message_delta, a Responses output_text.done or response.completed, or
// Close) goes out in one extra delta event, made in the format of the
// stream, just before the event that ended the channel.

// format is the wire format of a stream.
type format int

const (
	formatStrings     format = iota // unknown: every string of each event, event by event
	formatChat                      // OpenAI chat completion chunks
	formatCompletions               // OpenAI legacy completion chunks
	formatResponses                 // OpenAI Responses API events
	formatAnthropic                 // Anthropic Messages API events
)

// StreamGuard guards one streamed answer. It is not safe for concurrent
// use; one goroutine relays the stream.
type StreamGuard struct {
	e      *engine
	format format
	window int
	chans  []*channel
	head   []byte // chat/completions: the top-level members of a chunk but choices, usage and obfuscation
	err    error
	// Scratch for feed, reused across events.
	rewrites, flags, blocks []hit
}

// chanKey identifies a text channel: a choice index; a content block
// index; a Responses output and content index.
type chanKey struct{ a, b int }

type channel struct {
	key    chanKey
	buf    string // released context followed by held text
	done   int    // bytes of buf already released
	itemID []byte // Responses: the raw item_id of the latest delta
	seq    []byte // Responses: the raw sequence_number of the latest delta
}

// OutputStream returns a StreamGuard for a streamed answer to op under
// p.Output, swapping the placeholders in ps back. The stream format
// follows from op: chat and completions chunks, Responses events and
// Anthropic message events are followed delta by delta; for any other op
// each event's JSON strings are guarded one event at a time, without
// holding text back.
func (g *Guard) OutputStream(op provider.Op, p Policy, ps *Pseudonyms) *StreamGuard {
	s := &StreamGuard{e: g.newEngine(p.Output.PII, p.Output.Secrets, ps), window: g.window}
	s.window = max(s.window, ps.maxLenOrZero())
	switch op {
	case provider.OpChat:
		s.format = formatChat
	case provider.OpCompletions:
		s.format = formatCompletions
	case provider.OpResponses:
		s.format = formatResponses
	case provider.OpMessages:
		s.format = formatAnthropic
	}
	return s
}

func (p *Pseudonyms) maxLenOrZero() int {
	if p == nil {
		return 0
	}
	return p.maxLen
}

// Event returns the bytes to forward for ev: the event as it came, the
// event with its text delta shortened or rewritten, possibly preceded by
// an extra delta event that releases held text. Events without text pass
// through at once and in order. After an error (a finding whose action is
// Block, as an *apperr.Error of code ContentBlocked) the stream must end:
// every later call returns the same error.
func (s *StreamGuard) Event(ev sse.Event) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if !ev.HasData || !s.e.active() {
		return ev.Raw, nil
	}
	out, err := s.event(ev)
	if err != nil {
		s.err = err
		return nil, err
	}
	return out, nil
}

// Close releases the text still held, as extra delta events, and returns
// them. Call it when the upstream stream ends without the event that ends
// its channels (the gateway then forwards what Close returns before
// ending the response). Its error is like Event's.
func (s *StreamGuard) Close() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	out, err := s.flushAll()
	if err != nil {
		s.err = err
		return nil, err
	}
	return out, nil
}

// Verdicts returns what the guard found in the text released so far.
func (s *StreamGuard) Verdicts() []Verdict { return s.e.verdicts(nil) }

func (s *StreamGuard) event(ev sse.Event) ([]byte, error) {
	if (s.format == formatChat || s.format == formatCompletions) && strings.TrimSpace(ev.Data) == "[DONE]" {
		pre, err := s.flushAll()
		return append(pre, ev.Raw...), err
	}
	doc := []byte(ev.Data)
	if !json.Valid(doc) {
		if s.format == formatStrings {
			return s.plainEvent(ev)
		}
		// Not an event the format knows; there is no text delta to follow.
		return ev.Raw, nil
	}
	r := root(doc)
	if !isObject(doc, r) && s.format != formatStrings {
		return ev.Raw, nil
	}
	var (
		pre   []byte
		edits []edit
		err   error
	)
	switch s.format {
	case formatChat, formatCompletions:
		pre, edits, err = s.openAIChunk(doc, r)
	case formatAnthropic:
		pre, edits, err = s.anthropicEvent(doc, r, ev.Event)
	case formatResponses:
		pre, edits, err = s.responsesEvent(doc, r, ev.Event)
	default:
		edits, err = s.wholeStrings(doc, allStrings(doc, r, nil), true)
	}
	if err != nil {
		return nil, err
	}
	return append(pre, withData(ev, applyEdits(doc, edits))...), nil
}

// plainEvent guards an event whose data is not JSON as one text.
func (s *StreamGuard) plainEvent(ev sse.Event) ([]byte, error) {
	out, changed, err := s.e.whole(ev.Data, true)
	if err != nil || !changed {
		return ev.Raw, err
	}
	return buildEvent(ev.Event, []byte(out)), nil
}

// openAIChunk handles a chat or completions chunk: each choice's delta
// text feeds the choice's channel; a finish_reason ends it.
func (s *StreamGuard) openAIChunk(doc []byte, r span) ([]byte, []edit, error) {
	choices, ok := lookup(doc, r, "choices")
	if !ok || !isArray(doc, choices) {
		return nil, nil, nil
	}
	if s.head == nil {
		s.head = chunkHead(doc, r)
	}
	var (
		pre   []byte
		edits []edit
	)
	for _, ch := range elems(doc, choices) {
		if !isObject(doc, ch) {
			continue
		}
		fin, hasFin := lookup(doc, ch, "finish_reason")
		final := hasFin && !isNull(doc, fin)
		var tv span
		has := false
		if s.format == formatChat {
			if d, ok := lookup(doc, ch, "delta"); ok {
				tv, has = lookup(doc, d, "content")
			}
		} else {
			tv, has = lookup(doc, ch, "text")
		}
		c := s.channel(chanKey{lookupInt(doc, ch, "index", 0), 0})
		if has && isString(doc, tv) {
			ed, err := s.feedValue(c, doc, tv, final)
			if err != nil {
				return nil, nil, err
			}
			edits = append(edits, ed...)
		} else if final {
			p, err := s.flush(c)
			if err != nil {
				return nil, nil, err
			}
			pre = append(pre, p...)
		}
	}
	return pre, edits, nil
}

// chunkHead returns the top-level members of a chunk that every chunk of
// the stream repeats (id, object, created, model, ...), for the chunks
// the guard makes. Per-chunk members are left out: choices, usage and
// obfuscation (random padding that belongs to one chunk).
func chunkHead(doc []byte, r span) []byte {
	head := []byte{}
	for k, v := range members(doc, r) {
		if stringIs(doc, k, "choices") || stringIs(doc, k, "usage") || stringIs(doc, k, "obfuscation") {
			continue
		}
		head = append(head, doc[k.start:v.end]...)
		head = append(head, ',')
	}
	return head
}

// anthropicEvent handles an Anthropic event: text deltas (and the rare
// text in a content_block_start) feed the block's channel;
// content_block_stop ends it; message_delta and message_stop end all.
func (s *StreamGuard) anthropicEvent(doc []byte, r span, name string) ([]byte, []edit, error) {
	typ := lookupString(doc, r, "type")
	if typ == "" {
		typ = name
	}
	key := chanKey{lookupInt(doc, r, "index", 0), 0}
	switch typ {
	case "content_block_delta":
		d, _ := lookup(doc, r, "delta")
		if lookupString(doc, d, "type") != "text_delta" {
			return nil, nil, nil
		}
		if tv, ok := lookup(doc, d, "text"); ok && isString(doc, tv) {
			ed, err := s.feedValue(s.channel(key), doc, tv, false)
			return nil, ed, err
		}
	case "content_block_start":
		cb, _ := lookup(doc, r, "content_block")
		if lookupString(doc, cb, "type") != "text" {
			return nil, nil, nil
		}
		if tv, ok := lookup(doc, cb, "text"); ok && isString(doc, tv) && tv.end-tv.start > 2 {
			ed, err := s.feedValue(s.channel(key), doc, tv, false)
			return nil, ed, err
		}
	case "content_block_stop":
		if c := s.find(key); c != nil {
			pre, err := s.flush(c)
			return pre, nil, err
		}
	case "message_delta", "message_stop":
		pre, err := s.flushAll()
		return pre, nil, err
	}
	return nil, nil, nil
}

// responsesEvent handles a Responses API event. Deltas feed the channel
// of their output and content index; the done events end it and carry the
// whole text again (as do output_item.done and the final response), which
// is guarded as a whole, with the same placeholders as the deltas.
func (s *StreamGuard) responsesEvent(doc []byte, r span, name string) ([]byte, []edit, error) {
	typ := lookupString(doc, r, "type")
	if typ == "" {
		typ = name
	}
	key := chanKey{lookupInt(doc, r, "output_index", 0), lookupInt(doc, r, "content_index", 0)}
	switch typ {
	case "response.output_text.delta":
		tv, ok := lookup(doc, r, "delta")
		if !ok || !isString(doc, tv) {
			return nil, nil, nil
		}
		c := s.channel(key)
		if id, ok := lookup(doc, r, "item_id"); ok {
			c.itemID = append(c.itemID[:0], doc[id.start:id.end]...)
		}
		if sq, ok := lookup(doc, r, "sequence_number"); ok {
			c.seq = append(c.seq[:0], doc[sq.start:sq.end]...)
		}
		ed, err := s.feedValue(c, doc, tv, false)
		return nil, ed, err
	case "response.output_text.done", "response.content_part.done":
		var pre []byte
		if c := s.find(key); c != nil {
			var err error
			if pre, err = s.flush(c); err != nil {
				return nil, nil, err
			}
		}
		var texts []span
		if typ == "response.output_text.done" {
			texts = appendString(doc, r, "text", texts)
		} else if p, ok := lookup(doc, r, "part"); ok && lookupString(doc, p, "type") == "output_text" {
			texts = appendString(doc, p, "text", texts)
		}
		edits, err := s.wholeStrings(doc, texts, false)
		return pre, edits, err
	case "response.output_item.done":
		pre, err := s.flushOutput(key.a)
		if err != nil {
			return nil, nil, err
		}
		item, _ := lookup(doc, r, "item")
		x := &extractor{doc: doc}
		x.responsesItem(item)
		edits, err := s.wholeStrings(doc, spans(x.refs), false)
		return pre, edits, err
	case "response.completed", "response.incomplete", "response.failed":
		pre, err := s.flushAll()
		if err != nil {
			return nil, nil, err
		}
		resp, _ := lookup(doc, r, "response")
		edits, err := s.wholeStrings(doc, spans(extractOutput(doc, provider.OpResponses, resp, nil)), false)
		return pre, edits, err
	}
	return nil, nil, nil
}

func appendString(doc []byte, obj span, name string, dst []span) []span {
	if v, ok := lookup(doc, obj, name); ok && isString(doc, v) {
		dst = append(dst, v)
	}
	return dst
}

func spans(refs []textRef) []span {
	out := make([]span, len(refs))
	for i, r := range refs {
		out[i] = r.v
	}
	return out
}

// wholeStrings guards complete texts held in string values of doc.
func (s *StreamGuard) wholeStrings(doc []byte, texts []span, count bool) ([]edit, error) {
	var edits []edit
	for _, v := range texts {
		out, changed, err := s.e.whole(decodeString(doc, v), count)
		if err != nil {
			return nil, err
		}
		if changed {
			edits = append(edits, edit{v, appendJSONString(nil, out)})
		}
	}
	return edits, nil
}

func (s *StreamGuard) find(k chanKey) *channel {
	for _, c := range s.chans {
		if c.key == k {
			return c
		}
	}
	return nil
}

// channel returns the channel for k, opening it if needed. Streams have
// one channel or a handful, so a slice beats a map.
func (s *StreamGuard) channel(k chanKey) *channel {
	if c := s.find(k); c != nil {
		return c
	}
	c := &channel{key: k}
	s.chans = append(s.chans, c)
	return c
}

// feedValue feeds the delta text in the string value tv to c and returns
// the edit that puts the released text in its place.
func (s *StreamGuard) feedValue(c *channel, doc []byte, tv span, final bool) ([]edit, error) {
	text := decodeString(doc, tv)
	out, err := s.feed(c, text, final)
	if err != nil {
		return nil, err
	}
	if out == text {
		return nil, nil
	}
	return []edit{{tv, appendJSONString(nil, out)}}, nil
}

// flush releases everything c holds, as an extra delta event.
func (s *StreamGuard) flush(c *channel) ([]byte, error) {
	out, err := s.feed(c, "", true)
	if err != nil || out == "" {
		return nil, err
	}
	return s.deltaEvent(c, out), nil
}

func (s *StreamGuard) flushAll() ([]byte, error) {
	var pre []byte
	for _, c := range s.chans {
		p, err := s.flush(c)
		if err != nil {
			return nil, err
		}
		pre = append(pre, p...)
	}
	return pre, nil
}

// flushOutput flushes the channels of one Responses output item.
func (s *StreamGuard) flushOutput(output int) ([]byte, error) {
	var pre []byte
	for _, c := range s.chans {
		if c.key.a != output {
			continue
		}
		p, err := s.flush(c)
		if err != nil {
			return nil, err
		}
		pre = append(pre, p...)
	}
	return pre, nil
}

// feed adds text to c and returns the text it releases: everything up to
// window bytes before the end (all of it if final), rewritten as the
// policy says, never cutting a finding, a placeholder or a character.
func (s *StreamGuard) feed(c *channel, text string, final bool) (string, error) {
	buf := c.buf + text
	pos := c.done
	limit := len(buf)
	if !final {
		limit -= s.window
	}
	if limit <= pos {
		c.buf = buf
		return "", nil
	}
	e := s.e
	s.rewrites, s.flags, s.blocks = e.scan(buf, s.rewrites[:0], s.flags[:0], s.blocks[:0])
	rewrites, flags := s.rewrites, s.flags
	for _, h := range s.blocks {
		if h.end > pos {
			e.count(s.blocks)
			return "", blocked("answer", s.blocks)
		}
	}
	var out []byte
	for _, h := range rewrites {
		if h.end <= pos {
			continue // released with an earlier delta
		}
		if h.start >= limit {
			break // not yet whole, or not yet due
		}
		// A hit that starts in released text can only be one longer than
		// the window; what is left of it is still rewritten.
		h.start = max(h.start, pos)
		out = append(out, buf[pos:h.start]...)
		out = e.replacement(out, buf, h)
		e.count1(h)
		pos = h.end
	}
	if pos < limit {
		cut := runeStart(buf, limit, pos)
		out = append(out, buf[pos:cut]...)
		pos = cut
	}
	for _, f := range flags {
		if f.start >= c.done && f.start < pos {
			e.count1(f)
		}
	}
	// Keep window bytes of released text as context for the detectors
	// (a keyword before a value, a word boundary), starting on a
	// character.
	if drop := pos - s.window; drop > 0 {
		drop = runeStart(buf, drop, 0)
		buf, pos = buf[drop:], pos-drop
	}
	c.buf, c.done = buf, pos
	return string(out), nil
}

// runeStart moves i back to the start of the UTF-8 sequence it falls in,
// not below lo.
func runeStart(s string, i, lo int) int {
	for n := 0; n < utf8.UTFMax-1 && i > lo && i < len(s) && !utf8.RuneStart(s[i]); n++ {
		i--
	}
	return i
}

// deltaEvent makes a text delta event for channel c in the stream's
// format.
func (s *StreamGuard) deltaEvent(c *channel, text string) []byte {
	var d []byte
	idx := strconv.Itoa(c.key.a)
	switch s.format {
	case formatChat:
		d = append(d, '{')
		d = append(d, s.head...)
		d = append(d, `"choices":[{"index":`...)
		d = append(d, idx...)
		d = append(d, `,"delta":{"content":`...)
		d = appendJSONString(d, text)
		d = append(d, `},"finish_reason":null}]}`...)
		return buildEvent("", d)
	case formatCompletions:
		d = append(d, '{')
		d = append(d, s.head...)
		d = append(d, `"choices":[{"index":`...)
		d = append(d, idx...)
		d = append(d, `,"text":`...)
		d = appendJSONString(d, text)
		d = append(d, `,"logprobs":null,"finish_reason":null}]}`...)
		return buildEvent("", d)
	case formatAnthropic:
		d = append(d, `{"type":"content_block_delta","index":`...)
		d = append(d, idx...)
		d = append(d, `,"delta":{"type":"text_delta","text":`...)
		d = appendJSONString(d, text)
		d = append(d, `}}`...)
		return buildEvent("content_block_delta", d)
	default: // formatResponses
		d = append(d, `{"type":"response.output_text.delta","item_id":`...)
		d = append(d, orNull(c.itemID)...)
		d = append(d, `,"output_index":`...)
		d = append(d, idx...)
		d = append(d, `,"content_index":`...)
		d = append(d, strconv.Itoa(c.key.b)...)
		d = append(d, `,"delta":`...)
		d = appendJSONString(d, text)
		d = append(d, `,"logprobs":[],"sequence_number":`...)
		d = append(d, orNull(c.seq)...)
		d = append(d, '}')
		return buildEvent("response.output_text.delta", d)
	}
}

func orNull(raw []byte) []byte {
	if len(raw) == 0 {
		return []byte("null")
	}
	return raw
}

// buildEvent writes an event with the given name (none if empty) and data.
func buildEvent(name string, data []byte) []byte {
	out := make([]byte, 0, len(name)+len(data)+16)
	if name != "" {
		out = append(out, "event: "...)
		out = append(out, name...)
		out = append(out, '\n')
	}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		out = append(out, "data: "...)
		out = append(out, line...)
		out = append(out, '\n')
	}
	return append(out, '\n')
}

// withData returns ev with its data replaced. When the event has a single
// data line, the new data is spliced into Raw so that everything else
// (field order, comments, id, line endings) is kept; otherwise the event
// is written afresh.
func withData(ev sse.Event, data []byte) []byte {
	if string(data) == ev.Data {
		return ev.Raw
	}
	if off, ok := dataOffset(ev.Raw, ev.Data); ok {
		out := make([]byte, 0, len(ev.Raw)-len(ev.Data)+len(data))
		out = append(out, ev.Raw[:off]...)
		out = append(out, data...)
		return append(out, ev.Raw[off+len(ev.Data):]...)
	}
	return buildEvent(ev.Event, data)
}

// dataOffset returns the offset in raw of the value of its only data
// line, if it has exactly one and that value is data.
func dataOffset(raw []byte, data string) (int, bool) {
	off, n := -1, 0
	for i := 0; i < len(raw); {
		j := i
		for j < len(raw) && raw[j] != '\n' && raw[j] != '\r' {
			j++
		}
		line := raw[i:j]
		if bytes.HasPrefix(line, []byte("data")) && (len(line) == 4 || line[4] == ':') {
			n++
			v := min(len(line), 5)
			if v < len(line) && line[v] == ' ' {
				v++
			}
			if string(line[v:]) == data {
				off = i + v
			}
		}
		if j < len(raw) && raw[j] == '\r' && j+1 < len(raw) && raw[j+1] == '\n' {
			j++
		}
		i = j + 1
	}
	return off, n == 1 && off >= 0
}
