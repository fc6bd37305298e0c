package bench

// The dev loop benchmark: save-to-serving time and failed requests per
// restart for `hotreload dev` and for air on the same sample app
// (dev/testdata/app), in the same run, with 8 workers sending requests in a
// tight loop over keep-alive connections. The tools run side by side, each
// on its own copy, and their edits are interleaved. One iteration is one edit of the
// app's version.go; an edit counts as serving once a worker gets a reply
// with the new version, and as lost when none does within 20 s. air is
// installed with go install into a temporary GOBIN (version airVersion) and
// runs with its default settings (a 1 s delay after a change; the old
// process is killed, not drained, before the new one starts).
//
//	cd bench && go test -run '^$' -bench BenchmarkDevLoop -benchtime 20x -timeout 30m

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// airVersion is the air release measured.
const airVersion = "v1.67.4"

// devWorkers is how many goroutines send requests.
const devWorkers = 8

func BenchmarkDevLoop(b *testing.B) {
	tools := buildDevTools(b)
	hotreload := func(extra ...string) func(string) *exec.Cmd {
		return func(addr string) *exec.Cmd {
			return exec.Command(tools.hotreload, append([]string{"dev", "--listen", addr, "--ui", "off"}, extra...)...)
		}
	}
	air := func(addr string) *exec.Cmd {
		_, port, _ := net.SplitHostPort(addr)
		cmd := exec.Command(tools.air)
		cmd.Env = append(os.Environ(), "PORT="+port)
		return cmd
	}
	// The tools run side by side and their edits are interleaved, so that
	// the load of the shared machine weighs on each alike; only the tool
	// being edited gets requests.
	runs := []*devRun{
		startDevRun(b, "hotreload", hotreload()),
		startDevRun(b, "hotreload-debounce-1s", hotreload("--debounce", "1s")),
		startDevRun(b, "air", air),
	}
	for _, r := range runs {
		r.warmUp(b)
	}
	b.ResetTimer()
	for i := range b.N {
		for _, r := range runs {
			r.edit(b, fmt.Sprintf("edit-%d", i))
		}
	}
	b.StopTimer()
	for _, r := range runs {
		r.report(b)
	}
}

type devTools struct{ hotreload, air string }

var (
	devToolsOnce sync.Once
	devToolsVal  devTools
	devToolsErr  error
)

// buildDevTools builds hotreload from this repository and installs air,
// once per test binary.
func buildDevTools(b *testing.B) devTools {
	devToolsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bench-dev-tools-")
		if err != nil {
			devToolsErr = err
			return
		}
		devToolsVal = devTools{hotreload: filepath.Join(dir, "hotreload"), air: filepath.Join(dir, "air")}
		// Built in the repository's own module, whose go.sum covers the CLI.
		build := exec.Command("go", "build", "-o", devToolsVal.hotreload, "./cmd/hotreload")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			devToolsErr = fmt.Errorf("building hotreload: %v\n%s", err, out)
			return
		}
		install := exec.Command("go", "install", "github.com/air-verse/air@"+airVersion)
		install.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
		install.Dir = dir
		if out, err := install.CombinedOutput(); err != nil {
			devToolsErr = fmt.Errorf("installing air %s: %v\n%s", airVersion, err, out)
		}
	})
	if devToolsErr != nil {
		b.Fatal(devToolsErr)
	}
	return devToolsVal
}

// sampleModule copies the sample app into a fresh module that requires
// this repository through a replace directive.
func sampleModule(b *testing.B) string {
	b.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for _, name := range []string{"main.go", "version.go"} {
		data, err := os.ReadFile(filepath.Join(repo, "dev", "testdata", "app", name))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	gomod := fmt.Sprintf("module example.com/sample\n\ngo 1.26.0\n\nrequire github.com/cybercorp/hotreload v0.0.0\n\nreplace github.com/cybercorp/hotreload => %q\n", repo)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		b.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		b.Fatal(err)
	}
	list := exec.Command("go", "list", "-mod=mod", "-deps", ".")
	list.Dir = dir
	if out, err := list.CombinedOutput(); err != nil {
		b.Fatalf("preparing the sample module: %v\n%s", err, out)
	}
	return dir
}

