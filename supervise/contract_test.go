//go:build linux

package supervise

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/hotreloadtest"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// TestProcessContract runs the Target contract on a Process in proxy mode:
// candidates are snapshots of three stamped builds kept in a shared BinDir;
// reading the source builds a fourth. (In socket mode a prepared candidate
// already accepts on the shared socket, by design: see docs/dev.md. The
// rest of the contract holds there too and is covered by process_test.go.)
func TestProcessContract(t *testing.T) {
	bins := t.TempDir()
	var valid []hotreload.Candidate
	for _, stamp := range []string{"contract-a", "contract-b", "contract-c"} {
		tmp := filepath.Join(t.TempDir(), stamp)
		stampedApp(t, stamp, tmp)
		id, err := binaryDigest(tmp)
		if err != nil {
			t.Fatal(err)
		}
		stampedApp(t, stamp, filepath.Join(bins, id))
		valid = append(valid, hotreload.Candidate{Target: "process", Snapshot: jsondiff.MustMarshal(snapshotDoc{Binary: id})})
	}
	hotreloadtest.Run(t, hotreloadtest.Harness{
		New: func(tb testing.TB) hotreload.Target {
			p, err := New(Options{
				Listener: listenLocal(tb), Mode: ModeProxy, BinDir: bins, Keep: 100,
				Build: func(_ context.Context, out string) error {
					stampedApp(tb, "contract-source", out)
					return nil
				},
			})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { p.Close(context.Background()) })
			return p
		},
		Valid: func(testing.TB) []hotreload.Candidate { return valid },
		Invalid: func(testing.TB) []hotreload.Candidate {
			return []hotreload.Candidate{
				{Target: "process", Content: []byte("a binary upload")},
				{Target: "process", Snapshot: []byte(`{"binary":"` + strings.Repeat("a", 64) + `"}`)},
				{Target: "process", Snapshot: []byte(`not json`)},
			}
		},
		Live: func(tb testing.TB, target hotreload.Target) any {
			p := target.(*Process)
			_, bin := p.Live()
			reply, _, _ := strings.Cut(mustGet(tb, "http://"+p.Addr().String()+"/"), " ")
			return bin + " " + reply
		},
		History: func(tb testing.TB) hotreload.History {
			s, err := history.Open(history.Options{Dir: tb.TempDir()})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { s.Close() })
			return s
		},
	})
}
