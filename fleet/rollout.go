package fleet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/source/etcd"
)

// State is where a rollout is.
type State string

// The states of a rollout.
const (
	Running   State = "running"
	Completed State = "completed" // the config key holds the candidate
	Halted    State = "halted"    // every instance went back to the config key
)

// Phase is what a running rollout waits for in its current wave.
type Phase string

// The phases of a wave.
const (
	Applying Phase = "applying" // the wave's instances apply the candidate
	Watching Phase = "watching" // they stay healthy through the window
)

// Rollout is the durable state of a staged rollout, kept in etcd.
type Rollout struct {
	// ID names the rollout.
	ID string `json:"id"`
	// Key is the config key the candidate replaces when the rollout
	// completes.
	Key string `json:"key"`
	// BaseRevision is the config key's mod revision when the rollout
	// started (0 when it did not exist).
	BaseRevision int64 `json:"base_revision"`
	// Digest is the SHA-256 of the candidate, hex.
	Digest string `json:"digest"`
	// Author is who started the rollout, where known.
	Author string `json:"author,omitempty"`
	// Waves are the instance ids of each stage; the first is the canary.
	Waves [][]string `json:"waves"`
	// Wave is the number of the current wave, counting from 1 as people
	// and the CLI do: the instances of Waves[Wave-1].
	Wave int `json:"wave"`
	// Phase is what the current wave waits for.
	Phase Phase `json:"phase,omitempty"`
	// Window is how long a wave must stay healthy after it applied the
	// candidate.
	Window time.Duration `json:"window_ns"`
	// WindowEnds is when the current wave's window ends (Watching).
	WindowEnds time.Time `json:"window_ends,omitzero"`
	// Timeout is how long a wave may take to apply the candidate.
	Timeout time.Duration `json:"timeout_ns"`
	// WaveStarted is when the current wave was given the candidate.
	WaveStarted time.Time `json:"wave_started"`
	// State is running, completed or halted.
	State State `json:"state"`
	// Reason says why a rollout halted.
	Reason string `json:"reason,omitempty"`
	// Coordinator is the instance that last advanced the rollout.
	Coordinator string `json:"coordinator,omitempty"`
	// Started and Updated are when the rollout started and last changed.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
}

// Done reports whether the rollout ended.
func (r *Rollout) Done() bool { return r.State != Running }

// Plan is a rollout to start.
type Plan struct {
	// Candidate is the new configuration, in the fleet's format.
	Candidate []byte
	// Canary is how many instances apply the candidate first: a count
	// ("1") or a percentage of the fleet ("20%"), at least one instance;
	// "1" when empty.
	Canary string
	// Step is how many instances follow at a time after the canaries; 0
	// means all the rest at once.
	Step int
	// Window is how long each wave must stay healthy before the next one
	// starts (30 s when 0).
	Window time.Duration
	// Timeout is how long a wave may take to apply the candidate before
	// the rollout halts (5 min when 0): an instance that neither commits
	// nor fails nor leaves the fleet does not hold the rollout forever.
	Timeout time.Duration
	// Author is recorded in the rollout.
	Author string
}

// ParseCanary turns "N" or "P%" into a count of instances out of n, at
// least one and at most n.
func ParseCanary(s string, n int) (int, error) {
	if s == "" {
		s = "1"
	}
	var c int
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !(f > 0 && f <= 100) { // NaN too
			return 0, hotreload.Errorf(hotreload.CodeInvalid, "canary %q: want a percentage in (0, 100]", s)
		}
		c = int(float64(n)*f/100 + 0.999999)
	} else {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			return 0, hotreload.Errorf(hotreload.CodeInvalid, "canary %q: want a count of at least 1 or a percentage such as 20%%", s)
		}
		c = v
	}
	return min(max(c, 1), n), nil
}

// waves splits ids (sorted) into the canary wave and steps of step.
func waves(ids []string, canary, step int) [][]string {
	out := [][]string{ids[:canary]}
	rest := ids[canary:]
	if step <= 0 {
		step = len(rest)
	}
	for len(rest) > 0 {
		n := min(step, len(rest))
		out = append(out, rest[:n])
		rest = rest[n:]
	}
	return out
}

