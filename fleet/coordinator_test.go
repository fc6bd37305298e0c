package fleet

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/source/etcd"
	"github.com/cybercorp/hotreload/source/etcd/etcdtest"
)

const testKey = "/svc/config.json"

// bench is a fleet whose instances the test plays by writing their
// records, driven by a coordinator stepped by hand.
type bench struct {
	t      *testing.T
	client *clientv3.Client
	prefix string
	keys   keys
	coord  *coordinator
}

func newBench(t *testing.T, client *clientv3.Client, ids ...string) *bench {
	t.Helper()
	prefix := "/t/" + strings.ReplaceAll(t.Name(), "/", "-")
	k, err := newKeys(prefix)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{t: t, client: client, prefix: prefix, keys: k,
		coord: &coordinator{client: client, keys: k, id: "coord", log: slog.New(slog.DiscardHandler)}}
	b.put(testKey, `{"v": 0}`)
	for _, id := range ids {
		b.register(Instance{ID: id, Key: testKey, State: "serving", Health: "passing"})
	}
	return b
}

func (b *bench) put(k, v string) int64 {
	b.t.Helper()
	resp, err := b.client.Put(context.Background(), k, v)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.Header.Revision
}

func (b *bench) register(in Instance) {
	b.t.Helper()
	data, _ := json.Marshal(in)
	b.put(b.keys.instance(in.ID), string(data))
}

// respond plays instance id: it reports result for its desired value.
func (b *bench) respond(id string, result hotreload.Result, health string) {
	b.t.Helper()
	resp, err := b.client.Get(context.Background(), b.keys.desired(id))
	if err != nil || len(resp.Kvs) == 0 {
		b.t.Fatalf("instance %s has no desired value (%v)", id, err)
	}
	b.register(Instance{ID: id, Key: testKey, State: "serving", Health: health,
		Last: &etcd.Attempt{Key: b.keys.desired(id), Revision: resp.Kvs[0].ModRevision, Result: result}})
}

func (b *bench) step() {
	b.t.Helper()
	if err := b.coord.step(context.Background()); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bench) rollout() *Rollout {
	b.t.Helper()
	f, err := Read(context.Background(), b.client, b.prefix)
	if err != nil || f.Rollout == nil {
		b.t.Fatalf("no rollout (%v)", err)
	}
	return f.Rollout
}

func (b *bench) desired() []string {
	b.t.Helper()
	resp, err := b.client.Get(context.Background(), b.keys.desiredAll(), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		b.t.Fatal(err)
	}
	var ids []string
	for _, kv := range resp.Kvs {
		ids = append(ids, strings.TrimPrefix(string(kv.Key), b.keys.desiredAll()))
	}
	return ids
}

func (b *bench) key() string {
	b.t.Helper()
	v, _, _, err := etcd.Get(context.Background(), b.client, testKey)
	if err != nil {
		b.t.Fatal(err)
	}
	return string(v)
}

// waitWindow steps until the rollout leaves the watching phase.
func (b *bench) waitWindow() {
	b.t.Helper()
	for b.rollout().Phase == Watching {
		time.Sleep(5 * time.Millisecond)
		b.step()
	}
}

