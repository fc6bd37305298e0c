package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cybercorp/hotreload/config"
)

// The YAML decoders of issue 15, side by side: each decodes the same
// document with the line and column of every key and value.

// yamlBenchDocument is config's benchmark document (a version, items
// {id, name, weight}, a tail) written as block YAML of about size bytes.
func yamlBenchDocument(size, v int) []byte { return yamlItemsDocument(size, v, "") }

// yamlItemsDocument is yamlBenchDocument with extra, a line, after each
// item's fields.
func yamlItemsDocument(size, v int, extra string) []byte {
	out := fmt.Appendf(nil, "version: %d\nitems:\n", v)
	for i := 0; len(out) < size-16; i++ {
		out = fmt.Appendf(out, "  - id: %d\n    name: item-%08d\n    weight: %d.5\n%s", i, i, i%100, extra)
	}
	return fmt.Appendf(out, "tail: %d\n", v)
}

// mergedJSON is the members yamlMergeDocument's merge key adds to each
// item, as JSON.
const mergedJSON = `,"region":"eu-west-1","replicas":3,"enabled":true,"tier":"web"`

// yamlMergeDocument is yamlBenchDocument, of about size bytes, whose items
// each merge a defaults mapping (docker-compose style): "defaults: &d",
// its keys, and "<<: *d" in each item.
func yamlMergeDocument(size int) []byte {
	const defaults = "defaults: &d\n  region: eu-west-1\n  replicas: 3\n  enabled: true\n  tier: web\n"
	doc := yamlItemsDocument(size-len(defaults), 2, "    <<: *d\n")
	return bytes.Replace(doc, []byte("items:\n"), []byte(defaults+"items:\n"), 1)
}

// jsonBenchDocument is the same content as JSON of about size bytes.
func jsonBenchDocument(size, v int) []byte { return jsonItemsDocument(size, v, "") }

// jsonItemsDocument is jsonBenchDocument with extra, members, after each
// item's fields.
func jsonItemsDocument(size, v int, extra string) []byte {
	out := fmt.Appendf(nil, `{"version":%d,"items":[`, v)
	for i := 0; len(out) < size-16; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		out = fmt.Appendf(out, `{"id":%d,"name":"item-%08d","weight":%d.5%s}`, i, i, i%100, extra)
	}
	return fmt.Appendf(out, `],"tail":%d}`, v)
}