// Start publishes a rollout of plan to the fleet at prefix: it plans the
// waves over the instances registered now and writes the rollout and its
// candidate in one transaction that fails, with a CodeConflict error, when
// another rollout is running or started meanwhile, or when the config key
// changed meanwhile. The members' coordinator does the rest; follow it with
// Watch.
func Start(ctx context.Context, c *clientv3.Client, prefix string, plan Plan) (*Rollout, error) {
	k, err := newKeys(prefix)
	if err != nil {
		return nil, err
	}
	if len(plan.Candidate) == 0 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "the candidate is empty")
	}
	if plan.Step < 0 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "step %d is negative", plan.Step)
	}
	if plan.Window < 0 || plan.Timeout < 0 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "window %s or timeout %s is negative", plan.Window, plan.Timeout)
	}
	if plan.Window == 0 {
		plan.Window = 30 * time.Second
	}
	if plan.Timeout == 0 {
		plan.Timeout = 5 * time.Minute
	}
	f, rolloutRev, err := read(ctx, c, k)
	if err != nil {
		return nil, err
	}
	if f.Rollout != nil && !f.Rollout.Done() {
		return nil, hotreload.Errorf(hotreload.CodeConflict, "rollout %s is in progress (wave %d of %d); wait for it to end", f.Rollout.ID, f.Rollout.Wave, len(f.Rollout.Waves))
	}
	if len(f.Instances) == 0 {
		return nil, hotreload.Errorf(hotreload.CodeUnavailable, "no instance is registered under %s", prefix)
	}
	key := f.Instances[0].Key
	ids := make([]string, 0, len(f.Instances))
	for _, in := range f.Instances {
		if in.Key != key {
			return nil, hotreload.Errorf(hotreload.CodeConflict, "instances %s and %s follow different keys (%s, %s)", f.Instances[0].ID, in.ID, key, in.Key)
		}
		ids = append(ids, in.ID)
	}
	slices.Sort(ids)
	canary, err := ParseCanary(plan.Canary, len(ids))
	if err != nil {
		return nil, err
	}
	_, base, _, err := etcd.Get(ctx, c, key)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(plan.Candidate)
	now := time.Now().UTC()
	r := &Rollout{
		ID: newID(now), Key: key, BaseRevision: base, Digest: hex.EncodeToString(sum[:]), Author: plan.Author,
		Waves: waves(ids, canary, plan.Step), Wave: 1, Phase: Applying, Window: plan.Window, Timeout: plan.Timeout,
		State: Running, Started: now, WaveStarted: now, Updated: now,
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	resp, err := c.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(k.rollout()), "=", rolloutRev),
		clientv3.Compare(clientv3.ModRevision(key), "=", base),
	).Then(
		clientv3.OpPut(k.candidate(r.ID), string(plan.Candidate)),
		clientv3.OpPut(k.rollout(), string(data)),
	).Commit()
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeUnavailable, "publishing the rollout: %w", err)
	}
	if !resp.Succeeded {
		return nil, hotreload.Errorf(hotreload.CodeConflict, "another rollout started, or %s changed, while this one was being planned; try again", key)
	}
	return r, nil
}

// newID returns a sortable, unique rollout id.
func newID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Fleet is what etcd holds about a fleet.
type Fleet struct {
	// Prefix is the fleet's prefix.
	Prefix string `json:"prefix"`
	// Instances are the registered instances, by id.
	Instances []Instance `json:"instances"`
	// Rollout is the current or last rollout, nil before the first.
	Rollout *Rollout `json:"rollout"`
	// Revision is the etcd revision this view was read at.
	Revision int64 `json:"revision"`
}

// Read returns the fleet at prefix.
func Read(ctx context.Context, c *clientv3.Client, prefix string) (Fleet, error) {
	k, err := newKeys(prefix)
	if err != nil {
		return Fleet{}, err
	}
	f, _, err := read(ctx, c, k)
	return f, err
}

// read returns the fleet and the rollout record's mod revision (0 when
// absent), in one consistent read.
func read(ctx context.Context, c *clientv3.Client, k keys) (Fleet, int64, error) {
	resp, err := c.Txn(ctx).Then(
		clientv3.OpGet(k.instances(), clientv3.WithPrefix()),
		clientv3.OpGet(k.rollout()),
	).Commit()
	if err != nil {
		return Fleet{}, 0, hotreload.Errorf(hotreload.CodeUnavailable, "reading fleet %s: %w", k, err)
	}
	f := Fleet{Prefix: string(k), Instances: []Instance{}, Revision: resp.Header.Revision}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		var in Instance
		if err := json.Unmarshal(kv.Value, &in); err != nil {
			return Fleet{}, 0, hotreload.Errorf(hotreload.CodeInternal, "decoding instance %s: %w", kv.Key, err)
		}
		f.Instances = append(f.Instances, in)
	}
	var rev int64
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		r, err := decodeRollout(kvs[0])
		if err != nil {
			return Fleet{}, 0, err
		}
		f.Rollout, rev = r, kvs[0].ModRevision
	}
	return f, rev, nil
}

func decodeRollout(kv *mvccpb.KeyValue) (*Rollout, error) {
	var r Rollout
	if err := json.Unmarshal(kv.Value, &r); err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInternal, "decoding rollout %s: %w", kv.Key, err)
	}
	return &r, nil
}

// Watch calls fn with the rollout id's record at every change until it
// ends, and returns it. It returns an error when ctx ends first, or when
// another rollout replaced it.
func Watch(ctx context.Context, c *clientv3.Client, prefix, id string, fn func(*Rollout)) (*Rollout, error) {
	k, err := newKeys(prefix)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var rev int64
	for {
		resp, err := c.Get(wctx, k.rollout(), clientv3.WithMinModRev(rev+1))
		if err != nil {
			return nil, hotreload.Errorf(hotreload.CodeUnavailable, "following rollout %s: %w", id, err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			r, err := decodeRollout(kv)
			if err != nil {
				return nil, err
			}
			if r.ID != id {
				return nil, hotreload.Errorf(hotreload.CodeConflict, "rollout %s was replaced by %s", id, r.ID)
			}
			fn(r)
			if r.Done() {
				return r, nil
			}
		}
		// Wait for the next change of the record (or a watch error).
		one, stop := context.WithCancel(wctx)
		for wr := range c.Watch(clientv3.WithRequireLeader(one), k.rollout(), clientv3.WithRev(rev+1)) {
			if wr.Err() != nil || len(wr.Events) > 0 {
				break
			}
		}
		stop()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("following rollout %s: %w", id, ctx.Err())
		}
	}
}