func TestCoordinator(t *testing.T) {
	client := etcdtest.Start(t, 1).Client(t)
	ctx := context.Background()
	candidate := []byte(`{"v": 1}`)

	t.Run("Completes", func(t *testing.T) {
		b := newBench(t, client, "a", "b", "c")
		if _, err := Start(ctx, client, b.prefix, Plan{Candidate: candidate, Canary: "1", Step: 1, Window: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		for i, id := range []string{"a", "b", "c"} {
			b.step() // publish the wave
			if got := b.desired(); len(got) != i+1 || !slices.Contains(got, id) {
				t.Fatalf("wave %d: desired keys %v, want %s added", i+1, got, id)
			}
			if b.key() != `{"v": 0}` {
				t.Fatal("the config key moved before the rollout completed")
			}
			b.step()
			if r := b.rollout(); r.Phase != Applying {
				t.Fatalf("wave %d went on before its instance answered: %+v", i+1, r)
			}
			b.respond(id, hotreload.Committed, "passing")
			b.step()
			if r := b.rollout(); r.Phase != Watching {
				t.Fatalf("wave %d: phase %s after its instance committed, want watching", i+1, r.Phase)
			}
			b.waitWindow()
		}
		r := b.rollout()
		if r.State != Completed || b.key() != string(candidate) || len(b.desired()) != 0 || r.Coordinator != "coord" {
			t.Fatalf("rollout %+v, key %q, desired %v: want completed, the candidate in the key, no desired key", r, b.key(), b.desired())
		}
	})

	t.Run("HaltsWhenACanaryRollsBack", func(t *testing.T) {
		b := newBench(t, client, "a", "b", "c", "d")
		if _, err := Start(ctx, client, b.prefix, Plan{Candidate: candidate, Canary: "50%", Window: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		b.step()
		if got := b.desired(); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("canaries %v, want a b (50%% of 4)", got)
		}
		b.respond("a", hotreload.Committed, "passing")
		b.respond("b", hotreload.RolledBack, "passing")
		b.step()
		r := b.rollout()
		if r.State != Halted || !strings.Contains(r.Reason, "instance b") || len(b.desired()) != 0 || b.key() != `{"v": 0}` {
			t.Fatalf("rollout %+v, desired %v, key %q: want halted naming b, no desired key (a goes back too), the key unchanged", r, b.desired(), b.key())
		}
	})

	t.Run("HaltsWhenAnInstanceTurnsUnhealthyInTheWindow", func(t *testing.T) {
		b := newBench(t, client, "a", "b")
		if _, err := Start(ctx, client, b.prefix, Plan{Candidate: candidate, Window: time.Hour}); err != nil {
			t.Fatal(err)
		}
		b.step()
		b.respond("a", hotreload.Committed, "passing")
		b.step()
		b.respond("a", hotreload.Committed, "failing")
		b.step()
		if r := b.rollout(); r.State != Halted || !strings.Contains(r.Reason, "unhealthy") {
			t.Fatalf("rollout %+v, want halted for health", r)
		}
	})

	t.Run("HaltsWhenTheKeyIsEditedMeanwhile", func(t *testing.T) {
		b := newBench(t, client, "a")
		if _, err := Start(ctx, client, b.prefix, Plan{Candidate: candidate, Window: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		b.step()
		b.respond("a", hotreload.Committed, "passing")
		b.step()
		b.put(testKey, `{"v": 99}`)
		b.waitWindow()
		if r := b.rollout(); r.State != Halted || b.key() != `{"v": 99}` {
			t.Fatalf("rollout %+v, key %q: want halted and the edit kept", r, b.key())
		}
	})

	t.Run("DeadInstanceDoesNotBlock", func(t *testing.T) {
		b := newBench(t, client, "a", "b")
		if _, err := Start(ctx, client, b.prefix, Plan{Candidate: candidate, Canary: "2", Window: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		b.step()
		if _, err := client.Delete(ctx, b.keys.instance("b")); err != nil { // its lease expired
			t.Fatal(err)
		}
		b.respond("a", hotreload.Committed, "passing")
		b.step()
		b.waitWindow()
		if r := b.rollout(); r.State != Completed {
			t.Fatalf("rollout %+v, want completed without the dead instance", r)
		}
	})

	t.Run("HaltsWhenAWaveTimesOut", func(t *testing.T) {
		b := newBench(t, client, "a", "b")
		if _, err := Start(ctx, client, b.prefix, Plan{Candidate: candidate, Window: time.Millisecond, Timeout: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		b.step()
		time.Sleep(60 * time.Millisecond)
		b.step()
		if r := b.rollout(); r.State != Halted || !strings.Contains(r.Reason, "instances a did not apply") {
			t.Fatalf("rollout %+v, want halted naming the silent instance a", r)
		}
	})

	t.Run("StaleCoordinatorWritesNothing", func(t *testing.T) {
		b := newBench(t, client, "a")
		if _, err := Start(ctx, client, b.prefix, Plan{Candidate: candidate, Window: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		v, err := b.coord.read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b.step() // another coordinator moves on
		before := b.rollout()
		if err := b.coord.halt(ctx, v, "stale"); err != nil {
			t.Fatal(err)
		}
		if after := b.rollout(); after.State != Running || !after.Updated.Equal(before.Updated) || len(b.desired()) != 1 {
			t.Fatalf("a coordinator with a stale view changed the rollout: %+v", after)
		}
	})
}

func TestStart(t *testing.T) {
	client := etcdtest.Start(t, 1).Client(t)
	ctx := context.Background()
	plan := Plan{Candidate: []byte(`{"v": 1}`), Canary: "40%", Step: 2}

	t.Run("PlansWaves", func(t *testing.T) {
		b := newBench(t, client, "e", "d", "c", "b", "a")
		r, err := Start(ctx, client, b.prefix, plan)
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{{"a", "b"}, {"c", "d"}, {"e"}}
		if !slices.EqualFunc(r.Waves, want, slices.Equal) || r.Key != testKey || r.State != Running || r.Window != 30*time.Second {
			t.Fatalf("rollout %+v, want waves %v on %s", r, want, testKey)
		}
	})

	t.Run("ErrConflictWhileRunning", func(t *testing.T) {
		b := newBench(t, client, "a")
		first, err := Start(ctx, client, b.prefix, plan)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Start(ctx, client, b.prefix, plan)
		if hotreload.ErrorCode(err) != hotreload.CodeConflict || !strings.Contains(err.Error(), first.ID) {
			t.Fatalf("second Start = %v, want a conflict naming %s", err, first.ID)
		}
	})

	t.Run("ConcurrentStartsOneWins", func(t *testing.T) {
		b := newBench(t, client, "a", "b")
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			won  int
			errs []error
		)
		for range 6 {
			wg.Go(func() {
				_, err := Start(ctx, client, b.prefix, plan)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won++
				} else if hotreload.ErrorCode(err) != hotreload.CodeConflict {
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		if won != 1 || len(errs) > 0 {
			t.Fatalf("%d of 6 concurrent Starts won (want 1); other errors: %v", won, errs)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		b := newBench(t, client)
		tests := []struct {
			name   string
			prefix string
			plan   Plan
			code   hotreload.Code
		}{
			{"NoInstance", b.prefix, plan, hotreload.CodeUnavailable},
			{"RelativePrefix", "fleet", plan, hotreload.CodeInvalid},
			{"EmptyCandidate", b.prefix, Plan{}, hotreload.CodeInvalid},
			{"NegativeStep", b.prefix, Plan{Candidate: []byte("{}"), Step: -1}, hotreload.CodeInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := Start(ctx, client, tt.prefix, tt.plan); hotreload.ErrorCode(err) != tt.code {
					t.Fatalf("Start = %v, want code %s", err, tt.code)
				}
			})
		}
		b.register(Instance{ID: "x", Key: "/other"})
		b.register(Instance{ID: "y", Key: testKey})
		if _, err := Start(ctx, client, b.prefix, plan); hotreload.ErrorCode(err) != hotreload.CodeConflict {
			t.Fatalf("Start over instances on different keys = %v, want a conflict", err)
		}
	})
}

func TestParseCanary(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want int
		ok   bool
	}{
		{"", 5, 1, true}, {"1", 5, 1, true}, {"3", 5, 3, true}, {"9", 5, 5, true},
		{"20%", 5, 1, true}, {"40%", 5, 2, true}, {"50%", 5, 3, true}, {"100%", 5, 5, true}, {"1%", 200, 2, true}, {"NaN%", 5, 0, false},
		{"0", 5, 0, false}, {"-1", 5, 0, false}, {"0%", 5, 0, false}, {"101%", 5, 0, false}, {"x", 5, 0, false},
	}
	for _, tt := range tests {
		got, err := ParseCanary(tt.in, tt.n)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseCanary(%q, %d) = %d, %v; want %d (ok %v)", tt.in, tt.n, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseCanary(f *testing.F) {
	for _, s := range []string{"1", "20%", "0.5%", "1e3", "%", "-3%"} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 1 || n > 10000 {
			return
		}
		got, err := ParseCanary(s, n)
		if err == nil && (got < 1 || got > n) {
			t.Fatalf("ParseCanary(%q, %d) = %d, outside [1, %d]", s, n, got, n)
		}
	})
}
