package fleet

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/source/etcd"
)

// Instance is what a member registers about itself.
type Instance struct {
	// ID names the instance in the fleet.
	ID string `json:"id"`
	// Addr is its admin API address.
	Addr string `json:"addr"`
	// Key is the config key it follows.
	Key string `json:"key"`
	// Version is its engine's active version.
	Version uint64 `json:"version"`
	// Digest is the SHA-256 of its active config.
	Digest string `json:"digest,omitempty"`
	// State is "serving", "degraded" (its last etcd value was not
	// committed) or "frozen" (automatic reloads are frozen).
	State string `json:"state"`
	// Health is its health monitor's verdict: passing or failing.
	Health string `json:"health"`
	// Last is what came of the last etcd value it was given.
	Last *etcd.Attempt `json:"last,omitempty"`
	// Coordinator is set on the member that coordinates rollouts.
	Coordinator bool `json:"coordinator"`
	// Updated is when the record was written.
	Updated time.Time `json:"updated"`
}

// Local is what a member reports about its own process.
type Local struct {
	// Version is the engine's active version.
	Version uint64
	// Digest is the SHA-256 of the active config.
	Digest string
	// Frozen is set while automatic reloads are frozen.
	Frozen bool
	// Health is passing or failing.
	Health string
}

// MemberOptions configure a Member.
type MemberOptions struct {
	// Client reaches etcd; the Member does not close it.
	Client *clientv3.Client
	// Prefix is the fleet's prefix.
	Prefix string
	// ID names this instance; unique in the fleet.
	ID string
	// Addr is this instance's admin API address.
	Addr string
	// Key is the config key the fleet follows.
	Key string
	// Local reports this process's version and health.
	Local func() Local
	// Coordinate campaigns for the coordinator's role.
	Coordinate bool
	// TTL is the lease of the registration and of the coordinator's
	// leadership: how long a dead member stays listed (10 s when 0,
	// rounded up to whole seconds).
	TTL time.Duration
	// Interval is how often the registration is refreshed and the
	// coordinator looks at the rollout (500 ms when 0).
	Interval time.Duration
	// Logger logs registration and coordination; nil discards.
	Logger *slog.Logger
}

// Member registers an instance in a fleet, reports what came of each
// value, and coordinates rollouts while it holds the election.
type Member struct {
	opts   MemberOptions
	keys   keys
	log    *slog.Logger
	kick   chan struct{}
	leader atomic.Bool

	mu   sync.Mutex
	last *etcd.Attempt
}

// NewMember checks opts and returns a Member; Run starts it.
func NewMember(opts MemberOptions) (*Member, error) {
	k, err := newKeys(opts.Prefix)
	if err != nil {
		return nil, err
	}
	if err := checkID(opts.ID); err != nil {
		return nil, err
	}
	switch {
	case opts.Client == nil:
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "fleet member: no etcd client")
	case opts.Key == "":
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "fleet member: no config key")
	case opts.Local == nil:
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "fleet member: no Local")
	case opts.TTL < 0 || opts.Interval < 0:
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "fleet member: negative TTL or interval")
	}
	if opts.TTL == 0 {
		opts.TTL = 10 * time.Second
	}
	if opts.Interval == 0 {
		opts.Interval = 500 * time.Millisecond
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Member{opts: opts, keys: k, log: log.With("fleet", string(k), "instance", opts.ID), kick: make(chan struct{}, 1)}, nil
}

// DesiredKey is the key whose value this instance runs during a rollout:
// give it to the etcd source as its override.
func (m *Member) DesiredKey() string { return m.keys.desired(m.opts.ID) }

// Attempted records what came of an etcd value; pass it as the etcd
// source's OnAttempt. It does not block.
func (m *Member) Attempted(a etcd.Attempt) {
	m.mu.Lock()
	m.last = &a
	m.mu.Unlock()
	m.poke()
}

// poke has the registration rewritten now.
func (m *Member) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Run registers the instance until ctx ends, taking a new lease whenever
// the old one is lost (etcd unreachable for longer than TTL), and
// coordinates rollouts while it wins the election. It returns nil when ctx
// ends; etcd errors are logged and retried.
func (m *Member) Run(ctx context.Context) error {
	ttl := int((m.opts.TTL + time.Second - 1) / time.Second)
	for ctx.Err() == nil {
		s, err := concurrency.NewSession(m.opts.Client, concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
		if err != nil {
			m.log.Warn("fleet: taking a lease", "err", err)
			sleep(ctx, m.opts.Interval)
			continue
		}
		m.serve(ctx, s)
		closing, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_, _ = m.opts.Client.Revoke(closing, s.Lease()) // leave the fleet now rather than after TTL
		cancel()
		_ = s.Close()
	}
	return nil
}

// serve registers under session s and, with Coordinate, campaigns, until s
// ends or ctx does.
func (m *Member) serve(ctx context.Context, s *concurrency.Session) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	if m.opts.Coordinate {
		wg.Go(func() { m.campaign(ctx, s) })
	}
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	var written []byte
	for {
		rec := m.record()
		data, err := json.Marshal(rec)
		if err == nil && string(data) != string(written) {
			rec.Updated = time.Now().UTC()
			data, _ = json.Marshal(rec)
			put, stop := context.WithTimeout(ctx, 2*time.Second)
			_, err = m.opts.Client.Put(put, m.keys.instance(m.opts.ID), string(data), clientv3.WithLease(s.Lease()))
			stop()
			if err == nil {
				rec.Updated = time.Time{}
				written, _ = json.Marshal(rec)
			} else if ctx.Err() == nil {
				m.log.Warn("fleet: registering", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.Done():
			m.log.Warn("fleet: lease lost; registering again")
			return
		case <-t.C:
		case <-m.kick:
		}
	}
}

// record is the instance's record now, without its Updated time.
func (m *Member) record() Instance {
	l := m.opts.Local()
	m.mu.Lock()
	last := m.last
	m.mu.Unlock()
	state := "serving"
	switch {
	case l.Frozen:
		state = "frozen"
	case last != nil && !last.OK():
		state = "degraded"
	}
	return Instance{
		ID: m.opts.ID, Addr: m.opts.Addr, Key: m.opts.Key, Version: l.Version, Digest: l.Digest,
		State: state, Health: l.Health, Last: last, Coordinator: m.leader.Load(),
	}
}

// campaign waits to win the election, then coordinates until ctx ends.
func (m *Member) campaign(ctx context.Context, s *concurrency.Session) {
	e := concurrency.NewElection(s, m.keys.election())
	if err := e.Campaign(ctx, m.opts.ID); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("fleet: campaigning", "err", err)
		}
		return
	}
	m.log.Info("fleet: coordinating rollouts")
	m.leader.Store(true)
	m.poke() // rewrite the record with Coordinator set
	defer func() {
		m.leader.Store(false)
		resign, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = e.Resign(resign)
		cancel()
	}()
	c := &coordinator{client: m.opts.Client, keys: m.keys, id: m.opts.ID, log: m.log}
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		if err := c.step(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("fleet: coordinating", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
