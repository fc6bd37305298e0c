package config

import (
	"errors"
	"fmt"

	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// decodeYAML decodes one YAML document. A document in the common subset
// yamlPlain reads (the usual case) is read by it, without positions: the
// document computes them with go-yaml, from a copy of src, when first asked
// for. Any other is read by go-yaml (decodeYAMLGoccy), once checkNesting
// has passed it: yamlPlain bounds its own nesting by maxNesting, so a
// document it reads needs no scan, and go-yaml, reading it for positions,
// recurses no deeper.
func decodeYAML(file string, src []byte) (Document, error) {
	text := string(src) // a copy: the caller may reuse its buffer
	if v, ok := decodePlainYAML(text); ok {
		return lazily(v, func() Positions {
			doc, _ := decodeYAMLGoccy(file, text)
			return doc.Positions()
		}), nil
	}
	if err := checkNesting(file, src, YAML); err != nil {
		return Document{}, err
	}
	return decodeYAMLGoccy(file, text)
}

// decodeYAMLGoccy decodes one YAML document with go-yaml. Anchors, aliases
// and merge keys are resolved by go-yaml; a value that comes from an alias
// or a merge key is located at the alias or the merge key. An empty file is
// an empty object.
func decodeYAMLGoccy(file string, src string) (Document, error) {
	toks := lexer.Tokenize(src)
	if err := checkBlockMappings(file, toks); err != nil {
		return Document{}, err
	}
	f, err := parser.Parse(toks, 0)
	if err != nil {
		return Document{}, yamlError(file, err)
	}
	body, err := yamlDocument(file, f)
	if err != nil {
		return Document{}, err
	}
	if body == nil {
		return located(map[string]any{}, Positions{"": {File: file, Line: 1, Column: 1}}), nil
	}
	if err := checkAliases(file, body); err != nil {
		return Document{}, err
	}
	v, pos, err := yamlTree(file, body, len(toks)/2)
	if err != nil {
		return Document{}, err
	}
	if v == nil {
		v = map[string]any{}
	}
	return located(v, pos), nil
}

// yamlDocument returns the body of the one document f holds, nil if none.
func yamlDocument(file string, f *ast.File) (ast.Node, error) {
	var body ast.Node
	for _, d := range f.Docs {
		if _, directive := d.Body.(*ast.DirectiveNode); d.Body == nil || directive {
			continue // a %YAML or %TAG line belongs to the document after it
		}
		if body != nil {
			line, col := nodePosition(d.Body)
			return nil, syntaxError(file, line, col, "",
				"a config file holds one YAML document, found a second one")
		}
		body = d.Body
	}
	return body, nil
}

// yamlTree returns the normalized value of body and its positions: in one
// walk when body holds only plain mappings, sequences and scalars (the
// common case), else through go-yaml's NodeToValue, which resolves
// anchors, aliases, merge keys, tags and non-string keys, and a walk for
// the positions. hint, about the number of values in body (half its
// tokens), sizes the positions map.
func yamlTree(file string, body ast.Node, hint int) (any, Positions, error) {
	w := yamlWalk{file: file, pos: make(Positions, hint)}
	v, ok, err := w.value(body, "", Position{})
	if ok {
		return v, w.pos, err
	}
	return yamlTreeGeneral(file, body)
}

// yamlTreeGeneral is yamlTree through NodeToValue and normalize.
func yamlTreeGeneral(file string, body ast.Node) (any, Positions, error) {
	var raw any
	if err := yaml.NodeToValue(body, &raw); err != nil {
		return nil, nil, yamlError(file, err)
	}
	pos := Positions{}
	yamlPositions(file, body, "", Position{}, pos)
	v, ptr, err := normalize(raw, "")
	if err != nil {
		p := pos.Locate(ptr)
		return nil, nil, syntaxError(file, p.Line, p.Column, ptr, err.Error())
	}
	return v, pos, nil
}

// yamlWalk builds the normalized value of a plain YAML tree and its
// positions together, as NodeToValue, yamlPositions and normalize would.
type yamlWalk struct {
	file string
	pos  Positions
}

// value converts n, found at ptr, whose key is at key. ok is false when n
// holds a node the walk leaves to yamlTreeGeneral; err is a value JSON
// cannot hold.
func (w *yamlWalk) value(n ast.Node, ptr string, key Position) (v any, ok bool, err error) {
	p := key
	p.File = w.file
	p.Line, p.Column = nodePosition(n)
	w.pos[ptr] = p
	switch t := n.(type) {
	case *ast.MappingNode:
		m := make(map[string]any, len(t.Values))
		for _, mv := range t.Values {
			if ok, err := w.pair(mv, ptr, m); !ok || err != nil {
				return nil, ok, err
			}
		}
		return m, true, nil
	case *ast.MappingValueNode:
		m := make(map[string]any, 1)
		ok, err := w.pair(t, ptr, m)
		return m, ok, err
	case *ast.SequenceNode:
		s := make([]any, len(t.Values))
		for i, e := range t.Values {
			if s[i], ok, err = w.value(e, jsondiff.JoinIndex(ptr, i), Position{}); !ok || err != nil {
				return nil, ok, err
			}
		}
		return s, true, nil
	case *ast.StringNode:
		return t.Value, true, nil
	case *ast.LiteralNode:
		if t.Value == nil {
			return nil, false, nil
		}
		return t.Value.Value, true, nil
	case *ast.NullNode:
		return nil, true, nil
	case *ast.BoolNode:
		return t.Value, true, nil
	case *ast.IntegerNode:
		return w.scalar(t.Value, ptr, p)
	case *ast.FloatNode:
		return w.scalar(t.Value, ptr, p)
	case *ast.InfinityNode:
		return w.scalar(t.Value, ptr, p)
	case *ast.NanNode:
		return w.scalar(t.GetValue(), ptr, p)
	}
	return nil, false, nil
}

// pair adds one key and its value to m; its key must be a plain string.
func (w *yamlWalk) pair(mv *ast.MappingValueNode, ptr string, m map[string]any) (bool, error) {
	k, isString := mv.Key.(*ast.StringNode)
	if !isString || mv.Value == nil {
		return false, nil
	}
	var key Position
	key.KeyLine, key.KeyColumn = tokenPosition(k.GetToken())
	v, ok, err := w.value(mv.Value, jsondiff.Join(ptr, k.Value), key)
	if ok && err == nil {
		m[k.Value] = v
	}
	return ok, err
}

// scalar normalizes a number found at ptr, written at p.
func (w *yamlWalk) scalar(x any, ptr string, p Position) (any, bool, error) {
	v, _, err := normalize(x, ptr)
	if err != nil {
		return nil, true, syntaxError(w.file, p.Line, p.Column, ptr, err.Error())
	}
	return v, true, nil
}

// yamlError converts a go-yaml error into a positioned one.
func yamlError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return syntaxError(file, p.Line, p.Column, "", ye.GetMessage())
	}
	return syntaxError(file, 0, 0, "", err.Error())
}

