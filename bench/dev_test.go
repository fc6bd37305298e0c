package bench

// The dev loop benchmark: save-to-serving time and failed requests per
// restart for `hotreload dev` and for air on the same sample app
// (dev/testdata/app), in the same run, with 8 workers sending requests in a
// tight loop over keep-alive connections. One iteration is one edit of the
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
	b.Run("tool=hotreload-dev", func(b *testing.B) {
		runDevLoop(b, func(dir, addr string) *exec.Cmd {
			return exec.Command(tools.hotreload, "dev", "--listen", addr, "--ui", "off")
		})
	})
	b.Run("tool=hotreload-dev-debounce-1s", func(b *testing.B) {
		runDevLoop(b, func(dir, addr string) *exec.Cmd {
			return exec.Command(tools.hotreload, "dev", "--listen", addr, "--ui", "off", "--debounce", "1s")
		})
	})
	b.Run("tool=air", func(b *testing.B) {
		runDevLoop(b, func(dir, addr string) *exec.Cmd {
			_, port, _ := net.SplitHostPort(addr)
			cmd := exec.Command(tools.air)
			cmd.Env = append(os.Environ(), "PORT="+port)
			return cmd
		})
	})
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

// devLoad is the 8 workers and what they saw.
type devLoad struct {
	ok, failed atomic.Int64
	want       atomic.Pointer[string] // the version the current edit asks for
	seen       atomic.Int64           // unix nanos of its first reply, 0 before
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startDevLoad(url string) *devLoad {
	l := &devLoad{stop: make(chan struct{})}
	tr := &http.Transport{MaxIdleConnsPerHost: devWorkers}
	client := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	for range devWorkers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := client.Get(url)
				if err != nil {
					l.failed.Add(1)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					l.failed.Add(1)
					continue
				}
				l.ok.Add(1)
				if w := l.want.Load(); w != nil && strings.HasPrefix(string(body), *w+" ") {
					l.seen.CompareAndSwap(0, time.Now().UnixNano())
				}
			}
		}()
	}
	return l
}

func (l *devLoad) close() {
	close(l.stop)
	l.wg.Wait()
}

// runDevLoop starts a tool on the sample module and edits it b.N times.
func runDevLoop(b *testing.B, start func(dir, addr string) *exec.Cmd) {
	dir := sampleModule(b)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	cmd := start(dir, addr)
	cmd.Dir = dir
	logf, err := os.Create(filepath.Join(dir, "tool.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	url := "http://" + addr + "/"
	l := startDevLoad(url)
	defer l.close()
	// edit saves a new version and waits until it is served; an edit still
	// not served after editTimeout is counted as lost (air's new process
	// can die binding the port the old one still holds: it then waits for
	// the next save).
	const editTimeout = 20 * time.Second
	edit := func(version string) (time.Duration, bool) {
		l.seen.Store(0)
		l.want.Store(&version)
		src := fmt.Sprintf("package main\n\nconst version = %q\n", version)
		saved := time.Now()
		if err := os.WriteFile(filepath.Join(dir, "version.go"), []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
		deadline := saved.Add(editTimeout)
		for l.seen.Load() == 0 {
			if time.Now().After(deadline) {
				return 0, false
			}
			time.Sleep(time.Millisecond)
		}
		return time.Unix(0, l.seen.Load()).Sub(saved), true
	}
	if _, ok := edit("warm-up"); !ok { // the first build, and the tool's start
		log, _ := os.ReadFile(logf.Name())
		b.Fatalf("the first build was not served; tool output:\n%s", log)
	}
	time.Sleep(time.Second)
	l.failed.Store(0)
	l.ok.Store(0)
	var took []time.Duration
	lost := 0
	b.ResetTimer()
	for i := range b.N {
		if d, ok := edit(fmt.Sprintf("edit-%d", i)); ok {
			took = append(took, d)
		} else {
			lost++
		}
		time.Sleep(500 * time.Millisecond) // the old process finishes draining
	}
	b.StopTimer()
	b.ReportMetric(float64(lost), "lost-edits")
	if len(took) == 0 {
		b.Fatal("no edit was served")
	}
	slices.Sort(took)
	pct := func(p float64) float64 { return float64(took[int(p*float64(len(took)-1))].Milliseconds()) }
	b.ReportMetric(pct(0.5), "p50-save-to-serving-ms")
	b.ReportMetric(pct(0.9), "p90-save-to-serving-ms")
	b.ReportMetric(float64(l.failed.Load())/float64(b.N), "failed/restart")
	b.ReportMetric(float64(l.ok.Load())/float64(b.N), "served/restart")
}
