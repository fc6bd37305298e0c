package etcd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/internal/testwait"
	"github.com/cybercorp/hotreload/source/etcd"
	"github.com/cybercorp/hotreload/source/etcd/etcdtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const key = "/app/config.json"

// rig is a real engine with a config target whose candidates come from an
// etcd Source.
type rig struct {
	t       *testing.T
	engine  *hotreload.Engine
	history *history.Store
	target  *config.Target[map[string]any]
	mirror  string

	mu       sync.Mutex
	attempts []etcd.Attempt
}

// newRig starts an engine on a config file holding initial and a Source
// on key through client, with override when not empty.
func newRig(t *testing.T, client *clientv3.Client, initial, override string) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{t: t, mirror: filepath.Join(dir, "config.json")}
	if err := os.WriteFile(r.mirror, []byte(initial), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := history.Open(history.Options{Dir: filepath.Join(dir, "history")})
	if err != nil {
		t.Fatal(err)
	}
	r.history = h
	r.engine = hotreload.New(hotreload.Options{History: h, MaxRollbacks: -1})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.engine.Run(ctx) })
	r.target, err = config.NewTarget(config.Options[map[string]any]{Files: []string{r.mirror}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.engine.Add(ctx, r.target); err != nil {
		t.Fatal(err)
	}
	src, err := etcd.New(etcd.Options{
		Client: client, Key: key, Override: override, Engine: r.engine, Mirror: r.mirror,
		Retry: 100 * time.Millisecond,
		OnAttempt: func(a etcd.Attempt) {
			r.mu.Lock()
			r.attempts = append(r.attempts, a)
			r.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = src.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		r.target.Close()
		_ = h.Close()
	})
	return r
}

// waitValue waits until the live config's "v" is want.
func (r *rig) waitValue(want float64) {
	r.t.Helper()
	testwait.Until(r.t, fmt.Sprintf("the live config to reach v=%v", want), 20*time.Second, func() error {
		if s := r.target.Store().Snapshot(); s != nil && s.Data.(map[string]any)["v"] == want {
			return nil
		}
		return fmt.Errorf("attempts: %+v", r.attemptsNow())
	})
}

func (r *rig) attemptsNow() []etcd.Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]etcd.Attempt(nil), r.attempts...)
}

