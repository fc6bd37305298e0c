package integration

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"
	"github.com/cybercorp/hotreload/source/etcd/etcdtest"
)

// fleetAnswer is the part of GET /api/v1/fleet the fleet panel shows.
type fleetAnswer struct {
	Instances []struct {
		ID      string `json:"id"`
		Addr    string `json:"addr"`
		Version uint64 `json:"version"`
		State   string `json:"state"`
		Health  string `json:"health"`
	} `json:"instances"`
	Rollout *struct {
		State  string     `json:"state"`
		Wave   int        `json:"wave"`
		Waves  [][]string `json:"waves"`
		Reason string     `json:"reason"`
	} `json:"rollout"`
}

// TestDashboardShowsTheFleet runs two fleet members on a real etcd and
// checks that the fleet panel shows what GET /api/v1/fleet says within a
// second: the instances, a rollout running its canary wave and completing,
// and a rollout halted by an invalid candidate with the reason. A daemon
// that is no fleet member hides the panel (TestDashboardTellsTheStory's
// daemon answers 404).
func TestDashboardShowsTheFleet(t *testing.T) {
	browser(t)
	bin := buildHotreload(t)
	cluster := etcdtest.Start(t, 1)
	eps := strings.Join(cluster.Endpoints(), ",")
	const key, prefix = "/dash/config.json", "/fleet/dash"
	ctx, cancel := context.WithTimeout(context.Background(), testwait.D(10*time.Second))
	defer cancel()
	if _, err := cluster.Client(t).Put(ctx, key, `{"greeting": "hello"}`); err != nil {
		t.Fatal(err)
	}
	var a *daemon
	for _, id := range []string{"a", "b"} {
		d := startDaemon(t, bin, "--mode", "dev", "--source", "etcd://"+eps+key, "--fleet", prefix, "--instance-id", id,
			"--fleet-ttl", "2s", "--data-dir", t.TempDir(), "--health-window", "300ms")
		if a == nil {
			a = d
		}
	}
	tab := tabPlain(t, a.URL+"/")
	var f fleetAnswer
	instances := func() any {
		a.call(t, "GET", "/api/v1/fleet", "", &f)
		out := [][]any{}
		for _, i := range f.Instances {
			out = append(out, []any{i.ID, i.Addr, fmt.Sprintf("v%d", i.Version), i.State, i.Health})
		}
		return out
	}
	const pageInstances = `[...document.querySelectorAll('#fleet tr[data-instance]')].map(r => [r.dataset.instance, r.cells[1].textContent, r.cells[2].textContent, r.cells[3].firstChild.textContent, r.cells[4].textContent])`
	testwait.For(t, "both instances registered", 10*time.Second, func() bool {
		a.call(t, "GET", "/api/v1/fleet", "", &f)
		return len(f.Instances) == 2
	})
	within(t, tab, "the instances", pageInstances, instances)

	rollout := func() any {
		a.call(t, "GET", "/api/v1/fleet", "", &f)
		if f.Rollout == nil {
			return nil
		}
		r := f.Rollout
		reason := ""
		if r.Reason != "" {
			reason = " — " + r.Reason
		}
		return []any{r.State, r.Wave, len(r.Waves), r.Waves[0], reason}
	}
	const pageRollout = `document.getElementById('rollout-state') && [document.getElementById('rollout-state').dataset.state, +document.getElementById('rollout-state').dataset.wave, document.querySelectorAll('#waves li').length, document.querySelector('#waves li[data-wave="1"]').dataset.instances.split(' '), document.querySelector('#rollout-state .reason')?.textContent || '']`
	start := func(candidate string) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "candidate.json")
		writeFile(t, file, candidate)
		out, err := exec.Command(bin, "rollout", "--endpoints", eps, "--fleet", prefix, "--file", file,
			"--canary", "1", "--window", "2s", "--detach").CombinedOutput()
		if err != nil {
			t.Fatalf("hotreload rollout: %v\n%s", err, out)
		}
	}

	// A good candidate: the canary wave, then the rest, then completed.
	start(`{"greeting": "hi"}`)
	within(t, tab, "the running rollout", pageRollout, rollout)
	testwait.For(t, "the rollout to complete", 30*time.Second, func() bool {
		a.call(t, "GET", "/api/v1/fleet", "", &f)
		return f.Rollout != nil && f.Rollout.State == "completed"
	})
	within(t, tab, "the completed rollout", pageRollout, rollout)
	within(t, tab, "the instances on the new version", pageInstances, instances)

	// An invalid candidate: the canary rejects it, the rollout halts and
	// the panel says why.
	start(`{"greeting": `)
	testwait.For(t, "the rollout to halt", 30*time.Second, func() bool {
		a.call(t, "GET", "/api/v1/fleet", "", &f)
		return f.Rollout != nil && f.Rollout.State == "halted"
	})
	within(t, tab, "the halted rollout and its reason", pageRollout, rollout)
	screenshotOf(t, tab, "#fleet-card", "dashboard-fleet.png")
}
