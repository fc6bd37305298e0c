package fleet_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/fleet"
	"github.com/cybercorp/hotreload/source/etcd"
	"github.com/cybercorp/hotreload/source/etcd/etcdtest"
)

// binary is the hotreload binary, built once.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hotreload-fleet-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hotreload")
	if out, err := exec.Command("go", "build", "-o", binary, "../cmd/hotreload").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building hotreload: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	key    = "/app/config.json"
	prefix = "/fleet/app"
)

// instance is one `hotreload serve` process of the fleet.
type instance struct {
	id   string
	args []string
	addr string
	log  *testwait.Output

	cmd  *exec.Cmd
	done chan struct{}
}

var banner = regexp.MustCompile(`on http://([0-9.:]+)/`)

// startInstance runs serve for id on the endpoints; it is stopped when the
// test ends.
func startInstance(t *testing.T, id string, endpoints []string) *instance {
	t.Helper()
	in := &instance{id: id, log: &testwait.Output{}, args: []string{
		"serve", "--mode", "dev",
		"--source", "etcd://" + strings.Join(endpoints, ",") + key,
		"--fleet", prefix, "--instance-id", id, "--fleet-ttl", "2s",
		"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0",
		"--health-window", "300ms", "--check-url-at", "/upstream",
	}}
	in.start(t)
	t.Cleanup(func() {
		in.stop()
		if t.Failed() {
			t.Logf("instance %s log (last 4000 bytes):\n%s", id, in.log.Tail(4000))
		}
	})
	return in
}

func (in *instance) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(binary, in.args...)
	cmd.Stderr = in.log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := banner.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	in.cmd, in.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(in.done)
	select {
	case a := <-addr:
		if in.addr == "" {
			in.addr = a
			// Restarts listen on the same address so the fleet sees the
			// same instance come back.
			in.args = append(in.args, "--listen", a)
		}
	case <-in.done:
		t.Fatalf("instance %s exited at start:\n%s", in.id, in.log.Tail(4000))
	case <-time.After(30 * time.Second):
		t.Fatalf("instance %s printed no banner in 30 s:\n%s", in.id, in.log.Tail(4000))
	}
}

// stop ends the process with SIGTERM (SIGKILL after 10 s).
func (in *instance) stop() {
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.done
	}
	in.cmd = nil
}

// kill ends the process with SIGKILL, as a crash.
func (in *instance) kill() {
	_ = in.cmd.Process.Kill()
	<-in.done
	in.cmd = nil
}