// revisions returns the etcd revisions history recorded for committed
// versions, in order.
func (r *rig) revisions() []int64 {
	r.t.Helper()
	recs, err := r.history.List(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	var out []int64
	for _, rec := range recs {
		for _, st := range rec.Targets {
			if s := st.Meta[etcd.MetaRevision]; s != "" && rec.Result == hotreload.Committed {
				n, _ := strconv.ParseInt(s, 10, 64)
				out = append(out, n)
			}
		}
	}
	return out
}

// put writes k, retrying while the cluster elects a leader.
// waitRevisions waits until the etcd revisions of the last committed
// versions in history are want, in order.
func (r *rig) waitRevisions(want ...int64) {
	r.t.Helper()
	testwait.Until(r.t, fmt.Sprintf("history's etcd revisions to end with %v", want), 10*time.Second, func() error {
		got := r.revisions()
		if len(got) >= len(want) && slices.Equal(got[len(got)-len(want):], want) {
			return nil
		}
		return fmt.Errorf("revisions %v", got)
	})
}

func put(t *testing.T, c *clientv3.Client, k, v string) int64 {
	t.Helper()
	deadline := time.Now().Add(testwait.D(20 * time.Second))
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		resp, err := c.Put(ctx, k, v)
		cancel()
		if err == nil {
			return resp.Header.Revision
		}
		if time.Now().After(deadline) {
			t.Fatalf("putting %s: %v", k, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSource(t *testing.T) {
	cluster := etcdtest.Start(t, 3)
	admin := cluster.Client(t)

	t.Run("FollowsTheKeyAndRecordsRevisions", func(t *testing.T) {
		put(t, admin, key, `{"v": 1}`)
		r := newRig(t, etcdtest.Client(t, cluster.Endpoints()...), `{"v": 0}`, "")
		r.waitValue(1)
		rev2 := put(t, admin, key, `{"v": 2}`)
		r.waitValue(2)
		r.waitRevisions(rev2)
		// The mirror is written at commit, after the value went live.
		testwait.Until(t, "the mirror to hold the committed value", 10*time.Second, func() error {
			if mirrored, _ := os.ReadFile(r.mirror); string(mirrored) != `{"v": 2}` {
				return fmt.Errorf("mirror holds %q", mirrored)
			}
			return nil
		})
	})

	t.Run("InvalidValueIsRejectedAndTheLiveOneKept", func(t *testing.T) {
		put(t, admin, key, `{"v": 3}`)
		r := newRig(t, etcdtest.Client(t, cluster.Endpoints()...), `{"v": 0}`, "")
		r.waitValue(3)
		bad := put(t, admin, key, `{"v": `)
		var last etcd.Attempt
		testwait.Until(t, "the invalid value proposed", 10*time.Second, func() error {
			a := r.attemptsNow()
			if n := len(a); n > 0 && a[n-1].Revision == bad {
				last = a[n-1]
				return nil
			}
			return fmt.Errorf("attempts %+v", a)
		})
		if last.Result != hotreload.Rejected {
			t.Fatalf("attempt = %+v, want rejected", last)
		}
		r.waitValue(3)
	})

	t.Run("OverrideWinsWhileItExists", func(t *testing.T) {
		const over = "/fleet/desired/a"
		put(t, admin, key, `{"v": 4}`)
		r := newRig(t, etcdtest.Client(t, cluster.Endpoints()...), `{"v": 0}`, over)
		r.waitValue(4)
		put(t, admin, over, `{"v": 40}`)
		r.waitValue(40)
		// Deleting the override and moving the key in one transaction is
		// one state: the key's old value is never applied in between.
		before := len(r.attemptsNow())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		txn, err := admin.Txn(ctx).Then(clientv3.OpPut(key, `{"v": 40}`), clientv3.OpDelete(over)).Commit()
		if err != nil {
			t.Fatal(err)
		}
		testwait.For(t, "the transaction's state seen", 10*time.Second, func() bool {
			for _, a := range r.attemptsNow()[before:] {
				if a.Revision >= txn.Header.Revision {
					return true
				}
			}
			return false
		})
		for _, a := range r.attemptsNow()[before:] {
			if a.Result == hotreload.Committed && liveValue(t, r.history, a.Version) == 4 {
				t.Fatalf("the key's old value came back between the override and the key: %+v", a)
			}
		}
		put(t, admin, over, `{"v": 41}`)
		r.waitValue(41)
		if _, err := admin.Delete(ctx, over); err != nil {
			t.Fatal(err)
		}
		r.waitValue(40)
	})

	t.Run("CatchesUpInOrderAfterBeingCutOff", func(t *testing.T) {
		m := cluster.Members[0]
		put(t, admin, key, `{"v": 5}`)
		r := newRig(t, etcdtest.Client(t, m.Addr), `{"v": 0}`, "")
		r.waitValue(5)
		m.Kill()
		others := etcdtest.Client(t, cluster.Members[1].Addr, cluster.Members[2].Addr)
		rev6 := put(t, others, key, `{"v": 6}`)
		rev7 := put(t, others, key, `{"v": 7}`)
		m.Restart(t)
		r.waitValue(7)
		r.waitRevisions(rev6, rev7) // every missed revision, in order
	})

	t.Run("ResyncsAfterCompaction", func(t *testing.T) {
		m := cluster.Members[0]
		put(t, admin, key, `{"v": 8}`)
		r := newRig(t, etcdtest.Client(t, m.Addr), `{"v": 0}`, "")
		r.waitValue(8)
		m.Kill()
		others := etcdtest.Client(t, cluster.Members[1].Addr, cluster.Members[2].Addr)
		put(t, others, key, `{"v": 9}`)
		rev10 := put(t, others, key, `{"v": 10}`)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := others.Compact(ctx, rev10, clientv3.WithCompactPhysical()); err != nil {
			t.Fatal(err)
		}
		m.Restart(t)
		r.waitValue(10)
		r.waitRevisions(rev10)
	})
}

// liveValue returns "v" of the config at version in history, or -1.
func liveValue(t *testing.T, h *history.Store, version uint64) float64 {
	t.Helper()
	snap, err := h.Snapshot(context.Background(), version, "config")
	if err != nil {
		return -1
	}
	var doc map[string]float64
	if json.Unmarshal(snap, &doc) != nil {
		return -1
	}
	return doc["v"]
}
