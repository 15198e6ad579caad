package dotenv

import (
	"fmt"
	"strings"
)

// expandAll turns statements into entries, expanding ${...} in every value
// in file order, as python-dotenv's resolve_variables does with
// override=True.
//
// The quoting of a value plays no part: python-dotenv's parser hands over
// plain strings, so '${X}' in single quotes is expanded like "${X}" and
// ${X}. That surprises people used to shells, but the goal here is the
// values a Python program using dotenv_values sees.
func expandAll(stmts []statement, lookup func(string) (string, bool)) ([]Entry, error) {
	// defined holds what earlier statements assigned. A bare KEY is stored
	// as "": python-dotenv stores None, which hides the outside value and
	// the default alike (env.get(name, default) finds None, and None turns
	// into "").
	defined := make(map[string]string, len(stmts))
	resolve := func(name string) (string, bool) {
		if v, ok := defined[name]; ok {
			return v, true
		}
		if lookup != nil {
			return lookup(name)
		}
		return "", false
	}
	budget := maxExpandedSize
	entries := make([]Entry, 0, len(stmts))
	for _, st := range stmts {
		e := Entry{Key: st.key, Line: st.line, HasValue: st.hasValue}
		if st.hasValue {
			v, ok := expand(st.value, resolve, budget)
			if !ok {
				return nil, fmt.Errorf("dotenv: line %d: %q: values exceed %d MiB in total after ${...} expansion; look for a variable referenced many times: %w",
					st.line, st.key, maxExpandedSize>>20, ErrTooLarge)
			}
			budget -= len(v)
			e.Value = v
		}
		defined[st.key] = e.Value
		entries = append(entries, e)
	}
	return entries, nil
}

// expand replaces every match of python-dotenv's _posix_variable,
// \$\{(?P<name>[^\}:]*)(?::-(?P<default>[^\}]*))?\}, scanning left to right
// without overlap as re.finditer does. The name may be empty or contain
// anything but '}' and ':'; "${A:B}" does not match and stays literal, and
// "$A" is never a reference. A name that resolve does not know takes its
// default, or "" without one. Results are not expanded again.
//
// It returns false if the result would exceed limit bytes.
func expand(v string, resolve func(string) (string, bool), limit int) (string, bool) {
	if !strings.Contains(v, "${") {
		return v, len(v) <= limit
	}
	var b strings.Builder
	// The scans for the closing characters are cached so that a value like
	// "${${${${..." with no '}' costs linear rather than quadratic time.
	nameEnd := finder{s: v, chars: "}:"}
	closer := finder{s: v, chars: "}"}
	emit := func(s string) bool {
		if b.Len()+len(s) > limit {
			return false
		}
		b.WriteString(s)
		return true
	}
	lit := 0 // start of the literal text not yet written
	for from := 0; ; {
		n := strings.Index(v[from:], "${")
		if n < 0 {
			break
		}
		start := from + n
		from = start + 1 // where finditer looks next if this is no match
		stop := nameEnd.next(start + 2)
		if stop == len(v) {
			continue
		}
		name := v[start+2 : stop]
		var def string
		end := stop + 1
		if v[stop] == ':' {
			if !strings.HasPrefix(v[stop:], ":-") {
				continue
			}
			c := closer.next(stop + 2)
			if c == len(v) {
				continue
			}
			def = v[stop+2 : c]
			end = c + 1
		}
		val, ok := resolve(name)
		if !ok {
			val = def
		}
		if !emit(v[lit:start]) || !emit(val) {
			return "", false
		}
		lit, from = end, end
	}
	if !emit(v[lit:]) {
		return "", false
	}
	return b.String(), true
}

// finder finds the first of a set of bytes at or after an offset, and
// remembers the answer for later calls with a larger offset.
type finder struct {
	s, chars string
	from, at int // s[from:at] holds none of chars; at is a hit or len(s)
	valid    bool
}

func (f *finder) next(from int) int {
	if f.valid && from >= f.from && from <= f.at {
		return f.at
	}
	f.from, f.at, f.valid = from, len(f.s), true
	if i := strings.IndexAny(f.s[from:], f.chars); i >= 0 {
		f.at = from + i
	}
	return f.at
}