// get decodes GET path of the instance's admin API into v.
func (in *instance) get(path string, v any) error {
	resp, err := http.Get("http://" + in.addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// value returns the live config's "v", or -1 when unreadable.
func (in *instance) value() float64 {
	var c struct {
		Data map[string]any `json:"data"`
	}
	if err := in.get("/api/v1/config", &c); err != nil {
		return -1
	}
	if v, ok := c.Data["v"].(float64); ok {
		return v
	}
	return -1
}

// history returns the instance's history records.
func (in *instance) history(t *testing.T) []hotreload.Record {
	t.Helper()
	var h struct {
		Versions []hotreload.Record `json:"versions"`
	}
	if err := in.get("/api/v1/history", &h); err != nil {
		t.Fatalf("instance %s: %v", in.id, err)
	}
	return h.Versions
}

// etcdRevisions returns the etcd revisions of the committed versions in
// the instance's history that came from key k, in order.
func (in *instance) etcdRevisions(t *testing.T, k string) []int64 {
	t.Helper()
	var out []int64
	for _, r := range in.history(t) {
		for _, st := range r.Targets {
			if r.Result == hotreload.Committed && st.Meta[etcd.MetaKey] == k {
				n, _ := strconv.ParseInt(st.Meta[etcd.MetaRevision], 10, 64)
				out = append(out, n)
			}
		}
	}
	return out
}

// waitValues waits until every instance serves v=want.
func waitValues(t *testing.T, want float64, ins ...*instance) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var off []string
		for _, in := range ins {
			if got := in.value(); got != want {
				off = append(off, fmt.Sprintf("%s=%v", in.id, got))
			}
		}
		if len(off) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instances never all served v=%v: %s", want, strings.Join(off, " "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rollout runs `hotreload rollout` with doc as the candidate and returns
// its exit code and output. It may run on another goroutine than the
// test's, so it reports its own failures with Errorf and exit code -1.
func rollout(t *testing.T, endpoints []string, doc string, extra ...string) (int, string) {
	file := filepath.Join(t.TempDir(), "candidate.json")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Error(err)
		return -1, ""
	}
	args := append([]string{"rollout", "--endpoints", strings.Join(endpoints, ","), "--fleet", prefix, "--file", file}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Errorf("rollout: %v\n%s", err, out)
	return -1, string(out)
}

// waitRollout waits until the fleet's rollout satisfies ok.
func waitRollout(t *testing.T, c *clientv3.Client, what string, ok func(*fleet.Rollout) bool) *fleet.Rollout {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		f, err := fleet.Read(ctx, c, prefix)
		cancel()
		if err == nil && f.Rollout != nil && ok(f.Rollout) {
			return f.Rollout
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the rollout never reached: %s", what)
	return nil
}

// waitFleet waits until n instances are registered and returns the fleet.
func waitFleet(t *testing.T, c *clientv3.Client, n int) fleet.Fleet {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		f, err := fleet.Read(ctx, c, prefix)
		cancel()
		coordinators := 0
		for _, in := range f.Instances {
			if in.Coordinator {
				coordinators++
			}
		}
		if err == nil && len(f.Instances) == n && coordinators == 1 {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet never had %d instances and one coordinator: %+v (err %v)", n, f.Instances, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func doc(upstream string, v int) string {
	return fmt.Sprintf(`{"upstream": %q, "v": %d}`, upstream, v)
}

func TestFleet(t *testing.T) {
	cluster := etcdtest.Start(t, 3)
	eps := cluster.Endpoints()
	admin := cluster.Client(t)
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream broken", http.StatusInternalServerError)
	}))
	defer bad.Close()

	put(t, admin, key, doc(good.URL, 0))
	var ins []*instance
	for i := 1; i <= 4; i++ {
		ins = append(ins, startInstance(t, fmt.Sprintf("i%d", i), eps))
	}
	// i5 talks to the third member only, so that member's death cuts it off.
	ins = append(ins, startInstance(t, "i5", eps[2:]))
	waitValues(t, 0, ins...)
	waitFleet(t, admin, 5)

	t.Run("StatusListsTheFleet", func(t *testing.T) {
		out, err := exec.Command(binary, "fleet", "status", "--endpoints", strings.Join(eps, ","), "--fleet", prefix, "--json").Output()
		if err != nil {
			t.Fatal(err)
		}
		var f fleet.Fleet
		if err := json.Unmarshal(out, &f); err != nil {
			t.Fatalf("fleet status --json: %v\n%s", err, out)
		}
		if len(f.Instances) != 5 {
			t.Fatalf("fleet status lists %d instances, want 5:\n%s", len(f.Instances), out)
		}
		for _, in := range f.Instances {
			if in.Addr == "" || in.Version == 0 || in.Key != key || in.State != "serving" {
				t.Errorf("instance record %+v lacks its address, version, key or state", in)
			}
		}
		table, err := exec.Command(binary, "fleet", "status", "--endpoints", eps[0], "--fleet", prefix).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"INSTANCE", "i1", "i5", "serving"} {
			if !bytes.Contains(table, []byte(want)) {
				t.Errorf("fleet status table lacks %q:\n%s", want, table)
			}
		}
		var api fleet.Fleet
		if err := ins[0].get("/api/v1/fleet", &api); err != nil || len(api.Instances) != 5 {
			t.Errorf("GET /api/v1/fleet = %+v, %v; want 5 instances", api, err)
		}
	})

	t.Run("GoodChangeReachesAll", func(t *testing.T) {
		code, out := rollout(t, eps, doc(good.URL, 1), "--canary", "1", "--step", "2", "--window", "300ms")
		if code != 0 {
			t.Fatalf("rollout exit %d:\n%s", code, out)
		}
		waitValues(t, 1, ins...)
		value, rev, _, err := etcd.Get(context.Background(), admin, key)
		if err != nil || string(value) != doc(good.URL, 1) {
			t.Fatalf("config key = %q, %v; want the candidate once the rollout completed", value, err)
		}
		// Every instance committed the candidate from its desired key and
		// history recorded that key's revision.
		for _, in := range ins {
			desired, _ := fleet.DesiredKey(prefix, in.id)
			eventually(t, func() string {
				if revs := in.etcdRevisions(t, desired); len(revs) == 0 || revs[len(revs)-1] >= rev {
					return fmt.Sprintf("instance %s: committed revisions of %s = %v, want one before %d", in.id, desired, revs, rev)
				}
				return ""
			})
		}
	})

	t.Run("FailingCanaryHaltsAndReturns", func(t *testing.T) {
		_, startRev, _, err := etcd.Get(context.Background(), admin, key)
		if err != nil {
			t.Fatal(err)
		}
		code, out := rollout(t, eps, doc(bad.URL, 2), "--canary", "1", "--window", "300ms")
		if code != 1 || !strings.Contains(out, "halted") || !strings.Contains(out, "instance i1") {
			t.Fatalf("rollout exit %d, want 1 with the canary i1 named:\n%s", code, out)
		}
		waitValues(t, 1, ins...)
		eventually(t, func() string {
			for _, r := range ins[0].history(t) {
				if r.Result == hotreload.RolledBack {
					return ""
				}
			}
			return "the canary's history has no rolled-back version"
		})
		for _, in := range ins[1:] {
			desired, _ := fleet.DesiredKey(prefix, in.id)
			for _, r := range in.history(t) {
				for _, st := range r.Targets {
					if rev, _ := strconv.ParseInt(st.Meta[etcd.MetaRevision], 10, 64); st.Meta[etcd.MetaKey] == desired && rev > startRev {
						t.Errorf("instance %s: version %d (%s) came from the halted rollout", in.id, r.Version, r.Result)
					}
				}
			}
		}
		value, _, _, _ := etcd.Get(context.Background(), admin, key)
		if string(value) != doc(good.URL, 1) {
			t.Errorf("config key moved to %q after a halted rollout", value)
		}
	})

	t.Run("EtcdMemberKilledDuringRollout", func(t *testing.T) {
		type result struct {
			code int
			out  string
		}
		done := make(chan result, 1)
		go func() {
			code, out := rollout(t, eps, doc(good.URL, 3), "--canary", "1", "--step", "2", "--window", "700ms")
			done <- result{code, out}
		}()
		waitRollout(t, admin, "wave 2", func(r *fleet.Rollout) bool { return r.State == fleet.Running && r.Wave >= 2 })
		cluster.Members[0].Kill()
		res := <-done
		cluster.Members[0].Restart(t)
		if res.code != 0 {
			t.Fatalf("rollout exit %d with a member killed:\n%s", res.code, res.out)
		}
		waitValues(t, 3, ins...)
	})

	t.Run("CutOffInstanceCatchesUp", func(t *testing.T) {
		i5 := ins[4]
		m := cluster.Members[2]
		m.Kill()
		others := etcdtest.Client(t, eps[0], eps[1])
		rev4 := put(t, others, key, doc(good.URL, 4))
		rev5 := put(t, others, key, doc(good.URL, 5))
		waitValues(t, 5, ins[:4]...)
		if got := i5.value(); got != 3 {
			t.Fatalf("cut-off instance serves v=%v, want 3 until it is back", got)
		}
		m.Restart(t)
		waitValues(t, 5, i5)
		eventually(t, func() string {
			revs := i5.etcdRevisions(t, key)
			if len(revs) < 2 || revs[len(revs)-2] != rev4 || revs[len(revs)-1] != rev5 {
				return fmt.Sprintf("cut-off instance committed revisions %v of %s, want it to end with %d %d: each missed change, in order", revs, key, rev4, rev5)
			}
			return ""
		})
		waitFleet(t, admin, 5)
	})

	t.Run("RestartedInstanceResumesWhereItStopped", func(t *testing.T) {
		// i5 is down and cut off while the key changes twice; it starts
		// from its mirror without etcd, then applies both changes in order.
		i5, m := ins[4], cluster.Members[2]
		m.Kill()
		i5.stop()
		others := etcdtest.Client(t, eps[0], eps[1])
		rev6 := put(t, others, key, doc(good.URL, 6))
		rev7 := put(t, others, key, doc(good.URL, 7))
		i5.start(t)
		if got := i5.value(); got != 5 {
			t.Fatalf("instance restarted without etcd serves v=%v, want 5 from its mirror", got)
		}
		m.Restart(t)
		waitValues(t, 7, ins...)
		eventually(t, func() string {
			revs := i5.etcdRevisions(t, key)
			if len(revs) < 2 || revs[len(revs)-2] != rev6 || revs[len(revs)-1] != rev7 {
				return fmt.Sprintf("restarted instance committed revisions %v of %s, want it to end with %d %d", revs, key, rev6, rev7)
			}
			return ""
		})
		waitFleet(t, admin, 5)
	})

	t.Run("CoordinatorKilledMidRollout", func(t *testing.T) {
		f := waitFleet(t, admin, 5)
		var coord *instance
		for _, rec := range f.Instances {
			for _, in := range ins {
				if rec.Coordinator && rec.ID == in.id {
					coord = in
				}
			}
		}
		type result struct {
			code int
			out  string
		}
		done := make(chan result, 1)
		go func() {
			code, out := rollout(t, eps, doc(good.URL, 8), "--canary", "1", "--step", "2", "--window", "700ms")
			done <- result{code, out}
		}()
		waitRollout(t, admin, "wave 2", func(r *fleet.Rollout) bool { return r.State == fleet.Running && r.Wave >= 2 })
		coord.kill()
		res := <-done
		if res.code != 0 {
			t.Fatalf("rollout exit %d after its coordinator %s was killed:\n%s", res.code, coord.id, res.out)
		}
		end := waitRollout(t, admin, "completed", func(r *fleet.Rollout) bool { return r.Done() })
		if end.Coordinator == coord.id {
			t.Errorf("the killed coordinator %s finished the rollout", coord.id)
		}
		coord.start(t)
		waitValues(t, 8, ins...)
		waitFleet(t, admin, 5)
	})
}

// eventually polls check (for up to 10 s) until it returns "", and fails
// the test with its last answer otherwise.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// put writes k, retrying while the cluster elects a leader.
func put(t *testing.T, c *clientv3.Client, k, v string) int64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
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