// yamlPositions records the position of n, found at ptr, and of everything
// below it. key is the position of the key that holds n, if any.
func yamlPositions(file string, n ast.Node, ptr string, key Position, pos Positions) {
	for {
		switch t := n.(type) {
		case *ast.AnchorNode:
			n = t.Value
			continue
		case *ast.TagNode:
			n = t.Value
			continue
		}
		break
	}
	p := key
	p.File = file
	p.Line, p.Column = nodePosition(n)
	pos[ptr] = p
	switch t := n.(type) {
	case *ast.MappingNode:
		for _, mv := range t.Values {
			yamlMappingValue(file, mv, ptr, pos)
		}
	case *ast.MappingValueNode:
		yamlMappingValue(file, t, ptr, pos)
	case *ast.SequenceNode:
		for i, v := range t.Values {
			yamlPositions(file, v, jsondiff.JoinIndex(ptr, i), Position{}, pos)
		}
	}
}

func yamlMappingValue(file string, mv *ast.MappingValueNode, ptr string, pos Positions) {
	if mv.Key == nil || mv.Value == nil {
		return
	}
	if mv.Key.IsMergeKey() {
		return // merged keys are located at their parent
	}
	var name string
	if s, ok := mv.Key.(ast.ScalarNode); ok {
		name = fmt.Sprint(s.GetValue())
	} else {
		name = mv.Key.String()
	}
	var key Position
	key.KeyLine, key.KeyColumn = tokenPosition(mv.Key.GetToken())
	yamlPositions(file, mv.Value, jsondiff.Join(ptr, name), key, pos)
}

// nodePosition returns where a node starts: a block mapping starts at its
// first key, not at its first ':'.
func nodePosition(n ast.Node) (line, col int) {
	switch m := n.(type) {
	case *ast.MappingNode:
		if !m.IsFlowStyle && len(m.Values) > 0 && m.Values[0].Key != nil {
			return tokenPosition(m.Values[0].Key.GetToken())
		}
	case *ast.MappingValueNode:
		if m.Key != nil {
			return tokenPosition(m.Key.GetToken())
		}
	}
	return tokenPosition(n.GetToken())
}

func tokenPosition(tk *token.Token) (line, col int) {
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}
