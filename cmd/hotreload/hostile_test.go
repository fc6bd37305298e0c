package main_test

import (
	"fmt"
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
)

// hostileCase is a file an attacker or a clumsy operator points
// hotreload at, and what the refusal must say.
type hostileCase struct {
	name  string
	file  string // base name; its extension picks the format
	write func(t *testing.T, path string)
	want  string
}

func content(s string) func(*testing.T, string) {
	return func(t *testing.T, path string) { writeFile(t, path, s) }
}

// sparse writes a file of n zero bytes that takes no room on disk.
func sparse(n int64) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(n); err != nil {
			t.Fatal(err)
		}
	}
}

func hostileCases() []hostileCase {
	bomb := "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	for i := 1; i <= 8; i++ {
		bomb += fmt.Sprintf("a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), ", "))
	}
	return []hostileCase{
		{"alias bomb", "app.yaml", content(bomb), "alias bomb"},
		{"deep YAML", "app.yaml", content("a: " + strings.Repeat("[", 100_000)), "nested deeper than 1000 levels"},
		{"deep YAML maps", "app.yaml", content("a: " + strings.Repeat("{b: ", 30_000)), "nested deeper than 1000 levels"},
		{"deep TOML", "app.toml", content("a = " + strings.Repeat("[", 100_000)), "nested deeper than 1000 levels"},
		{"dotted TOML header", "app.toml", content("[" + strings.Repeat("a.", 20_000) + "a]\n"), "nested deeper than 1000 levels"},
		{"deep JSON", "app.json", content(strings.Repeat("[", 100_000)), "nested deeper than 1000 levels"},
		{"stray bracket, then deep YAML", "app.yaml", content("a: x[\nb:\n" + strings.Repeat("- ", 100_000) + "x\n"), "nested deeper than 1000 levels"},
		{"YAML mapping of 60,000 keys", "app.yaml", func(t *testing.T, path string) {
			var b strings.Builder
			for i := range 60_000 {
				fmt.Fprintf(&b, "key%d: %d\n", i, i)
			}
			writeFile(t, path, b.String())
		}, "too many keys in block mappings"},
		{"50 MB YAML file", "app.yaml", sparse(50 << 20), "more than the limit of 1.0 MiB"},
		{"50 MB JSON file", "app.json", sparse(50 << 20), "more than the limit of 16.0 MiB"},
		{"FIFO", "app.yaml", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "is a named pipe (FIFO), not a regular file"},
		{"link to /dev/zero", "app.yaml", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, "leads out of its directory"},
		{"link out of the directory", "app.yaml", func(t *testing.T, path string) {
			secret := filepath.Join(t.TempDir(), "shadow")
			writeFile(t, secret, "root:$6$secrethash:19000:0:99999:7:::\n")
			if err := os.Symlink(secret, path); err != nil {
				t.Fatal(err)
			}
		}, "--allow-outside-links"},
		{"duplicate keys", "app.yaml", content("name: a\nname: b\n"), `mapping key "name" already defined`},
		{"invalid UTF-8", "app.yaml", content("name: \xff\xfe\n"), "invalid UTF-8"},
		{"huge number", "app.yaml", content("name: x\nrps: 9007199254740993\n"), "integer 9007199254740993 is beyond ±2^53"},
	}
}

// plainBinary builds hotreload without the race detector, whose shadow
// memory would hide what a decode costs.
func plainBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hotreload")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building hotreload: %v\n%s", err, out)
	}
	return bin
}

// TestHostileInputIsRefusedCheaply runs hotreload validate on each hostile
// file under an address-space limit: each is refused with a precise
// error, in well under a second and 100 MB. The figures are printed with
// -v for docs/security.md.
func TestHostileInputIsRefusedCheaply(t *testing.T) {
	timeBin := "/usr/bin/time" // GNU time: it forks the child itself, so %M is the child's own peak
	if _, err := os.Stat(timeBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("GNU time is missing: apt-get install time")
		}
		t.Skip("GNU time is missing: apt-get install time")
	}
	bin := plainBinary(t)
	for _, tc := range hostileCases() {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			tc.write(t, path)
			// 2 GiB of address space (the Go runtime reserves about 780 MiB
			// at start, and heap arenas ahead of use): a bomb fails the
			// test, not the machine. GNU time measures the peak RSS, which
			// must stay under 100 MiB.
			cmd := exec.Command("sh", "-c", `ulimit -v 2097152 && exec "$0" -f '%M' "$1" validate "$2"`, timeBin, bin, path)
			var stderr testwait.Output
			cmd.Stderr = &stderr
			start := time.Now()
			stdout, err := cmd.Output()
			took := time.Since(start)
			errLines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			peakKiB, _ := strconv.Atoi(errLines[len(errLines)-1])
			out := string(stdout) + strings.Join(errLines[:len(errLines)-1], "\n")
			if code := cmd.ProcessState.ExitCode(); code != 1 || err == nil {
				t.Fatalf("exit %d (%v), want 1:\n%s", code, err, out)
			}
			if !strings.Contains(out, tc.want) || !strings.HasPrefix(out, path) {
				t.Fatalf("output %q, want %q about %s", out, tc.want, path)
			}
			if strings.Contains(out, "secrethash") {
				t.Fatalf("the error quotes the file it must not read: %s", out)
			}
			rss := peakKiB / 1024
			t.Logf("figures: %s: %.0f ms, %d MiB peak RSS", tc.name, took.Seconds()*1000, rss)
			if bound := testwait.D(time.Second); took > bound {
				t.Errorf("refused after %s, want within %s", took, bound)
			}
			if rss > 100 {
				t.Errorf("peak RSS %d MiB, want under 100", rss)
			}
		})
	}
	t.Run("a_plugin_module_claiming_a_huge_count", func(t *testing.T) {
		hostilePlugin(t, bin)
	})
}

