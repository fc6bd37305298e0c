package admin

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/audit"
)

// Denials are cheap: a request refused at the choke point (no token, a bad
// one, too weak a role, a foreign Host or Origin) costs no fsync of its own.
// Refusals are counted per remote address and written to the audit log as
// one summary record per address and interval; an address refused more than
// Options.MaxDenials times in an interval gets 429 until the interval ends.
const (
	// DenialInterval is how often refusals are summarised in the audit log.
	DenialInterval = 10 * time.Second
	// DefaultMaxDenials is how many refusals an address may collect in one
	// interval before it is answered 429 Too Many Requests.
	DefaultMaxDenials = 100
)

// denials counts the refusals of the current interval.
type denials struct {
	mu       sync.Mutex
	byRemote map[string]*denialCount
	since    time.Time
}

// denialCount is one address's refusals in the interval.
type denialCount struct {
	n       int
	limited int            // answered 429
	actions map[string]int // "POST /api/v1/reload: unauthorized" -> count
}

// deny counts a refusal of r and reports whether the address is over its
// limit (the request is then answered 429).
func (d *denials) deny(r *http.Request, pattern string, err error, max int) (limited bool) {
	remote := r.RemoteAddr
	if host, _, e := net.SplitHostPort(remote); e == nil {
		remote = host
	}
	if pattern == "" {
		pattern = r.Method + " " + r.URL.Path
	}
	action := pattern + ": " + string(hotreload.ErrorCode(err))
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byRemote == nil {
		d.byRemote = map[string]*denialCount{}
	}
	c := d.byRemote[remote]
	if c == nil {
		c = &denialCount{actions: map[string]int{}}
		d.byRemote[remote] = c
	}
	c.n++
	if len(c.actions) < 16 || c.actions[action] > 0 { // bounded whatever the paths
		c.actions[action]++
	}
	if max > 0 && c.n > max {
		c.limited++
		return true
	}
	return false
}

// take returns the interval's counts and starts a new interval.
func (d *denials) take(now time.Time) (map[string]*denialCount, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out, took := d.byRemote, now.Sub(d.since)
	d.byRemote, d.since = nil, now
	return out, took
}

// summarise writes one audit record per address refused in the interval.
func (s *Server) summariseDenials(now time.Time) {
	counts, took := s.denials.take(now)
	for _, remote := range slices.Sorted(maps.Keys(counts)) {
		c := counts[remote]
		var parts []string
		for _, a := range slices.Sorted(maps.Keys(c.actions)) {
			parts = append(parts, fmt.Sprintf("%d× %s", c.actions[a], a))
		}
		if c.limited > 0 {
			parts = append(parts, fmt.Sprintf("%d answered 429", c.limited))
		}
		e := audit.Entry{
			Kind: audit.KindDenied, Source: hotreload.SourceAPI, Remote: remote, Action: "refused requests",
			Result: "denied", Reason: fmt.Sprintf("%d requests refused in %s: %s", c.n, took.Round(time.Second), strings.Join(parts, ", ")),
			VersionBefore: s.opts.Engine.Status().Active,
		}
		ctx, cancel := context.WithTimeout(context.Background(), audit.DefaultTimeout)
		if err := s.opts.Audit.Append(ctx, e); err != nil {
			s.log.Error("recording refused requests in the audit log", "err", err)
		}
		cancel()
	}
}

// runDenials summarises refusals every DenialInterval until the server
// closes, then once more.
func (s *Server) runDenials() {
	defer close(s.denialsDone)
	tick := time.NewTicker(DenialInterval)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			s.summariseDenials(now)
		case <-s.ctx.Done():
			s.summariseDenials(time.Now())
			return
		}
	}
}
