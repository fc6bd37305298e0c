package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cybercorp/hotreload"
)

// Meta keys a Source sets on every candidate (and so in history).
const (
	MetaKey      = "etcd_key"
	MetaRevision = "etcd_revision"
)

// A Reloader runs reload transactions: *hotreload.Engine.
type Reloader interface {
	Reload(ctx context.Context, r hotreload.Request) (hotreload.Outcome, error)
}

// Options configure a Source.
type Options struct {
	// Client reaches etcd; the Source does not close it.
	Client *clientv3.Client
	// Key holds the configuration.
	Key string
	// Override, when set, is a key whose value replaces Key's while it
	// exists (a fleet instance's desired value during a rollout).
	Override string
	// Target names the config target candidates are for.
	Target string
	// Engine runs the reloads.
	Engine Reloader
	// Mirror, when set, is a file the value is copied to (atomically)
	// whenever it is committed, so that a restart without etcd and a reload
	// from source both find the live configuration. Beside it, the file
	// Mirror+".revision" records the last revision proposed (see
	// ReadCheckpoint), from which the next run resumes.
	Mirror string
	// Resume is the last revision a previous run proposed: Run proposes
	// the state at that revision (normally what is live already), then
	// every later change in order, so that changes made while the process
	// was down are not skipped. 0 proposes the current value first.
	Resume int64
	// OnAttempt, when set, is told every value proposed and what came of
	// it.
	OnAttempt func(Attempt)
	// Retry is the pause before watching again after an error (1 s when 0).
	Retry time.Duration
	// Logger logs disconnects and resyncs; nil discards.
	Logger *slog.Logger
}

// Attempt is one value proposed to the engine and what came of it.
type Attempt struct {
	// Key is the key the value came from (Options.Key or Override).
	Key string `json:"key"`
	// Revision is the value's mod revision.
	Revision int64 `json:"revision"`
	// Result is the engine's result; empty when the engine refused to run
	// the request (Error says why).
	Result hotreload.Result `json:"result,omitempty"`
	// Version is the engine's version for the candidate.
	Version uint64 `json:"version,omitempty"`
	// Reason says why the value was not committed.
	Reason string `json:"reason,omitempty"`
	// At is when the attempt ended.
	At time.Time `json:"at"`
}

// OK reports whether the value is live: committed, or equal to what was.
func (a Attempt) OK() bool {
	return a.Result == hotreload.Committed || a.Result == hotreload.Unchanged
}

// Source follows an etcd key and proposes its values to the engine.
type Source struct {
	opts Options
	log  *slog.Logger

	seen int64 // highest revision whose state was proposed
	last struct {
		key string
		rev int64
	}
}

// New checks opts and returns a Source; Run starts it.
func New(opts Options) (*Source, error) {
	switch {
	case opts.Client == nil:
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "etcd source: no client")
	case opts.Key == "":
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "etcd source: no key")
	case opts.Engine == nil:
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "etcd source: no engine")
	case opts.Override == opts.Key:
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "etcd source: the override key is the key itself")
	}
	if opts.Target == "" {
		opts.Target = "config"
	}
	if opts.Retry == 0 {
		opts.Retry = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{opts: opts, log: log.With("etcd_key", opts.Key)}, nil
}

// Run proposes the current value, then every later one, until ctx ends.
// It returns nil when ctx ends; etcd errors are logged and retried.
func (s *Source) Run(ctx context.Context) error {
	resync, at := true, s.opts.Resume
	for {
		if resync {
			if err := s.sync(ctx, at); errors.Is(err, rpctypes.ErrCompacted) || errors.Is(err, rpctypes.ErrFutureRev) {
				// Compacted away, or from before the cluster was restored
				// from a backup.
				s.log.Warn("cannot resume from the last revision proposed; reading the current value", "resume", at, "err", err)
				at = 0
				continue
			} else if err != nil {
				if !s.pause(ctx, "reading the key", err) {
					return nil
				}
				continue
			}
			resync = false
		}
		err := s.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, rpctypes.ErrCompacted) {
			s.log.Warn("etcd compacted the revisions after the last one seen; reading the current value", "seen", s.seen)
			resync, at = true, 0
			continue
		}
		if !s.pause(ctx, fmt.Sprintf("watching from revision %d", s.seen+1), err) {
			return nil
		}
	}
}

