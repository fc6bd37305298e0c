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
	"sync"
	"time"

	"github.com/spf13/cobra"
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
// reads it. On the first start it copies the current value there; later
// starts begin from the last value committed (without waiting for etcd) and
// the source then applies every change made since, in order. It returns nil
// without --source.
func prepareEtcd(cmd *cobra.Command, opts *daemonOptions, o etcdOptions) (*etcdSource, error) {
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
	c, err := connectEtcd(o.Client)
	if err != nil {
		return nil, err
	}
	s := &etcdSource{opts: o, url: u, client: c, mirror: filepath.Join(opts.DataDir, "etcd", "config"+formatExt(u.Key))}
	if s.resume, err = etcd.ReadCheckpoint(s.mirror); err != nil {
		c.Close()
		return nil, err
	}
	if _, statErr := os.Stat(s.mirror); s.resume == 0 || statErr != nil {
		if err := s.fetch(cmd.Context()); err != nil {
			c.Close()
			return nil, err
		}
	}
	opts.ConfigFiles = []string{s.mirror}
	opts.Watch = false // the etcd watch replaces the file watch
	return s, nil
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

// start (a no-op on a nil s) follows the key (and, with --fleet, the instance's desired key),
// registers the instance and mounts GET /api/v1/fleet. Everything it
// starts stops at the daemon's shutdown. On error it stops what it started.
func (s *etcdSource) start(ctx context.Context, d *daemon, t *config.Target[map[string]any], ln net.Listener) error {
	if s == nil {
		return nil
	}
	if s.opts.CheckURLAt != "" {
		if err := addURLCheck(d, t, s.opts.CheckURLAt); err != nil {
			s.client.Close()
			return err
		}
	}
	src := etcd.Options{
		Client: s.client, Key: s.url.Key, Target: t.Name(), Engine: d.engine, Mirror: s.mirror, Resume: s.resume, Logger: d.log,
	}
	var member *fleet.Member
	if s.opts.Fleet != "" {
		id := s.opts.InstanceID
		if id == "" {
			host, _ := os.Hostname()
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			id = strings.ReplaceAll(host, "/", "-") + "-" + port
		}
		m, err := fleet.NewMember(fleet.MemberOptions{
			Client: s.client, Prefix: s.opts.Fleet, ID: id, Addr: ln.Addr().String(), Key: s.url.Key,
			Local: func() fleet.Local { return localState(d, t.Name()) }, Coordinate: true,
			TTL: s.opts.FleetTTL, Logger: d.log,
		})
		if err != nil {
			s.client.Close()
			return err
		}
		member = m
		// The attempt's reason goes into the fleet's keys: no plaintext.
		src.Override, src.OnAttempt = m.DesiredKey(), func(a etcd.Attempt) {
			a.Reason = d.secrets.Scrub(a.Reason)
			m.Attempted(a)
		}
		d.admin.Mount("GET /api/v1/fleet", auth.Viewer, fleet.Handler(s.client, s.opts.Fleet))
	}
	source, err := etcd.New(src)
	if err != nil {
		s.client.Close()
		return err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = source.Run(runCtx) })
	if member != nil {
		wg.Go(func() { _ = member.Run(runCtx) })
	}
	d.closers = append(d.closers, func() {
		stop()
		wg.Wait()
		_ = s.client.Close()
	})
	return nil
}

// localState is what the fleet registration says about this daemon.
func localState(d *daemon, target string) fleet.Local {
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
func addURLCheck(d *daemon, t *config.Target[map[string]any], pointer string) error {
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