// BenchmarkYAMLDecoders decodes the document at 1 KB, 100 KB and 1 MB
// through each candidate: config.Decode of JSON (the reference);
// config.Decode of YAML (goccy: config's own reader of the common subset,
// positions left to goccy/go-yaml until asked for), the same and its
// positions (goccy-positions: what a document costs whose error is
// reported), the same after a %TAG directive (goccy-directive), with lines
// that end with "\r\n" (goccy-crlf), and with a tab after its first key's
// ':' (goccy-fallback: "version:\t2", which config's reader leaves to
// goccy/go-yaml: the path of any YAML outside the subset);
// go.yaml.in/yaml/v3's Node converted to a value tree and positions, and
// the parse into a yaml.Node alone (yamlv3-node: not a decoder, the floor
// of any decoder built on it). json-tags and goccy-tags are config.Decode
// of the document whose items each hold tags, a one-line flow sequence
// [a, b, c] in the YAML; json-text and goccy-text, of the one whose items
// each hold text, a literal block scalar of two lines in the YAML;
// json-merge and goccy-merge, of the one whose items each hold the keys of
// a defaults mapping, merged by "<<: *d" in the YAML (which holds the
// mapping, "defaults: &d", before the items), written out in the JSON;
// json-ports and goccy-ports, of the one whose items each hold ports, a
// flow sequence over four lines with a trailing ',' in the YAML; json-str
// and goccy-str, of the one whose items each hold a version string,
// tagged "version: !!str 1.5" in the YAML; json-keep and goccy-keep, of the
// one whose items each hold a script, a literal block scalar of two lines
// and an empty line kept by keep chomping ("script: |+") in the YAML;
// json-esc and goccy-esc, of the one whose items each hold a label with
// escapes ("caf\xe9 \u2014 \U0001F600" in the YAML); json-ref and
// goccy-ref, of the one whose items each hold a password, under a local
// tag in the YAML ("password: !vault db/pass"), which go-yaml ignores;
// json-wrap and goccy-wrap, of the one whose items each hold a
// description, a plain scalar over two lines in the YAML; json-verbatim
// and goccy-verbatim, of the one whose items each hold a kind, under a
// verbatim tag in the YAML ("kind: !<tag:yaml.org,2002:str> db"), which
// go-yaml ignores too; json-tab and goccy-tab, of the one whose items each
// hold a unit, followed by tabs and a comment in the YAML ("unit: kg\t\t#
// the SI unit"); json-status and goccy-status, of the one whose items each
// hold a mapping keyed by numbers ("200: ok", as OpenAPI's responses);
// json-explicit and goccy-explicit, of the one whose items each hold a
// region under an explicit key ("? region" over ": eu"); json-below and
// goccy-below, of the one whose items each hold a help text on the line
// below its key; json-expr and goccy-expr, of the one whose items each hold
// an expression whose second line starts with '>'. goccy-roottag is goccy
// after a local tag on the document's mapping ("!config" on a line of its
// own); goccy-json is config.Decode of the JSON document read as YAML,
// as a JSON file saved with a .yaml name is; json-indent and goccy-indent,
// of the JSON document indented with tabs, as JSON and as YAML.
func BenchmarkYAMLDecoders(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"1KB", 1 << 10}, {"100KB", 100 << 10}, {"1MB", 1 << 20}} {
		js, ys := jsonBenchDocument(size.bytes, 2), yamlBenchDocument(size.bytes, 2)
		directed := append([]byte("%TAG !e! tag:example.com,2000:\n---\n"), ys...)
		crlf := bytes.ReplaceAll(ys, []byte("\n"), []byte("\r\n"))
		tabbed := bytes.Replace(ys, []byte("version: "), []byte("version:\t"), 1)
		rootTagged := append([]byte("!config\n"), ys...)
		var indented bytes.Buffer
		if err := json.Indent(&indented, js, "", "\t"); err != nil {
			b.Fatal(err)
		}
		decodeJSON := func(src []byte) (decoded, error) { return configDecode("bench.json", src, config.JSON) }
		decodeYAML := func(src []byte) (decoded, error) { return configDecode("bench.yaml", src, config.YAML) }
		want := jsonDocument(b, js)
		// The YAML of merge keys holds more items than the JSON of its
		// size: its items are checked against a longer JSON.
		wantMerge := jsonDocument(b, jsonItemsDocument(2*size.bytes, 2, mergedJSON))
		type subject struct {
			name   string
			src    []byte
			decode func([]byte) (decoded, error)
			want   *config.Document // what a YAML subject must read; nil: not checked
		}
		subjects := []subject{
			{"json", js, decodeJSON, nil},
			{"goccy", ys, decodeYAML, &want},
			{"goccy-positions", ys, func(src []byte) (decoded, error) {
				d, err := configDecode("bench.yaml", src, config.YAML)
				d.positions()
				return d, err
			}, &want},
			{"goccy-directive", directed, decodeYAML, &want},
			{"goccy-crlf", crlf, decodeYAML, &want},
			{"goccy-fallback", tabbed, decodeYAML, &want},
			{"goccy-roottag", rootTagged, decodeYAML, &want},
			{"goccy-json", js, decodeYAML, &want},
			{"json-indent", indented.Bytes(), decodeJSON, nil},
			{"goccy-indent", indented.Bytes(), decodeYAML, &want},
			{"json-merge", jsonItemsDocument(size.bytes, 2, mergedJSON), decodeJSON, nil},
			{"goccy-merge", yamlMergeDocument(size.bytes), decodeYAML, &wantMerge},
			{"yamlv3", ys, func(src []byte) (decoded, error) { return decodeYAMLv3("bench.yaml", src) }, &want},
			{"yamlv3-node", ys, func(src []byte) (decoded, error) {
				var n yaml.Node
				return decoded{}, yaml.Unmarshal(src, &n)
			}, nil},
		}
		// Each item with one more field, as JSON (json-X) and as the YAML
		// under test (goccy-X, checked against json-X).
		for _, v := range []struct{ name, json, yaml string }{
			{"tags", `,"tags":["a","b","c"]`, "    tags: [a, b, c]\n"},
			{"text", `,"text":"first line of text\nsecond line\n"`, "    text: |\n      first line of text\n      second line\n"},
			{"ports", `,"ports":[80,443]`, "    ports: [\n      80,\n      443,\n    ]\n"},
			{"str", `,"version":"1.5"`, "    version: !!str 1.5\n"},
			{"keep", `,"script":"set -e\nmake test\n\n"`, "    script: |+\n      set -e\n      make test\n\n"},
			{"esc", `,"label":"caf\u00e9 \u2014 \ud83d\ude00"`, "    label: \"caf\\xe9 \\u2014 \\U0001F600\"\n"},
			{"ref", `,"password":"db/pass"`, "    password: !vault db/pass\n"},
			{"verbatim", `,"kind":"db"`, "    kind: !<tag:yaml.org,2002:str> db\n"},
			{"tab", `,"unit":"kg"`, "    unit: kg\t\t# the SI unit\n"},
			{"status", `,"status":{"200":"ok","404":"missing"}`, "    status:\n      200: ok\n      404: missing\n"},
			{"explicit", `,"region":"eu"`, "    ? region\n    : eu\n"},
			{"below", `,"help":"the text of the item's help"`, "    help:\n      the text of the item's help\n"},
			{"expr", `,"expr":"sum(rate(x[5m])) > 0.05"`, "    expr: sum(rate(x[5m]))\n      > 0.05\n"},
			{"wrap", `,"description":"a long description of the item that goes on to a second line"`,
				"    description: a long description of the item\n      that goes on to a second line\n"},
		} {
			src := jsonItemsDocument(size.bytes, 2, v.json)
			w := jsonDocument(b, src)
			subjects = append(subjects, subject{"json-" + v.name, src, decodeJSON, nil},
				subject{"goccy-" + v.name, yamlItemsDocument(size.bytes, 2, v.yaml), decodeYAML, &w})
		}
		for _, c := range subjects {
			b.Run(size.name+"/"+c.name, func(b *testing.B) {
				doc, err := c.decode(c.src)
				if err != nil {
					b.Fatal(err)
				}
				if c.want != nil {
					checkSameDocument(b, *c.want, doc)
				}
				b.SetBytes(int64(len(c.src)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.decode(c.src); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// jsonDocument decodes src, a JSON document the benchmark wrote.
func jsonDocument(tb testing.TB, src []byte) config.Document {
	d, err := config.Decode("bench.json", src, config.JSON)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// checkSameDocument checks that a YAML candidate decoded the JSON
// reference's content (the YAML document has fewer items at the same
// size, so only the items it has are compared) and located every value.
func checkSameDocument(tb testing.TB, want config.Document, got decoded) {
	tb.Helper()
	w, g := want.Value.(map[string]any), got.value.(map[string]any)
	wi, gi := w["items"].([]any), g["items"].([]any)
	if len(gi) == 0 || len(gi) > len(wi) || g["version"] != w["version"] || g["tail"] != w["tail"] {
		tb.Fatalf("decoded %d items, version %v, tail %v", len(gi), g["version"], g["tail"])
	}
	for i, e := range gi {
		if fmt.Sprint(e) != fmt.Sprint(wi[i]) {
			tb.Fatalf("item %d: %v, want %v", i, e, wi[i])
		}
	}
	last := fmt.Sprintf("/items/%d/weight", len(gi)-1)
	for _, ptr := range []string{"", "/version", "/items", "/items/0/id", last, "/tail"} {
		if p := got.positions()[ptr]; p.Line == 0 || p.Column == 0 {
			tb.Fatalf("%q has no position: %+v", ptr, p)
		}
	}
	if p := got.positions()["/tail"]; p.KeyLine == 0 {
		tb.Fatalf("/tail has no key position: %+v", p)
	}
}

// decodeYAMLv3 decodes one YAML document with go.yaml.in/yaml/v3 into a
// yaml.Node and converts it in one walk to what config.Decode returns.
// It resolves aliases and merge keys and refuses duplicate keys, but does
// not bound alias expansion: a port would need config's checkAliases
// rewritten for yaml.Node.
func decodeYAMLv3(file string, src []byte) (decoded, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return decoded{}, err
	}
	c := v3conv{file: file, pos: config.Positions{}}
	positions := func() config.Positions { return c.pos }
	if len(root.Content) == 0 {
		c.pos[""] = config.Position{File: file, Line: 1, Column: 1}
		return decoded{map[string]any{}, positions}, nil
	}
	v, err := c.value(root.Content[0], "", config.Position{File: file})
	if err != nil {
		return decoded{}, err
	}
	return decoded{v, positions}, nil
}

// decoded is what a candidate decoder returns: the value, and its
// positions (built when asked for, as config.Document's are).
type decoded struct {
	value     any
	positions func() config.Positions
}

// configDecode is config.Decode as a candidate.
func configDecode(file string, src []byte, f config.Format) (decoded, error) {
	d, err := config.Decode(file, src, f)
	return decoded{d.Value, d.Positions}, err
}

type v3conv struct {
	file string
	pos  config.Positions
}

// value converts n, found at ptr, and records its position (at is the
// key's position, if any); positions below an alias are not recorded
// again: they are located at the alias.
func (c *v3conv) value(n *yaml.Node, ptr string, at config.Position) (any, error) {
	at.Line, at.Column = n.Line, n.Column
	if c.pos != nil {
		c.pos[ptr] = at
	}
	switch n.Kind {
	case yaml.AliasNode:
		saved := c.pos
		c.pos = nil
		v, err := c.value(n.Alias, ptr, at)
		c.pos = saved
		return v, err
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		if err := c.mapping(n, ptr, out, nil); err != nil {
			return nil, err
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, e := range n.Content {
			v, err := c.value(e, ptr+"/"+strconv.Itoa(i), config.Position{File: c.file})
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.ScalarNode:
		return c.scalar(n, ptr)
	}
	return nil, fmt.Errorf("%s:%d:%d: unsupported node", c.file, n.Line, n.Column)
}

// mapping adds the pairs of n to out; merged is set while merging, where
// explicit keys win and positions stay at the merge key.
func (c *v3conv) mapping(n *yaml.Node, ptr string, out map[string]any, merged map[string]bool) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	explicit := map[string]bool{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name := k.Value
		if explicit[name] {
			return fmt.Errorf("%s:%d:%d: mapping key %q already defined", c.file, k.Line, k.Column, name)
		}
		explicit[name] = true
		if merged != nil && merged[name] {
			continue
		}
		saved := c.pos
		if merged != nil {
			c.pos = nil
		}
		val, err := c.value(v, ptr+"/"+escape(name), config.Position{File: c.file, KeyLine: k.Line, KeyColumn: k.Column})
		c.pos = saved
		if err != nil {
			return err
		}
		out[name] = val
		if merged != nil {
			merged[name] = true
		}
	}
	for _, m := range merges {
		for m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		seen := explicit
		for _, s := range srcs {
			if err := c.mapping(s, ptr, out, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// scalar resolves a scalar as config's normalize would leave it.
func (c *v3conv) scalar(n *yaml.Node, ptr string) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		return strings.EqualFold(n.Value, "true"), nil
	case "!!int":
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || math.Abs(float64(i)) >= 1<<53 {
			return nil, fmt.Errorf("%s:%d:%d: %s: integer %s", c.file, n.Line, n.Column, ptr, n.Value)
		}
		return float64(i), nil
	case "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%s:%d:%d: %s: %s is not a JSON number", c.file, n.Line, n.Column, ptr, n.Value)
		}
		return f, nil
	}
	return n.Value, nil
}

func escape(token string) string {
	if strings.ContainsAny(token, "~/") {
		token = strings.ReplaceAll(token, "~", "~0")
		token = strings.ReplaceAll(token, "/", "~1")
	}
	return token
}
