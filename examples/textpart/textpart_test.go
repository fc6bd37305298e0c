package textpart_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/examples/textpart"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/hotreloadtest"
)

func TestContract(t *testing.T) {
	snap := func(s string) hotreload.Candidate { return hotreload.Candidate{Target: "text", Snapshot: []byte(s)} }
	hotreloadtest.Run(t, hotreloadtest.Harness{
		New: func(tb testing.TB) hotreload.Target {
			file := filepath.Join(tb.TempDir(), "text.txt")
			if err := os.WriteFile(file, []byte("from the file"), 0o644); err != nil {
				tb.Fatal(err)
			}
			p, err := textpart.New("text", file)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { _ = p.Close() })
			return p
		},
		Valid: func(testing.TB) []hotreload.Candidate {
			return []hotreload.Candidate{snap("one"), snap("two"), snap("three")}
		},
		Invalid: func(testing.TB) []hotreload.Candidate { return []hotreload.Candidate{snap("\xff\xfe")} },
		Live:    func(_ testing.TB, t hotreload.Target) any { return string(t.(*textpart.Part).Text()) },
		History: func(tb testing.TB) hotreload.History {
			h, err := history.Memory(history.Options{})
			if err != nil {
				tb.Fatal(err)
			}
			return h
		},
	})
}