// hostilePlugin starts the daemon, under the same address-space limit,
// with a module of 21 bytes in its plugins folder: a memory, and a
// function type claiming 2³²-1 parameters, for which wazero 1.12 would
// allocate 32 GiB before reading one (a fatal out of memory: the daemon
// would crash-loop on it). The daemon refuses the module with the count
// and its offset within a second of its start, and keeps serving its
// config; its peak RSS stays under 100 MiB.
func hostilePlugin(t *testing.T, bin string) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(plugins, "bomb.wasm"), "\x00asm\x01\x00\x00\x00"+
		"\x01\x07\x01\x60\xff\xff\xff\xff\x0f"+ // type section: (2³²-1 parameters)
		"\x05\x03\x01\x00\x01") // memory section: one memory of 1 page
	cmd := exec.Command("sh", "-c", `ulimit -v 2097152 && exec "$0" "$@"`, bin, "serve", "--config", file,
		"--schema", filepath.Join(dir, "schema.json"), "--data-dir", filepath.Join(dir, "data"), "--plugins", plugins,
		"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", "0s")
	start := time.Now()
	p := launchCmd(t, cmd, urlWait, false)
	const want = `plugin \"bomb\": compiling: instrumenting loops: at offset 0xc: type section: parameters: 4294967295 claimed, 0 bytes remain`
	testwait.For(t, "the module's refusal in the log", 10*time.Second, func() bool { return strings.Contains(p.stderr.String(), want) })
	took := time.Since(start)
	var cfg configAnswer
	call(t, "GET", p.urls["admin"]+"/api/v1/config", "", &cfg)
	if cfg.Data["name"] != "one" {
		t.Fatalf("config %+v, want the file's, served", cfg)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)) // the shell exec'd the daemon
	if err != nil {
		t.Fatal(err)
	}
	peak := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status)
	if peak == nil {
		t.Fatalf("no VmHWM in\n%s", status)
	}
	peakKiB, _ := strconv.Atoi(string(peak[1]))
	rss := peakKiB / 1024
	t.Logf("figures: a plugin module claiming a huge count: refused %.0f ms after the start, %d MiB peak RSS", took.Seconds()*1000, rss)
	if bound := testwait.D(time.Second); took > bound {
		t.Errorf("refused %s after the start, want within %s", took, bound)
	}
	if rss > 100 {
		t.Errorf("peak RSS %d MiB, want under 100", rss)
	}
}

// TestDaemonKeepsServingThroughHostileEdits saves each hostile file over a
// served config: every one is a rejected transaction with its reason, and
// the previous version keeps serving. Restarted on each, the daemon does
// not crash-loop: it serves the last known good version and says why.
func TestDaemonKeepsServingThroughHostileEdits(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	args := []string{"serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"), "--data-dir", filepath.Join(dir, "data"),
		"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", "0s"}
	p := start(t, args...)
	admin := p.urls["admin"]
	waitStatus(t, admin, "the start", func(s statusAnswer) bool { return s.Active == 1 })
	for _, tc := range hostileCases() {
		if filepath.Ext(tc.file) != ".yaml" {
			continue // the served file is YAML
		}
		tmp := filepath.Join(dir, ".next")
		os.Remove(tmp)
		tc.write(t, tmp)
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
		st := waitStatus(t, admin, tc.name+" rejected", func(s statusAnswer) bool {
			return s.Last != nil && s.Last.Result == "rejected" && strings.Contains(fmt.Sprint(s.Last.Errors), tc.want)
		})
		if st.Active != 1 {
			t.Fatalf("%s: active version %d, want 1 still", tc.name, st.Active)
		}
		var cfg configAnswer
		call(t, "GET", admin+"/api/v1/config", "", &cfg)
		if cfg.Version != 1 || cfg.Data["name"] != "one" {
			t.Fatalf("%s: config %+v, want version 1 serving", tc.name, cfg)
		}
	}
	for _, tc := range hostileCases() {
		if filepath.Ext(tc.file) != ".yaml" {
			continue
		}
		stop(t, p)
		os.Remove(file)
		tc.write(t, file)
		p = start(t, args...)
		admin = p.urls["admin"]
		var cfg configAnswer
		call(t, "GET", admin+"/api/v1/config", "", &cfg)
		if cfg.Data["name"] != "one" {
			t.Fatalf("restarted on %s: config %+v, want the last known good", tc.name, cfg)
		}
		if st := waitStatus(t, admin, "the start", func(statusAnswer) bool { return true }); st.Last == nil || st.Last.Result != "rejected" || !strings.Contains(fmt.Sprint(st.Last.Errors), tc.want) {
			t.Fatalf("restarted on %s: last %+v, want rejected with %q", tc.name, st.Last, tc.want)
		}
	}
}
