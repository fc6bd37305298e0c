package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin/auth"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/fleet"
	"github.com/cybercorp/hotreload/health"
	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/cybercorp/hotreload/source/etcd"
)

// etcdOptions are serve's flags for an etcd source and a fleet.
type etcdOptions struct {
	Source     string
	Client     etcd.ClientOptions
	Fleet      string
	InstanceID string
	FleetTTL   time.Duration
	CheckURLAt string
}

// addEtcdFlags adds the etcd and fleet flags to serve's flag set.
func addEtcdFlags(f *pflag.FlagSet, o *etcdOptions) {
	f.StringVar(&o.Source, "source", "", "etcd://HOST:PORT[,HOST:PORT]/KEY: the config is the value of this etcd key (instead of --config)")
	addEtcdClientFlags(f, &o.Client)
	f.StringVar(&o.Fleet, "fleet", "", "register in the fleet at this etcd prefix and take part in its rollouts (needs --source)")
	f.StringVar(&o.InstanceID, "instance-id", "", "this instance's id in the fleet (default HOSTNAME-PORT)")
	positiveDuration(f, &o.FleetTTL, "fleet-ttl", 10*time.Second, "lease of the fleet registration: how long a dead instance (or coordinator) stays listed")
	f.StringVar(&o.CheckURLAt, "check-url-at", "", "JSON pointer to a URL in the config; a critical health check GETs it, so a change pointing at an unhealthy endpoint rolls back")
}

// addEtcdClientFlags adds the TLS and auth flags every etcd client takes.
func addEtcdClientFlags(f *pflag.FlagSet, o *etcd.ClientOptions) {
	f.StringVar(&o.CACert, "etcd-cacert", "", "PEM CA of the etcd members (turns TLS on)")
	f.StringVar(&o.Cert, "etcd-cert", "", "PEM client certificate for etcd")
	f.StringVar(&o.Key, "etcd-key", "", "PEM key of --etcd-cert")
	f.StringVar(&o.Username, "etcd-user", "", "etcd user, when etcd auth is on")
	f.StringVar(&o.Password, "etcd-password", "", "password of --etcd-user (or env HOTRELOAD_ETCD_PASSWORD)")
}

// etcdPasswordEnv is read when --etcd-password is not given.
const etcdPasswordEnv = "HOTRELOAD_ETCD_PASSWORD"

// connectEtcd fills the password from the environment and connects.
func connectEtcd(o etcd.ClientOptions) (*clientv3.Client, error) {
	if o.Password == "" {
		o.Password = os.Getenv(etcdPasswordEnv)
	}
	return etcd.Connect(o)
}

// etcdSource is an etcd source being set up for serve.
type etcdSource struct {
	opts   etcdOptions
	url    etcd.URL
	client *clientv3.Client
	mirror string
	resume int64 // the last revision proposed, from the checkpoint
}

// prepareEtcd checks the flags and, with --source, makes the mirror of the
// etcd value in the data dir the daemon's config file: a reload from source
// reads it. It returns nil without --source. Nothing is connected until
// the daemon's list calls connect.
func prepareEtcd(opts *daemonOptions, o etcdOptions) (*etcdSource, error) {
	if o.Source == "" {
		switch {
		case o.Fleet != "":
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "--fleet needs --source etcd://HOST:PORT/KEY")
		case len(opts.ConfigFiles) == 0:
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "give --config FILE or --source etcd://HOST:PORT/KEY")
		}
		return nil, nil
	}
	u, err := etcd.ParseURL(o.Source)
	if err != nil {
		return nil, err
	}
	if len(opts.ConfigFiles) > 0 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "--config and --source are exclusive: with an etcd source the etcd value is the config")
	}
	if opts.DataDir == "" {
		opts.DataDir = ".hotreload"
	}
	o.Client.Endpoints = u.Endpoints
	s := &etcdSource{opts: o, url: u, mirror: filepath.Join(opts.DataDir, "etcd", "config"+formatExt(u.Key))}
	opts.ConfigFiles = []string{s.mirror}
	opts.Watch = false // the etcd watch replaces the file watch
	return s, nil
}