// devRun is one tool running on its own copy of the sample app, with its
// 8 workers, which send requests only while the tool is being edited.
type devRun struct {
	name string
	dir  string
	log  string
	cmd  *exec.Cmd

	active     atomic.Bool
	ok, failed atomic.Int64
	want       atomic.Pointer[string] // the version the current edit asks for
	seen       atomic.Int64           // unix nanos of its first reply, 0 before
	took       []time.Duration
	lost       int
	stop       chan struct{}
	wg         sync.WaitGroup
}

// editTimeout bounds the wait for an edit to be served; an edit still not
// served then is counted as lost (air's new process can die binding the
// port the old one still holds: air then waits for the next save).
const editTimeout = 20 * time.Second

func startDevRun(b *testing.B, name string, start func(addr string) *exec.Cmd) *devRun {
	r := &devRun{name: name, dir: sampleModule(b), stop: make(chan struct{})}
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	r.cmd = start(addr)
	r.cmd.Dir = r.dir
	r.log = filepath.Join(r.dir, "tool.log")
	logf, err := os.Create(r.log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logf.Close() })
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.close)
	tr := &http.Transport{MaxIdleConnsPerHost: devWorkers}
	client := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	url := "http://" + addr + "/"
	for range devWorkers {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				select {
				case <-r.stop:
					return
				default:
				}
				if !r.active.Load() {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				resp, err := client.Get(url)
				if err != nil {
					r.failed.Add(1)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					r.failed.Add(1)
					continue
				}
				r.ok.Add(1)
				if w := r.want.Load(); w != nil && strings.HasPrefix(string(body), *w+" ") {
					r.seen.CompareAndSwap(0, time.Now().UnixNano())
				}
			}
		}()
	}
	return r
}

// save writes a new version and waits until it is served, at most
// editTimeout; the workers run meanwhile.
func (r *devRun) save(b *testing.B, version string) (time.Duration, bool) {
	b.Helper()
	r.seen.Store(0)
	r.want.Store(&version)
	r.active.Store(true)
	defer r.active.Store(false)
	src := fmt.Sprintf("package main\n\nconst version = %q\n", version)
	saved := time.Now()
	if err := os.WriteFile(filepath.Join(r.dir, "version.go"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	for r.seen.Load() == 0 {
		if time.Since(saved) > editTimeout {
			return 0, false
		}
		time.Sleep(time.Millisecond)
	}
	served := time.Unix(0, r.seen.Load()).Sub(saved)
	time.Sleep(500 * time.Millisecond) // requests keep going while the old process stops
	return served, true
}

// warmUp waits for the tool's first build, then clears the counters.
func (r *devRun) warmUp(b *testing.B) {
	if _, ok := r.save(b, "warm-up"); !ok {
		log, _ := os.ReadFile(r.log)
		b.Fatalf("%s: the first build was not served; output:\n%s", r.name, log)
	}
	r.ok.Store(0)
	r.failed.Store(0)
}

func (r *devRun) edit(b *testing.B, version string) {
	if d, ok := r.save(b, version); ok {
		r.took = append(r.took, d)
	} else {
		r.lost++
	}
}

func (r *devRun) report(b *testing.B) {
	n := float64(len(r.took) + r.lost)
	b.ReportMetric(float64(r.lost), r.name+"-lost-edits")
	b.ReportMetric(float64(r.failed.Load())/n, r.name+"-failed/restart")
	if len(r.took) == 0 {
		return
	}
	slices.Sort(r.took)
	pct := func(p float64) float64 { return float64(r.took[int(p*float64(len(r.took)-1))].Milliseconds()) }
	b.ReportMetric(pct(0.5), r.name+"-p50-ms")
	b.ReportMetric(pct(0.9), r.name+"-p90-ms")
}

// close stops the tool (SIGINT to its group, SIGKILL after 15 s) and the
// workers.
func (r *devRun) close() {
	close(r.stop)
	r.wg.Wait()
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}