// pause logs err and waits Retry; it reports false when ctx ended.
func (s *Source) pause(ctx context.Context, doing string, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	s.log.Warn("etcd source: "+doing, "err", err)
	t := time.NewTimer(s.opts.Retry)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// sync proposes the state at rev (the current one when 0).
func (s *Source) sync(ctx context.Context, rev int64) error {
	kv, rev, err := s.read(ctx, rev)
	if err != nil {
		return err
	}
	return s.proposeAt(ctx, kv, rev)
}

// proposeAt proposes kv, read at rev, then checkpoints rev as seen.
func (s *Source) proposeAt(ctx context.Context, kv *mvccpb.KeyValue, rev int64) error {
	s.seen = rev
	if err := s.propose(ctx, kv); err != nil {
		return err
	}
	s.checkpoint()
	return nil
}

// follow watches both keys from the revision after the last one seen and
// proposes the state at each event's revision, in order. It returns when a
// watch ends (an error, a cancelled watch, a compaction).
func (s *Source) follow(ctx context.Context) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	from := s.seen + 1
	main := s.opts.Client.Watch(wctx, s.opts.Key, clientv3.WithRev(from))
	var over clientv3.WatchChan
	if s.opts.Override != "" {
		over = s.opts.Client.Watch(wctx, s.opts.Override, clientv3.WithRev(from))
	}
	for {
		var (
			r  clientv3.WatchResponse
			ok bool
		)
		select {
		case r, ok = <-main:
		case r, ok = <-over:
		}
		if !ok {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errors.New("the watch ended")
		}
		if err := r.Err(); err != nil {
			return err
		}
		for _, ev := range r.Events {
			rev := ev.Kv.ModRevision
			if rev <= s.seen {
				continue // seen through the other key's watch
			}
			kv, _, err := s.read(ctx, rev)
			if err != nil {
				return err
			}
			if err := s.proposeAt(ctx, kv, rev); err != nil {
				return err
			}
		}
	}
}

// read returns the value in force at rev (the latest when 0): the
// override's when it exists, else the key's (nil when neither exists), and
// the revision read.
func (s *Source) read(ctx context.Context, rev int64) (*mvccpb.KeyValue, int64, error) {
	var opts []clientv3.OpOption
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	ops := []clientv3.Op{clientv3.OpGet(s.opts.Key, opts...)}
	if s.opts.Override != "" {
		ops = append(ops, clientv3.OpGet(s.opts.Override, opts...))
	}
	resp, err := s.opts.Client.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, 0, err
	}
	var kv *mvccpb.KeyValue
	for _, r := range resp.Responses {
		if kvs := r.GetResponseRange().Kvs; len(kvs) > 0 {
			kv = kvs[0] // the override, read last, wins
		}
	}
	if rev == 0 {
		rev = resp.Header.Revision
	}
	return kv, rev, nil
}

// propose hands kv's value to the engine unless it is the value last
// proposed. Only a cancelled ctx is returned as an error.
func (s *Source) propose(ctx context.Context, kv *mvccpb.KeyValue) error {
	if kv == nil {
		s.log.Warn("the etcd key does not exist; keeping the live configuration")
		return nil
	}
	key := string(kv.Key)
	if s.last.key == key && s.last.rev == kv.ModRevision {
		return nil
	}
	a := Attempt{Key: key, Revision: kv.ModRevision}
	if len(kv.Value) == 0 {
		a.Result, a.Reason = hotreload.Rejected, "the etcd value is empty"
	} else {
		o, err := s.opts.Engine.Reload(ctx, hotreload.Request{Source: hotreload.SourceEtcd, Candidates: []hotreload.Candidate{{
			Target:  s.opts.Target,
			Content: kv.Value,
			Meta:    map[string]string{MetaKey: key, MetaRevision: strconv.FormatInt(kv.ModRevision, 10)},
		}}})
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			a.Reason = err.Error()
		} else {
			a.Result, a.Version, a.Reason = o.Result, o.Version, o.Reason
		}
	}
	a.At = time.Now()
	s.last.key, s.last.rev = key, kv.ModRevision
	s.log.Info("etcd value proposed", "key", key, "revision", a.Revision, "result", a.Result, "version", a.Version, "reason", a.Reason)
	if a.OK() && s.opts.Mirror != "" {
		if err := WriteFile(s.opts.Mirror, kv.Value); err != nil {
			s.log.Error("mirroring the etcd value", "file", s.opts.Mirror, "err", err)
		}
	}
	if s.opts.OnAttempt != nil {
		s.opts.OnAttempt(a)
	}
	return nil
}

// checkpoint records the last revision proposed beside the mirror.
func (s *Source) checkpoint() {
	if s.opts.Mirror == "" {
		return
	}
	if err := WriteCheckpoint(s.opts.Mirror, s.seen); err != nil {
		s.log.Error("recording the last etcd revision proposed", "err", err)
	}
}

// WriteCheckpoint records rev as the last revision proposed from the etcd
// value mirrored in mirror.
func WriteCheckpoint(mirror string, rev int64) error {
	return WriteFile(mirror+".revision", []byte(strconv.FormatInt(rev, 10)+"\n"))
}

// ReadCheckpoint returns the revision WriteCheckpoint recorded beside
// mirror, or 0 when there is none.
func ReadCheckpoint(mirror string) (int64, error) {
	b, err := os.ReadFile(mirror + ".revision")
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	rev, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || rev < 0 {
		return 0, hotreload.Errorf(hotreload.CodeInvalid, "%s.revision holds %q, not a revision", mirror, b)
	}
	return rev, nil
}

// Get returns key's value and mod revision; found is false when the key
// does not exist.
func Get(ctx context.Context, c *clientv3.Client, key string) (value []byte, rev int64, found bool, err error) {
	resp, err := c.Get(ctx, key)
	if err != nil {
		return nil, 0, false, hotreload.Errorf(hotreload.CodeUnavailable, "reading etcd key %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, resp.Header.Revision, false, nil
	}
	return resp.Kvs[0].Value, resp.Kvs[0].ModRevision, true, nil
}

// WriteFile writes data to file atomically (temporary file, fsync,
// rename), creating its directory.
func WriteFile(file string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
