// Package plugintest builds real plugin modules for tests and benchmarks
// with the Go toolchain: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
// Each package directory is built once per test binary; Build is safe for
// concurrent use.
package plugintest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	outDir string
	built  = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// Build compiles the Go plugin package in dir to a .wasm module and returns
// its path. Builds are cached for the life of the test binary; call Remove
// from TestMain when the tests are done.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatal(err)
	}
	mu.Lock()
	if outDir == "" {
		if outDir, err = os.MkdirTemp("", "plugintest-"); err != nil {
			mu.Unlock()
			tb.Fatal(err)
		}
	}
	b := built[abs]
	if b == nil {
		b = &build{path: filepath.Join(outDir, filepath.Base(abs)+".wasm")}
		built[abs] = b
	}
	mu.Unlock()
	b.once.Do(func() {
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", b.path, ".")
		cmd.Dir = abs
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		tb.Fatalf("building plugin %s: %v\n%s", dir, b.err, b.out)
	}
	return b.path
}

// Install copies the module built from dir into pluginDir as NAME.wasm and,
// when manifest is not empty, writes it as NAME.json.
func Install(tb testing.TB, dir, pluginDir, name, manifest string) {
	tb.Helper()
	wasm, err := os.ReadFile(Build(tb, dir))
	if err != nil {
		tb.Fatal(err)
	}
	WriteFile(tb, filepath.Join(pluginDir, name+".wasm"), wasm)
	if manifest != "" {
		WriteFile(tb, filepath.Join(pluginDir, name+".json"), []byte(manifest))
	}
}

// WriteFile replaces path atomically (write then rename), as a build or a
// deploy would, so a reader never sees half a module.
func WriteFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// CacheDir is a directory for wazero's compilation cache that outlives the
// test binary (under the user's cache directory), so that repeated test runs
// do not compile the same modules again.
func CacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "hotreload", "plugintest-wazero")
}

// Remove deletes every module built so far.
func Remove() {
	mu.Lock()
	defer mu.Unlock()
	if outDir != "" {
		_ = os.RemoveAll(outDir)
		outDir, built = "", map[string]*build{}
	}
}