// connect connects to etcd and, on the first start, copies the current
// value to the mirror; later starts begin from the last value committed
// (without waiting for etcd) and the source then applies every change made
// since, in order. The part it returns closes the client.
func (s *etcdSource) connect(ctx context.Context) (closeFunc, error) {
	c, err := connectEtcd(s.opts.Client)
	if err != nil {
		return nil, err
	}
	s.client = c
	if s.resume, err = etcd.ReadCheckpoint(s.mirror); err != nil {
		c.Close()
		return nil, err
	}
	if _, statErr := os.Stat(s.mirror); s.resume == 0 || statErr != nil {
		if err := s.fetch(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c.Close, nil
}

// formatExt returns the config file extension a key's name implies, .json
// when it implies none.
func formatExt(key string) string {
	ext := path.Ext(key)
	if _, err := config.FormatOf("x" + ext); err != nil || ext == "" {
		return ".json"
	}
	return ext
}

// fetch copies the key's current value to the mirror and records the
// revision it read.
func (s *etcdSource) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := s.client.Get(ctx, s.url.Key)
	switch {
	case err != nil:
		return hotreload.Errorf(hotreload.CodeUnavailable, "reading the config from etcd key %s: %w", s.url.Key, err)
	case len(resp.Kvs) == 0 || len(resp.Kvs[0].Value) == 0:
		return hotreload.Errorf(hotreload.CodeNotFound, "etcd key %s is empty or does not exist; put the config there first (etcdctl put %s < app.json)", s.url.Key, s.url.Key)
	}
	if err := etcd.WriteFile(s.mirror, resp.Kvs[0].Value); err != nil {
		return fmt.Errorf("mirroring the etcd value: %w", err)
	}
	s.resume = resp.Header.Revision
	return etcd.WriteCheckpoint(s.mirror, s.resume)
}

// parts are the triggers that follow the key (and, with --fleet, the
// instance's desired key) for the config target t, the fleet registration,
// and GET /api/v1/fleet. The client is closed by connect's part.
func (s *etcdSource) parts(sv *services, t *config.Target[map[string]any]) ([]any, error) {
	if s.opts.CheckURLAt != "" {
		if err := addURLCheck(sv, t, s.opts.CheckURLAt); err != nil {
			return nil, err
		}
	}
	src := etcd.Options{
		Client: s.client, Key: s.url.Key, Target: t.Name(), Engine: sv.engine, Mirror: s.mirror, Resume: s.resume, Logger: sv.log,
	}
	var parts []any
	if s.opts.Fleet != "" {
		id := s.opts.InstanceID
		if id == "" {
			host, _ := os.Hostname()
			_, port, _ := net.SplitHostPort(sv.addr)
			id = strings.ReplaceAll(host, "/", "-") + "-" + port
		}
		m, err := fleet.NewMember(fleet.MemberOptions{
			Client: s.client, Prefix: s.opts.Fleet, ID: id, Addr: sv.addr, Key: s.url.Key,
			Local: func() fleet.Local { return localState(sv, t.Name()) }, Coordinate: true,
			TTL: s.opts.FleetTTL, Logger: sv.log,
		})
		if err != nil {
			return nil, err
		}
		// The attempt's reason goes into the fleet's keys: no plaintext.
		src.Override, src.OnAttempt = m.DesiredKey(), func(a etcd.Attempt) {
			a.Reason = sv.secrets.Scrub(a.Reason)
			m.Attempted(a)
		}
		parts = append(parts, runTrigger(m.Run), routes{{Pattern: "GET /api/v1/fleet", Role: auth.Viewer, Handler: fleet.Handler(s.client, s.opts.Fleet)}})
	}
	source, err := etcd.New(src)
	if err != nil {
		return nil, err
	}
	return append(parts, runTrigger(source.Run)), nil
}

// runTrigger is a trigger that runs until its context ends and submits through
// an engine of its own (etcd.Options.Engine).
func runTrigger(fn func(context.Context) error) hotreload.TriggerFunc {
	return func(ctx context.Context, _ hotreload.SubmitFunc) error { return fn(ctx) }
}

// localState is what the fleet registration says about this daemon.
func localState(d *services, target string) fleet.Local {
	st := d.engine.Status()
	l := fleet.Local{Version: st.Active, Frozen: st.Frozen, Health: string(d.monitor.Summary().State)}
	for _, ts := range st.Targets {
		if ts.Name == target {
			l.Digest = ts.Digest
		}
	}
	return l
}

// addURLCheck adds the critical "config-url" check: a GET of the URL the
// live config holds at pointer.
func addURLCheck(d *services, t *config.Target[map[string]any], pointer string) error {
	if pointer != "" && !strings.HasPrefix(pointer, "/") {
		return hotreload.Errorf(hotreload.CodeInvalid, "--check-url-at %q: want a JSON pointer such as /upstream/url", pointer)
	}
	check := health.CheckFunc(func(ctx context.Context) error {
		snap := t.Store().Snapshot()
		if snap == nil {
			return errors.New("no config loaded yet")
		}
		v := snap.Data
		for _, tok := range jsondiff.Split(pointer) {
			m, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("config has no %s", pointer)
			}
			v = m[tok]
		}
		u, ok := v.(string)
		if !ok || u == "" {
			return fmt.Errorf("config %s is not a URL", pointer)
		}
		return health.HTTPCheck{URL: u, MaxLatency: 2 * time.Second}.Check(ctx)
	})
	return d.monitor.Add("config-url", check, health.CheckOptions{Critical: true, Interval: time.Second, Timeout: 2 * time.Second})
}
