package config

import "testing"

func TestZZScratch(t *testing.T) {
	for _, src := range []string{
		"a: 'a\tb'\nb: 1\n", "a: x\t# c\nb: 1\n", "a: |\n  x\ty\nb: 1\n", "a: 1 # c\td\nb: 2\n", "a: 1\t\nb: 2\n", "# c\td\nb: 2\n",
	} {
		p := yamlPlain{src: src}
		v, ok := p.document()
		want, err := decodeYAMLGoccy("t.yaml", src)
		var wv any
		if err == nil {
			wv = want.Value
		}
		t.Logf("%q: plain=%#v ok=%v goccy=%#v err=%v", src, v, ok, wv, err != nil)
	}
}
