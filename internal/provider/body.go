package provider

import (
	"bytes"
	"encoding/json"
	"github.com/wardenproject/warden/internal/jsonscan"
	"unicode/utf8"

	"github.com/wardenproject/warden/internal/apperr"
)

// Request bodies are rewritten by splicing: the top-level members of the
// JSON object are located by offset, and only the values that must change
// are replaced. Every other byte, whitespace and key order included, goes
// upstream as the caller sent it. Decoding into a map and encoding it again
// would reorder keys, compact whitespace, escape HTML characters and, with
// interface{} values, round big integers through float64.

// span is a half-open range of offsets into a document.
type span struct{ start, end int }

// member is one member of a JSON object: its key, quotes included, and its
// value.
type member struct{ key, val span }

// object is the layout of one JSON object.
type object struct {
	open, close int // offsets of '{' and '}'
	members     []member
}

// edit replaces doc[start:end] with text; an insertion has start == end.
type edit struct {
	start, end int
	text       []byte
}

// The body errors are made afresh each time: an *apperr.Error is mutable,
// and a shared one could be changed by a caller.
func errBodyNotJSON() error {
	return apperr.New(apperr.Invalid, "the request body is not valid JSON")
}

func errBodyNotObject() error {
	return apperr.New(apperr.Invalid, "the request body must be a JSON object")
}

func errStreamOptions() error {
	return &apperr.Error{Code: apperr.Invalid, Message: "stream_options must be an object or null", Param: "stream_options"}
}

var (
	includeUsageTrue = []byte(`{"include_usage":true}`)
	jsonTrue         = []byte(`true`)
)

// rewriteBody returns body with every top-level "model" value set to model
// (unless model is empty) and, if includeUsage, stream_options.include_usage
// set to true, keeping the caller's other stream options. When the object
// has no "model" member, one is added only if insertModel. A body that
// needs no change is returned as is, even if it is not JSON; one that does
// must be a JSON object. valid says body is known to be valid JSON; the
// edits rely on it, so it is checked here otherwise.
func rewriteBody(body []byte, model string, insertModel, includeUsage, valid bool) ([]byte, error) {
	if model == "" && !includeUsage {
		return body, nil
	}
	if !valid && !json.Valid(body) {
		return nil, errBodyNotJSON()
	}
	obj, ok := parseObject(body, jsonscan.SkipSpace(body, 0))
	if !ok {
		return nil, errBodyNotObject()
	}
	var buf [4]edit
	edits := buf[:0]
	var quoted []byte
	if model != "" {
		quoted = appendJSONString(make([]byte, 0, len(model)+2), model)
	}
	sawModel, sawOptions := false, false
	for _, m := range obj.members {
		switch {
		case model != "" && keyIs(body, m.key, "model"):
			// Every occurrence: parsers differ on which duplicate wins, and
			// the caller must not smuggle a second model past the routing.
			sawModel = true
			edits = append(edits, edit{m.val.start, m.val.end, quoted})
		case includeUsage && keyIs(body, m.key, "stream_options"):
			sawOptions = true
			var err error
			if edits, err = setIncludeUsage(body, m.val, edits); err != nil {
				return nil, err
			}
		}
	}
	n := len(obj.members)
	if model != "" && !sawModel && insertModel {
		edits = append(edits, edit{obj.close, obj.close, insertion(n > 0, "model", quoted)})
		n++
	}
	if includeUsage && !sawOptions {
		edits = append(edits, edit{obj.close, obj.close, insertion(n > 0, "stream_options", includeUsageTrue)})
	}
	return applyEdits(body, edits), nil
}

// setIncludeUsage adds the edits that make the stream_options value at v
// carry "include_usage": true.
func setIncludeUsage(doc []byte, v span, edits []edit) ([]edit, error) {
	if string(doc[v.start:v.end]) == "null" {
		return append(edits, edit{v.start, v.end, includeUsageTrue}), nil
	}
	opts, ok := parseObject(doc, v.start)
	if !ok {
		return nil, errStreamOptions()
	}
	found := false
	for _, m := range opts.members {
		if keyIs(doc, m.key, "include_usage") {
			found = true
			edits = append(edits, edit{m.val.start, m.val.end, jsonTrue})
		}
	}
	if !found {
		edits = append(edits, edit{opts.close, opts.close, insertion(len(opts.members) > 0, "include_usage", jsonTrue)})
	}
	return edits, nil
}

// insertion is the text of a new member, with a leading comma when it
// follows other members.
func insertion(comma bool, key string, val []byte) []byte {
	b := make([]byte, 0, len(key)+len(val)+4)
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return append(b, val...)
}

// applyEdits returns doc with edits applied. Edits are in document order
// and do not overlap.
func applyEdits(doc []byte, edits []edit) []byte {
	size := len(doc)
	for _, e := range edits {
		size += len(e.text) - (e.end - e.start)
	}
	out := make([]byte, 0, size)
	at := 0
	for _, e := range edits {
		out = append(out, doc[at:e.start]...)
		out = append(out, e.text...)
		at = e.end
	}
	return append(out, doc[at:]...)
}

// parseObject lays out the object whose '{' is at doc[i]. doc must be valid
// JSON; ok is false if the value at i is not an object.
func parseObject(doc []byte, i int) (obj object, ok bool) {
	if i >= len(doc) || doc[i] != '{' {
		return object{}, false
	}
	obj.open = i
	i = jsonscan.SkipSpace(doc, i+1)
	if doc[i] == '}' {
		obj.close = i
		return obj, true
	}
	for {
		var m member
		m.key = span{i, jsonscan.SkipString(doc, i)}
		i = jsonscan.SkipSpace(doc, m.key.end)
		i = jsonscan.SkipSpace(doc, i+1) // the colon
		m.val = span{i, jsonscan.SkipValue(doc, i)}
		obj.members = append(obj.members, m)
		i = jsonscan.SkipSpace(doc, m.val.end)
		if doc[i] == '}' {
			obj.close = i
			return obj, true
		}
		i = jsonscan.SkipSpace(doc, i+1) // the comma
	}
}

// keyIs reports whether the key at k (quotes included) is name, decoding
// escapes, so that "mod\u0065l" is recognised as model.
func keyIs(doc []byte, k span, name string) bool {
	raw := doc[k.start+1 : k.end-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	var s string
	if err := json.Unmarshal(doc[k.start:k.end], &s); err != nil {
		return false
	}
	return s == name
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does; HTML characters are left alone.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < ' ':
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
