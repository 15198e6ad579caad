// Package dotenv reads .env files for `warden secrets import`.
//
// The accepted syntax is exactly what python-dotenv 1.x accepts, and the
// values are the ones its dotenv_values(path) returns (interpolate=True,
// override=True): a team moving its keys out of a Python project's .env file
// must get the very strings its program was running with, quirks included.
// In short:
//
//	# a comment line; blank lines are ignored
//	export KEY=value            # "export " is optional
//	KEY = value  # comment      # unquoted: the rest of the line, trailing
//	                            # spaces dropped, " #" starts a comment
//	KEY=a#b                     # '#' not preceded by a space is kept: "a#b"
//	KEY='literal ${X} \n'       # single quotes: only \\ and \' are decoded
//	KEY="tab\there ${X}"        # double quotes: \\ \' \" \a \b \f \n \r \t \v
//	KEY="spans
//	two lines"                  # quoted values may span lines
//	KEY=${OTHER:-default}       # expansion: ${NAME} and ${NAME:-default} only
//	'quoted key'=value          # keys may be single-quoted
//	KEY                         # no '=': a key without a value (HasValue false)
//
// The points where this package knowingly differs from python-dotenv are
// listed on [Parse].
package dotenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

const (
	// MaxInputSize is the largest input Parse accepts, in bytes. A .env file
	// holds a few dozen assignments; anything near this size is the wrong
	// file or an attempt to exhaust memory.
	MaxInputSize = 4 << 20

	// MaxLines is the largest number of lines Parse accepts, for the same
	// reason as MaxInputSize.
	MaxLines = 100_000

	// maxExpandedSize bounds the total size of all values after ${...}
	// expansion. Expansion can grow a small file without limit: each line of
	// A2=${A1}${A1}, A3=${A2}${A2}, ... doubles the previous value.
	maxExpandedSize = 4 * MaxInputSize
)

// ErrTooLarge is wrapped by the error Parse returns when the input exceeds
// MaxInputSize or MaxLines, or when ${...} expansion makes the values
// unreasonably large.
var ErrTooLarge = errors.New("dotenv: input too large")

// Entry is one assignment, in file order.
type Entry struct {
	// Key is the variable name. It is never empty, but python-dotenv accepts
	// almost anything as a key ('my key' in single quotes may even contain
	// spaces or line breaks), so callers that need a conventional name must
	// validate it themselves.
	Key string
	// Value is the value after escape decoding and ${...} expansion. It is
	// empty when HasValue is false.
	Value string
	// Line is the 1-based line where the statement starts: the line of its
	// key, or of its "export" prefix.
	Line int
	// HasValue is false for a bare `KEY` line with no '=' (python-dotenv
	// gives None). `KEY=` has a value, the empty string.
	HasValue bool
}

// SyntaxError reports a statement python-dotenv could not parse (it logs a
// warning and skips such a statement). Its message never includes any part
// of the value, because values are secrets.
type SyntaxError struct {
	// Line is the 1-based line where the statement starts.
	Line int
	// Key is the statement's key if the statement got as far as its '='.
	// It is "" otherwise, as for a line without '=' that is not a bare key:
	// after an unterminated quote python-dotenv reads the next line as a
	// new statement, so such a line may be part of a secret.
	Key string
	// Msg says what is wrong and how to fix it. It is one of a fixed set of
	// texts and never quotes the input.
	Msg string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("dotenv: line %d: %q: %s", e.Line, e.Key, e.Msg)
	}
	return fmt.Sprintf("dotenv: line %d: %s", e.Line, e.Msg)
}

// Parse reads a dotenv file. lookup resolves ${VAR} expansion from outside
// the file (pass os.LookupEnv, or nil for nothing from outside).
//
// Expansion follows python-dotenv's dotenv_values (interpolate=True,
// override=True): a value assigned on an earlier line of the file wins over
// lookup, a later assignment is not visible to an earlier line, and a name
// found nowhere expands to its default or to "".
//
// Duplicate keys: all entries are returned in file order; use [Last] for
// the assignments that win.
//
// Every statement python-dotenv would skip with a warning becomes a
// *SyntaxError. Parse reads the whole input, then returns the entries it
// could parse together with all those errors joined by errors.Join, so the
// caller can refuse the import and name every bad line. Input that is not
// UTF-8 (python-dotenv raises UnicodeDecodeError) yields a single
// *SyntaxError and no entries. An input over MaxInputSize bytes or MaxLines
// lines, or whose values grow too large through expansion, yields an error
// wrapping ErrTooLarge and no entries.
//
// Known differences from python-dotenv:
//   - A UTF-8 byte order mark at the start is skipped. python-dotenv keeps
//     it as part of the first key (it opens files as "utf-8", not
//     "utf-8-sig"), which only ever produces an unusable key.
//   - SyntaxError.Line is the line of the statement's first character;
//     python-dotenv's warning names the line where the blank lines before
//     the statement begin.
func Parse(r io.Reader, lookup func(string) (string, bool)) ([]Entry, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInputSize+1))
	if err != nil {
		return nil, fmt.Errorf("dotenv: reading input: %w", err)
	}
	if len(data) > MaxInputSize {
		return nil, fmt.Errorf("%w: more than %d MiB; a .env file holds only KEY=VALUE lines, check that this is the right file",
			ErrTooLarge, MaxInputSize>>20)
	}
	text, err := prepare(data)
	if err != nil {
		return nil, err
	}
	stmts, errs := parseStatements(text)
	entries, err := expandAll(stmts, lookup)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	return entries, errors.Join(errs...)
}

// prepare turns the raw file into the text python-dotenv's parser sees.
func prepare(data []byte) (string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	// python-dotenv opens the file in text mode, whose universal newlines
	// turn "\r\n" and a lone "\r" into "\n" before parsing. That matters
	// beyond line counting: a quoted value spanning CRLF lines holds "\n".
	// Both bytes are ASCII and never occur inside a multi-byte UTF-8
	// sequence, so this is safe before validation.
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	if !utf8.Valid(data) {
		bad := 0
		for bad < len(data) {
			r, size := utf8.DecodeRune(data[bad:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			bad += size
		}
		return "", errors.Join(&SyntaxError{
			Line: 1 + bytes.Count(data[:bad], []byte("\n")),
			Msg:  msgNotUTF8,
		})
	}
	lines := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		lines++
	}
	if lines > MaxLines {
		return "", fmt.Errorf("%w: more than %d lines; a .env file holds only KEY=VALUE lines, check that this is the right file",
			ErrTooLarge, MaxLines)
	}
	return string(data), nil
}

// Last keeps the last assignment of each key, in the order the keys were
// first seen. That is the mapping python-dotenv's dotenv_values returns: a
// later assignment replaces the value but the key keeps its first place.
func Last(entries []Entry) []Entry {
	index := make(map[string]int, len(entries))
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		if i, ok := index[e.Key]; ok {
			out[i] = e
			continue
		}
		index[e.Key] = len(out)
		out = append(out, e)
	}
	return out
}
