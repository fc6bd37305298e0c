package config

import (
	"fmt"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
)

// benchYAMLDocument is benchDocument's content written as block YAML of
// about size bytes (bench/'s BenchmarkYAMLDecoders decodes the same).
func benchYAMLDocument(size, v int) []byte {
	out := fmt.Appendf(nil, "version: %d\nitems:\n", v)
	for i := 0; len(out) < size-16; i++ {
		out = fmt.Appendf(out, "  - id: %d\n    name: item-%08d\n    weight: %d.5\n", i, i, i%100)
	}
	return fmt.Appendf(out, "tail: %d\n", v)
}

// BenchmarkDecodeYAMLPhases times each phase of decodeYAML on the
// benchmark document, and reports it as phase-ns/op beside the whole
// (checksource: UTF-8 alone before yamlPlain, with the nesting scan before
// go-yaml): through yamlPlain, which decodeYAML takes for it (plain), and through
// go-yaml, which it takes for documents outside yamlPlain's subset, with
// the value tree and positions in one walk (yamlTree, onewalk) or through
// NodeToValue, yamlPositions and normalize (yamlTreeGeneral, nodetovalue).
func BenchmarkDecodeYAMLPhases(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"1KB", 1 << 10}, {"100KB", 100 << 10}, {"1MB", 1 << 20}} {
		for _, path := range []string{"plain", "nodetovalue", "onewalk"} {
			b.Run(size.name+"/"+path, func(b *testing.B) {
				benchYAMLPhases(b, benchYAMLDocument(size.bytes, 2), path)
			})
		}
	}
}

func benchYAMLPhases(b *testing.B, src []byte, path string) {
	names := []string{"checksource", "tokenize", "blockcheck", "parse", "aliascheck", "onewalk", "nodetovalue", "positions", "normalize", "plain"}
	spent := make([]time.Duration, len(names))
	lap := func(i int, since time.Time) time.Time {
		now := time.Now()
		spent[i] += now.Sub(since)
		return now
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		t := time.Now()
		if path == "plain" { // Decode's UTF-8 check; no nesting scan
			if !utf8.Valid(src) {
				b.Fatal("not UTF-8")
			}
			t = lap(0, t)
			if _, ok := decodePlainYAML(string(src)); !ok {
				b.Fatal("left to go-yaml")
			}
			lap(9, t)
			continue
		}
		if err := checkSource("b.yaml", src, YAML); err != nil {
			b.Fatal(err)
		}
		t = lap(0, t)
		toks := lexer.Tokenize(string(src))
		t = lap(1, t)
		if err := checkBlockMappings("b.yaml", toks); err != nil {
			b.Fatal(err)
		}
		t = lap(2, t)
		f, err := parser.Parse(toks, 0)
		if err != nil {
			b.Fatal(err)
		}
		t = lap(3, t)
		body := f.Docs[0].Body
		if err := checkAliases("b.yaml", body); err != nil {
			b.Fatal(err)
		}
		t = lap(4, t)
		if path == "onewalk" {
			if _, _, err := yamlTree("b.yaml", body, len(toks)/2); err != nil {
				b.Fatal(err)
			}
			lap(5, t)
			continue
		}
		var raw any
		if err := yaml.NodeToValue(body, &raw); err != nil {
			b.Fatal(err)
		}
		t = lap(6, t)
		yamlPositions("b.yaml", body, "", Position{}, Positions{})
		t = lap(7, t)
		if _, _, err := normalize(raw, ""); err != nil {
			b.Fatal(err)
		}
		lap(8, t)
	}
	for i, name := range names {
		if spent[i] > 0 {
			b.ReportMetric(float64(spent[i].Nanoseconds())/float64(b.N), name+"-ns/op")
		}
	}
}
