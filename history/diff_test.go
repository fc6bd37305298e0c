package history

import (
	"context"
	"reflect"
	"testing"

	"github.com/cybercorp/hotreload"
)

func TestDiff(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, t.TempDir(), Options{Retain: 3})
	commit := func(v uint64, snaps map[string][]byte) {
		t.Helper()
		mustPut(t, s, attempt(v, hotreload.Committed, snaps), snaps)
	}
	commit(1, map[string][]byte{"app": []byte(`{"limits":{"rps":10},"name":"a"}`), "plugin": []byte("\x00v1")})
	commit(2, map[string][]byte{"app": []byte(`{"limits":{"rps":20},"name":"a","debug":true}`), "plugin": []byte("\x00v2")})
	commit(3, map[string][]byte{"app": []byte(`{"limits":{"rps":20},"name":"a","debug":true}`), "ui": []byte(`"dark"`)})
	mustPut(t, s, attempt(4, hotreload.Rejected, map[string][]byte{"app": []byte(`{"limits":{"rps":0}}`)}), nil)

	for _, tc := range []struct {
		name string
		a, b uint64
		want []TargetDiff
	}{
		{
			name: "OK", a: 1, b: 2,
			want: []TargetDiff{
				{Target: "app", Kind: hotreload.KindConfig,
					OldDigest: hotreload.Digest([]byte(`{"limits":{"rps":10},"name":"a"}`)),
					NewDigest: hotreload.Digest([]byte(`{"limits":{"rps":20},"name":"a","debug":true}`)),
					Changes: []hotreload.PathChange{
						{Path: "/debug", New: true},
						{Path: "/limits/rps", Old: 10.0, New: 20.0},
					}},
				{Target: "plugin", Kind: hotreload.KindConfig, OldDigest: hotreload.Digest([]byte("\x00v1")), NewDigest: hotreload.Digest([]byte("\x00v2")),
					Reason: "the content of version 1 is not JSON; the content of version 2 is not JSON"},
			},
		},
		{
			name: "TargetsAddedAndRemoved", a: 2, b: 3,
			want: []TargetDiff{
				{Target: "plugin", Kind: hotreload.KindConfig, OldDigest: hotreload.Digest([]byte("\x00v2")), Reason: "the content of version 2 is not JSON"},
				{Target: "ui", Kind: hotreload.KindConfig, NewDigest: hotreload.Digest([]byte(`"dark"`)),
					Changes: []hotreload.PathChange{{Path: "/", New: "dark"}}},
			},
		},
		{name: "Same", a: 2, b: 2},
		{
			name: "ContentNotKept", a: 3, b: 4,
			want: []TargetDiff{
				{Target: "app", Kind: hotreload.KindConfig,
					OldDigest: hotreload.Digest([]byte(`{"limits":{"rps":20},"name":"a","debug":true}`)),
					NewDigest: hotreload.Digest([]byte(`{"limits":{"rps":0}}`)),
					Reason:    "the content of version 4 is not kept"},
				{Target: "ui", Kind: hotreload.KindConfig, OldDigest: hotreload.Digest([]byte(`"dark"`)),
					Changes: []hotreload.PathChange{{Path: "/", Old: "dark"}}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Diff(ctx, s, tc.a, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff(%d, %d) =\n%+v\nwant\n%+v", tc.a, tc.b, got, tc.want)
			}
		})
	}

	t.Run("ErrUnknownVersion", func(t *testing.T) {
		for _, ab := range [][2]uint64{{1, 9}, {9, 1}} {
			_, err := Diff(ctx, s, ab[0], ab[1])
			wantCode(t, err, hotreload.CodeNotFound, "version 9: no such version")
		}
	})
}
