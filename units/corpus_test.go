package units

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusDir is where scripts/fetch-units-corpus leaves the unit files of
// the Debian packages in scripts/units-corpus.txt.
func corpusDir(tb testing.TB) string {
	cache := os.Getenv("SYSMASTER_CACHE")
	if cache == "" {
		cache = "../.cache"
	}
	dir := filepath.Join(cache, "units-corpus")
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("no corpus at %s: run scripts/fetch-units-corpus", dir)
	}
	return dir
}

// corpusResult is what converting the corpus gave.
type corpusResult struct {
	files, clean, failed int
	packages             map[string]bool
	dropped              map[string]int // "Section.Key" -> files that lost it
	errors               []string
}

func convertCorpus(tb testing.TB, dir string) corpusResult {
	r := corpusResult{packages: map[string]bool{}, dropped: map[string]int{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		kind := filepath.Ext(name)
		if d.IsDir() || !oneOf(kind, ".service", ".socket", ".timer", ".mount", ".target", ".path") {
			return nil
		}
		// Links are aliases or .wants entries of a unit counted already.
		if d.Type()&fs.ModeSymlink != 0 || strings.HasSuffix(filepath.Dir(path), ".wants") {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		r.packages[strings.SplitN(rel, string(filepath.Separator), 2)[0]] = true
		r.files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		res, err := Convert(path, data)
		if err != nil {
			r.failed++
			r.errors = append(r.errors, fmt.Sprintf("%s: %v", rel, err))
			return nil
		}
		if _, err := Parse(name+".toml", res.TOML); err != nil {
			r.failed++
			r.errors = append(r.errors, fmt.Sprintf("%s: converted unit does not load: %v", rel, err))
			return nil
		}
		lost := false
		seen := map[string]bool{}
		for _, d := range res.Dropped {
			if d.Harmless {
				continue
			}
			lost = true
			if !seen[d.Key] {
				seen[d.Key] = true
				r.dropped[d.Key]++
			}
		}
		if !lost {
			r.clean++
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestConvertCorpus converts every unit file of the corpus: none may make
// the converter fail on its own output.
func TestConvertCorpus(t *testing.T) {
	r := convertCorpus(t, corpusDir(t))
	for _, e := range r.errors {
		if strings.Contains(e, "does not load") {
			t.Error(e)
		}
	}
}

// BenchmarkConvertCorpus reports the share of the corpus's unit files that
// convert and load with no directive dropped that changes behaviour, and
// the directives most often in the way.
func BenchmarkConvertCorpus(b *testing.B) {
	dir := corpusDir(b)
	var r corpusResult
	for i := 0; i < b.N; i++ {
		r = convertCorpus(b, dir)
	}
	pct := 100 * float64(r.clean) / float64(r.files)
	b.ReportMetric(pct, "%clean")
	b.ReportMetric(float64(r.files), "files")
	var keys []string
	for k := range r.dropped {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if r.dropped[keys[i]] != r.dropped[keys[j]] {
			return r.dropped[keys[i]] > r.dropped[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var top strings.Builder
	for i, k := range keys {
		if i == 15 {
			break
		}
		fmt.Fprintf(&top, "\n  %-40s %d files", k, r.dropped[k])
	}
	b.Logf("corpus: %d unit files of %d packages; %d (%.1f %%) convert and load with nothing lost, %d fail to convert\nmost common remaining directives:%s",
		r.files, len(r.packages), r.clean, pct, r.failed, top.String())
	for _, e := range r.errors {
		b.Log(e)
	}
}
