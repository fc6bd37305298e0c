package health

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v4/mem"
)

// MemoryReader reads memory use. ReadMemory is the real one; tests inject
// others.
type MemoryReader func(ctx context.Context) (MemoryUsage, error)

// MemoryUsage is memory in use against the limit that applies.
type MemoryUsage struct {
	// Used is the working set: the cgroup's memory.current minus its
	// inactive file cache, or the host's total minus available memory.
	Used uint64 `json:"used_bytes"`
	// Limit is the cgroup's memory.max, or the host's total memory when
	// the cgroup has none.
	Limit uint64 `json:"limit_bytes"`
	// Source is "cgroup" or "host".
	Source string `json:"source"`
}

// Fraction returns Used/Limit (0 when the limit is unknown).
func (u MemoryUsage) Fraction() float64 {
	if u.Limit == 0 {
		return 0
	}
	return float64(u.Used) / float64(u.Limit)
}

// String renders the usage as "93.1% of 1.0 GiB (cgroup)".
func (u MemoryUsage) String() string {
	return fmt.Sprintf("%s of %.1f GiB (%s)", percent(u.Fraction()), float64(u.Limit)/(1<<30), u.Source)
}

// ReadMemory reads the memory use of this process's cgroup v2 when there is
// one (memory.current minus inactive_file, against memory.max, or against
// the host's total when memory.max is "max"), else the host's.
func ReadMemory(ctx context.Context) (MemoryUsage, error) { return readMemory(ctx, "/") }

// readMemory is ReadMemory with every path under root.
func readMemory(ctx context.Context, root string) (MemoryUsage, error) {
	u, err := readCgroupMemory(root)
	if err == nil && u.Limit > 0 {
		return u, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return MemoryUsage{}, fmt.Errorf("reading cgroup memory: %w: %w", ErrUnknown, err)
	}
	vm, herr := mem.VirtualMemoryWithContext(ctx)
	if herr != nil {
		return MemoryUsage{}, fmt.Errorf("reading host memory: %w: %w", ErrUnknown, herr)
	}
	if err == nil { // a cgroup without a limit: its use against the host
		u.Limit = vm.Total
		return u, nil
	}
	return MemoryUsage{Used: vm.Total - vm.Available, Limit: vm.Total, Source: "host"}, nil
}

// readCgroupMemory reads this process's cgroup v2 memory; Limit is 0 when
// memory.max is "max". An fs.ErrNotExist error means no cgroup v2 memory
// controller applies.
func readCgroupMemory(root string) (MemoryUsage, error) {
	dir, err := cgroupDir(root)
	if err != nil {
		return MemoryUsage{}, err
	}
	current, err := readUint(filepath.Join(dir, "memory.current"))
	if err != nil {
		return MemoryUsage{}, err
	}
	u := MemoryUsage{Used: current, Source: "cgroup"}
	if inactive, err := statField(filepath.Join(dir, "memory.stat"), "inactive_file"); err == nil && inactive < current {
		u.Used -= inactive
	}
	raw, err := os.ReadFile(filepath.Join(dir, "memory.max"))
	if err != nil {
		return MemoryUsage{}, err
	}
	if s := strings.TrimSpace(string(raw)); s != "max" {
		if u.Limit, err = strconv.ParseUint(s, 10, 64); err != nil {
			return MemoryUsage{}, fmt.Errorf("parsing %s: %w", filepath.Join(dir, "memory.max"), err)
		}
	}
	return u, nil
}

// cgroupDir finds this process's cgroup v2 directory from
// /proc/self/cgroup (the "0::" line) and the cgroup2 mount in
// /proc/self/mountinfo.
func cgroupDir(root string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return "", err
	}
	path, found := "", false
	for line := range strings.Lines(string(raw)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			path, found = p, true
		}
	}
	if !found {
		return "", fmt.Errorf("no cgroup v2 entry in /proc/self/cgroup: %w", fs.ErrNotExist)
	}
	info, err := os.ReadFile(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(info)) {
		// id parent major:minor root mountpoint options... - fstype source superoptions
		pre, post, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		f := strings.Fields(pre)
		if len(f) < 5 {
			continue
		}
		mountRoot, mountPoint := f[3], f[4]
		rel, ok := strings.CutPrefix(path, mountRoot)
		if !ok {
			continue
		}
		return filepath.Join(root, mountPoint, rel), nil
	}
	return "", fmt.Errorf("no cgroup2 mount in /proc/self/mountinfo: %w", fs.ErrNotExist)
}

func readUint(name string) (uint64, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing %s: %w", name, err)
	}
	return n, nil
}

// statField returns one "key value" line's value from a memory.stat file.
func statField(name, key string) (uint64, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+" "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s: %w", name, key, fs.ErrNotExist)
}
