package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// The canonical encoding of a record is the byte string its hash is taken
// over. It must never change for records already written: a different
// encoding of the same record is a different hash, and every existing log
// would fail verification. It is JSON, written by hand so that every
// detail is fixed here rather than by a library:
//
//   - One object with every field of the record except hash, under the
//     keys of the record's JSON form. Every key is always present, empty
//     or zero values included. Keys are in ascending byte order, in nested
//     objects too: action, client_ip, cost_nano_usd, deployment,
//     fallbacks, key_id, kind, latency_ns, model, payload, prev_hash,
//     principal (role, team, user), provider, reason, request_id, retries,
//     route, seq, status, target, time, tokens_in, tokens_out, user_agent,
//     verdicts (each: action, class, count, type).
//   - No whitespace outside strings.
//   - Strings are UTF-8. Each byte that is not part of valid UTF-8 is
//     written as U+FFFD. '"' and '\' are escaped as \" and \\; U+0008,
//     U+0009, U+000A, U+000C and U+000D as \b, \t, \n, \f and \r; the
//     other characters below U+0020 as \u00xx with lowercase hex digits.
//     Every other character, '/', U+007F and U+2028 included, is written
//     as itself. (This is the string form of RFC 8785.)
//   - Integers (seq, status, tokens, cost, counts, latency in
//     nanoseconds) are decimal: an optional '-', no leading zeros, no
//     fraction or exponent, exact over the whole int64 range.
//   - The time is a string in RFC 3339 with up to nine fraction digits,
//     trailing zero digits and an all-zero fraction dropped, in UTC with
//     "Z" (Go's time.RFC3339Nano of the UTC time).
//   - prev_hash is a string of 64 lowercase hex digits.
//   - verdicts is an array in the record's order, [] when there are none.
//
// Only this exact form decodes (DecodeCanonical), so each record has one
// encoding and each encoding one record.

// AppendCanonical appends the canonical encoding of r to dst and returns
// the extended buffer.
func AppendCanonical(dst []byte, r *Record) []byte {
	b := append(dst, `{"action":`...)
	b = appendString(b, r.Action)
	b = append(b, `,"client_ip":`...)
	b = appendString(b, r.ClientIP)
	b = append(b, `,"cost_nano_usd":`...)
	b = strconv.AppendInt(b, r.Cost, 10)
	b = append(b, `,"deployment":`...)
	b = appendString(b, r.Deployment)
	b = append(b, `,"fallbacks":`...)
	b = strconv.AppendInt(b, int64(r.Fallbacks), 10)
	b = append(b, `,"key_id":`...)
	b = appendString(b, r.KeyID)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(r.Kind))
	b = append(b, `,"latency_ns":`...)
	b = strconv.AppendInt(b, int64(r.Latency), 10)
	b = append(b, `,"model":`...)
	b = appendString(b, r.Model)
	b = append(b, `,"payload":`...)
	b = appendString(b, r.Payload)
	b = append(b, `,"prev_hash":"`...)
	b = hex.AppendEncode(b, r.PrevHash[:])
	b = append(b, `","principal":{"role":`...)
	b = appendString(b, r.Principal.Role)
	b = append(b, `,"team":`...)
	b = appendString(b, r.Principal.Team)
	b = append(b, `,"user":`...)
	b = appendString(b, r.Principal.User)
	b = append(b, `},"provider":`...)
	b = appendString(b, r.Provider)
	b = append(b, `,"reason":`...)
	b = appendString(b, r.Reason)
	b = append(b, `,"request_id":`...)
	b = appendString(b, r.RequestID)
	b = append(b, `,"retries":`...)
	b = strconv.AppendInt(b, int64(r.Retries), 10)
	b = append(b, `,"route":`...)
	b = appendString(b, r.Route)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, r.Seq, 10)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"target":`...)
	b = appendString(b, r.Target)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","tokens_in":`...)
	b = strconv.AppendInt(b, r.TokensIn, 10)
	b = append(b, `,"tokens_out":`...)
	b = strconv.AppendInt(b, r.TokensOut, 10)
	b = append(b, `,"user_agent":`...)
	b = appendString(b, r.UserAgent)
	b = append(b, `,"verdicts":[`...)
	for i, v := range r.Verdicts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"action":`...)
		b = appendString(b, v.Action)
		b = append(b, `,"class":`...)
		b = appendString(b, v.Class)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, v.Count, 10)
		b = append(b, `,"type":`...)
		b = appendString(b, v.Type)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendString appends s as a canonical JSON string.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}

// DecodeCanonical parses a canonical encoding. It accepts only what
// AppendCanonical writes: anything else, however close, is an error.
// The record's Hash is set from b.
func DecodeCanonical(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("decode canonical audit record: %w", err)
	}
	// The hash is not part of the encoding; one given in b is extra.
	r.Hash = Hash{}
	if len(r.Verdicts) == 0 {
		r.Verdicts = nil
	}
	// encoding/json is lenient (any key order, whitespace, escapes, case
	// of keys, missing keys): the one canonical form is the one that
	// encodes back to the same bytes.
	if !bytes.Equal(AppendCanonical(make([]byte, 0, len(b)), &r), b) {
		return Record{}, errors.New("decode canonical audit record: not in canonical form")
	}
	r.Hash = sha256.Sum256(b)
	return r, nil
}

// ComputeHash returns the hash r should have: the SHA-256 of its
// canonical encoding.
func (r *Record) ComputeHash() Hash {
	var buf [1024]byte
	return sha256.Sum256(AppendCanonical(buf[:0], r))
}

// checkpointContext separates checkpoint signatures from anything else
// the key might ever sign.
const checkpointContext = "warden audit checkpoint v1\n"

// CheckpointMessage returns the bytes a checkpoint's signature is over:
// the line "warden audit checkpoint v1" and then the canonical JSON
// object {"hash":…,"seq":…,"time":…} with the same rules as a record's.
func CheckpointMessage(cp *Checkpoint) []byte {
	b := append([]byte(checkpointContext), `{"hash":"`...)
	b = hex.AppendEncode(b, cp.Hash[:])
	b = append(b, `","seq":`...)
	b = strconv.AppendInt(b, cp.Seq, 10)
	b = append(b, `,"time":"`...)
	b = cp.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// normalize puts r in the form its canonical encoding decodes to, so that
// what a store keeps reads back exactly as it was hashed: the time in UTC
// without a monotonic clock reading, strings as valid UTF-8 (as
// appendString writes them) and no empty verdict list.
func (r *Record) normalize() {
	r.Time = r.Time.Round(0).UTC()
	for _, s := range []*string{&r.RequestID, &r.Action, &r.Principal.User, &r.Principal.Team, &r.Principal.Role,
		&r.KeyID, &r.ClientIP, &r.UserAgent, &r.Route, &r.Model, &r.Provider, &r.Deployment, &r.Reason,
		&r.Target, &r.Payload} {
		*s = validUTF8(*s)
	}
	r.Kind = Kind(validUTF8(string(r.Kind)))
	if len(r.Verdicts) == 0 {
		r.Verdicts = nil
		return
	}
	vs := make([]Verdict, len(r.Verdicts))
	for i, v := range r.Verdicts {
		vs[i] = Verdict{Class: validUTF8(v.Class), Type: validUTF8(v.Type), Action: validUTF8(v.Action), Count: v.Count}
	}
	r.Verdicts = vs
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, as appendString does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}
