package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cybercorp/hotreload"
)

// coordinator advances the running rollout one step at a time. Every write
// is a compare-and-swap on the rollout record's mod revision: a step that
// lost a race writes nothing and the next one starts from the new state.
type coordinator struct {
	client *clientv3.Client
	keys   keys
	id     string
	log    *slog.Logger
}

// view is one consistent read of what a step decides on.
type view struct {
	rollout    *Rollout
	rolloutRev int64
	instances  map[string]Instance
	desired    map[string]int64 // instance id → mod revision of its desired key
	keyRev     int64            // the config key's mod revision
}

// step reads the fleet and advances the running rollout, if any.
func (c *coordinator) step(ctx context.Context) error {
	v, err := c.read(ctx)
	if err != nil || v.rollout == nil || v.rollout.Done() {
		return err
	}
	r := v.rollout
	if r.Wave < 1 || r.Wave > len(r.Waves) {
		return c.halt(ctx, v, fmt.Sprintf("wave %d does not exist", r.Wave))
	}
	// Any instance that already runs the candidate and failed halts the
	// rollout, whatever the phase.
	for _, wave := range r.Waves[:r.Wave] {
		for _, id := range wave {
			if reason := v.failed(c.keys, id); reason != "" {
				return c.halt(ctx, v, reason)
			}
		}
	}
	switch r.Phase {
	case Applying:
		return c.apply(ctx, v)
	case Watching:
		if time.Now().Before(r.WindowEnds) {
			return nil
		}
		if r.Wave < len(r.Waves) {
			next := *r
			next.Wave++
			next.Phase, next.WindowEnds, next.WaveStarted = Applying, time.Time{}, time.Now().UTC()
			c.log.Info("fleet: rollout moves to the next wave", "rollout", r.ID, "wave", next.Wave, "instances", strings.Join(next.Waves[next.Wave-1], ","))
			return c.write(ctx, v, &next)
		}
		return c.complete(ctx, v)
	}
	return c.halt(ctx, v, fmt.Sprintf("unknown phase %q", r.Phase))
}

// apply gives the current wave the candidate and, once every instance of
// it that is alive committed it, opens the window.
func (c *coordinator) apply(ctx context.Context, v view) error {
	r := v.rollout
	wave := r.Waves[r.Wave-1]
	var missing, waiting []string
	for _, id := range wave {
		rev, ok := v.desired[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		in, alive := v.instances[id]
		if !alive {
			continue // gone: it runs the config key's value when it is back
		}
		if in.Last == nil || in.Last.Key != c.keys.desired(id) || in.Last.Revision != rev {
			waiting = append(waiting, id)
		}
	}
	if len(missing) > 0 {
		return c.publish(ctx, v, missing)
	}
	if len(waiting) > 0 {
		if r.Timeout > 0 && time.Since(r.WaveStarted) > r.Timeout {
			return c.halt(ctx, v, fmt.Sprintf("instances %s did not apply the candidate within %s", strings.Join(waiting, ", "), r.Timeout))
		}
		return nil
	}
	next := *r
	next.Phase, next.WindowEnds = Watching, time.Now().Add(r.Window)
	c.log.Info("fleet: wave applied the candidate; watching", "rollout", r.ID, "wave", r.Wave, "window", r.Window)
	return c.write(ctx, v, &next)
}

// failed returns why instance id failed the candidate, or "".
func (v view) failed(k keys, id string) string {
	in, alive := v.instances[id]
	rev, has := v.desired[id]
	if !alive || !has {
		return ""
	}
	if a := in.Last; a != nil && a.Key == k.desired(id) && a.Revision == rev && !a.OK() {
		result := string(a.Result)
		if result == "" {
			result = "refused"
		}
		return fmt.Sprintf("instance %s: candidate %s: %s", id, result, a.Reason)
	}
	if in.Last != nil && in.Last.Key == k.desired(id) && in.Last.Revision == rev && in.Health == "failing" {
		return fmt.Sprintf("instance %s is unhealthy on the candidate", id)
	}
	return ""
}

// publish writes the candidate to the desired keys of ids, with the
// rollout record (so that a stale coordinator cannot).
func (c *coordinator) publish(ctx context.Context, v view, ids []string) error {
	r := v.rollout
	resp, err := c.client.Get(ctx, c.keys.candidate(r.ID))
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 {
		return c.halt(ctx, v, "the candidate key "+c.keys.candidate(r.ID)+" is missing")
	}
	candidate := string(resp.Kvs[0].Value)
	next := *r
	next.Coordinator, next.Updated = c.id, time.Now().UTC()
	data, err := json.Marshal(&next)
	if err != nil {
		return err
	}
	ops := []clientv3.Op{clientv3.OpPut(c.keys.rollout(), string(data))}
	for _, id := range ids {
		ops = append(ops, clientv3.OpPut(c.keys.desired(id), candidate))
	}
	c.log.Info("fleet: giving the candidate", "rollout", r.ID, "wave", r.Wave, "instances", strings.Join(ids, ","))
	_, err = c.client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(c.keys.rollout()), "=", v.rolloutRev)).Then(ops...).Commit()
	return err
}

