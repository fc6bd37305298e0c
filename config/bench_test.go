package config

import (
	"context"
	"fmt"
	"testing"

	"github.com/cybercorp/hotreload"
)

// benchItem and benchConfig are the shape of bench/'s reload benchmark.
type benchItem struct {
	ID     int     `json:"id"`
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
}

type benchConfig struct {
	Version int         `json:"version"`
	Items   []benchItem `json:"items"`
	Tail    int         `json:"tail"`
}

const benchSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["version", "items", "tail"],
  "properties": {
    "version": {"type": "integer", "minimum": 1},
    "tail": {"type": "integer", "minimum": 1},
    "items": {"type": "array", "items": {
      "type": "object",
      "required": ["id", "name", "weight"],
      "properties": {
        "id": {"type": "integer", "minimum": 0},
        "name": {"type": "string", "minLength": 1},
        "weight": {"type": "number"}
      }
    }}
  }
}`

// benchDocument returns a JSON document of about size bytes, version v.
func benchDocument(size, v int) []byte {
	out := fmt.Appendf(nil, `{"version":%d,"items":[`, v)
	for i := 0; len(out) < size-16; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		out = fmt.Appendf(out, `{"id":%d,"name":"item-%08d","weight":%d.5}`, i, i, i%100)
	}
	return fmt.Appendf(out, `],"tail":%d}`, v)
}

// BenchmarkPrepare measures a config target's Prepare (decode, schema,
// typed decode, diff, snapshot) of a candidate that changes two values of
// the live document.
func BenchmarkPrepare(b *testing.B) { benchPrepare(b, true) }

// BenchmarkFirstPrepare measures Prepare with nothing live, as at start:
// the schema validates the whole document, as it does a candidate that
// changes every value.
func BenchmarkFirstPrepare(b *testing.B) { benchPrepare(b, false) }

func benchPrepare(b *testing.B, live bool) {
	schema, err := CompileSchema("bench.json", []byte(benchSchema))
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []struct {
		name  string
		bytes int
	}{{"1KB", 1 << 10}, {"100KB", 100 << 10}, {"1MB", 1 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			target, err := NewTarget(Options[benchConfig]{Name: "bench", Files: []string{"bench.json"}, Schema: schema})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if live {
				ch, err := target.Prepare(ctx, hotreload.Candidate{Content: benchDocument(size.bytes, 1)})
				if err != nil {
					b.Fatal(err)
				}
				if err := ch.Apply(ctx); err != nil {
					b.Fatal(err)
				}
			}
			next := benchDocument(size.bytes, 2)
			b.SetBytes(int64(len(next)))
			b.ReportAllocs()
			for b.Loop() {
				ch, err := target.Prepare(ctx, hotreload.Candidate{Content: next})
				if err != nil {
					b.Fatal(err)
				}
				ch.Rollback(ctx)
			}
		})
	}
}
