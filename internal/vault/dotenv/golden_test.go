package dotenv

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output of Parse")

// goldenLookup is the outside environment every golden file is parsed with.
var goldenLookup = map[string]string{
	"HOME":         "/home/ada",
	"REGION":       "eu-west-1",
	"EMPTY":        "",
	"SHADOWED":     "from outside",
	"OUTSIDE_ONLY": "from outside",
}

type goldenEntry struct {
	Line     int     `json:"line"`
	Key      string  `json:"key"`
	Value    *string `json:"value"` // null for a bare key, as python-dotenv's None
	HasValue bool    `json:"has_value"`
}

type goldenError struct {
	Line int    `json:"line"`
	Key  string `json:"key,omitempty"`
	Msg  string `json:"msg"`
}

type goldenResult struct {
	Entries []goldenEntry `json:"entries"`
	Last    []goldenEntry `json:"last"`
	Errors  []goldenError `json:"errors"`
}

func toGolden(es []Entry) []goldenEntry {
	out := []goldenEntry{}
	for _, e := range es {
		g := goldenEntry{Line: e.Line, Key: e.Key, HasValue: e.HasValue}
		if e.HasValue {
			v := e.Value
			g.Value = &v
		}
		out = append(out, g)
	}
	return out
}

// TestGolden parses every testdata/*.env file and compares the entries,
// Last and the errors with testdata/*.golden. Run
// `go test -run TestGolden -update` to rewrite the golden files after a
// deliberate change, and review the diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.env"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.env files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			entries, perr := Parse(f, mapLookup(goldenLookup))
			res := goldenResult{Entries: toGolden(entries), Last: toGolden(Last(entries)), Errors: []goldenError{}}
			for _, se := range syntaxErrors(t, perr) {
				res.Errors = append(res.Errors, goldenError{Line: se.Line, Key: se.Key, Msg: se.Msg})
			}
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')

			golden := strings.TrimSuffix(file, ".env") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s; if the change is intended, run go test -run TestGolden -update and review the diff\n got:\n%s", file, golden, got)
			}
		})
	}
}