// complete moves the config key to the candidate and ends the rollout,
// unless the key changed since the rollout started.
func (c *coordinator) complete(ctx context.Context, v view) error {
	r := v.rollout
	if v.keyRev != r.BaseRevision {
		return c.halt(ctx, v, fmt.Sprintf("%s changed during the rollout (revision %d, started from %d)", r.Key, v.keyRev, r.BaseRevision))
	}
	resp, err := c.client.Get(ctx, c.keys.candidate(r.ID))
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 {
		return c.halt(ctx, v, "the candidate key "+c.keys.candidate(r.ID)+" is missing")
	}
	next := *r
	next.State, next.Phase, next.WindowEnds = Completed, "", time.Time{}
	next.Coordinator, next.Updated = c.id, time.Now().UTC()
	data, err := json.Marshal(&next)
	if err != nil {
		return err
	}
	_, err = c.client.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(c.keys.rollout()), "=", v.rolloutRev),
		clientv3.Compare(clientv3.ModRevision(r.Key), "=", r.BaseRevision),
	).Then(
		clientv3.OpPut(r.Key, string(resp.Kvs[0].Value)),
		clientv3.OpDelete(c.keys.desiredAll(), clientv3.WithPrefix()),
		clientv3.OpPut(c.keys.rollout(), string(data)),
	).Commit()
	if err == nil {
		c.log.Info("fleet: rollout completed", "rollout", r.ID, "key", r.Key)
	}
	return err
}

// halt ends the rollout: every desired key goes, so every instance returns
// to the config key's value, the last good one.
func (c *coordinator) halt(ctx context.Context, v view, reason string) error {
	next := *v.rollout
	next.State, next.Reason, next.Phase, next.WindowEnds = Halted, reason, "", time.Time{}
	next.Coordinator, next.Updated = c.id, time.Now().UTC()
	data, err := json.Marshal(&next)
	if err != nil {
		return err
	}
	_, err = c.client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(c.keys.rollout()), "=", v.rolloutRev)).Then(
		clientv3.OpDelete(c.keys.desiredAll(), clientv3.WithPrefix()),
		clientv3.OpPut(c.keys.rollout(), string(data)),
	).Commit()
	if err == nil {
		c.log.Warn("fleet: rollout halted; every instance returns to the config key", "rollout", next.ID, "reason", reason)
	}
	return err
}

// write replaces the rollout record if nobody else did since v was read.
func (c *coordinator) write(ctx context.Context, v view, next *Rollout) error {
	next.Coordinator, next.Updated = c.id, time.Now().UTC()
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	_, err = c.client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(c.keys.rollout()), "=", v.rolloutRev)).
		Then(clientv3.OpPut(c.keys.rollout(), string(data))).Commit()
	return err
}

// read takes one consistent view of the rollout, the instances, the
// desired keys and the config key.
func (c *coordinator) read(ctx context.Context) (view, error) {
	resp, err := c.client.Txn(ctx).Then(
		clientv3.OpGet(c.keys.rollout()),
		clientv3.OpGet(c.keys.instances(), clientv3.WithPrefix()),
		clientv3.OpGet(c.keys.desiredAll(), clientv3.WithPrefix(), clientv3.WithKeysOnly()),
	).Commit()
	if err != nil {
		return view{}, err
	}
	v := view{instances: map[string]Instance{}, desired: map[string]int64{}}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return v, nil
	}
	if v.rollout, err = decodeRollout(kvs[0]); err != nil {
		return view{}, err
	}
	v.rolloutRev = kvs[0].ModRevision
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		var in Instance
		if err := json.Unmarshal(kv.Value, &in); err != nil {
			return view{}, hotreload.Errorf(hotreload.CodeInternal, "decoding instance %s: %w", kv.Key, err)
		}
		v.instances[in.ID] = in
	}
	for _, kv := range resp.Responses[2].GetResponseRange().Kvs {
		v.desired[strings.TrimPrefix(string(kv.Key), c.keys.desiredAll())] = kv.ModRevision
	}
	if !v.rollout.Done() {
		key, err := c.client.Get(ctx, v.rollout.Key, clientv3.WithKeysOnly())
		if err != nil {
			return view{}, err
		}
		if len(key.Kvs) > 0 {
			v.keyRev = key.Kvs[0].ModRevision
		}
	}
	return v, nil
}
