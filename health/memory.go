package health

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
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

// ReadMemory reads the memory use of this process's cgroup when its memory
// controller is found (v2: memory.current minus inactive_file against
// memory.max; v1: memory.usage_in_bytes minus total_inactive_file against
// memory.limit_in_bytes), using the host's total as the limit when the
// cgroup has none, and the host's figures when there is no cgroup.
func ReadMemory(ctx context.Context) (MemoryUsage, error) { return readMemory(ctx, "/") }

// readMemory is ReadMemory with every path under root.
func readMemory(ctx context.Context, root string) (MemoryUsage, error) {
	u, err := readCgroupMemory(root, cgroupV2)
	if errors.Is(err, fs.ErrNotExist) {
		u, err = readCgroupMemory(root, cgroupV1)
	}
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

// cgroupLayout names one cgroup version's memory files.
type cgroupLayout struct {
	source         string
	usage, limit   string
	inactive       string // the memory.stat key of reclaimable file cache
	mountType      string // the file system type in mountinfo
	v1             bool
	unlimitedAbove uint64 // limits above this mean none (v1 writes a huge number)
}

var (
	cgroupV2 = cgroupLayout{source: "cgroup", usage: "memory.current", limit: "memory.max",
		inactive: "inactive_file", mountType: "cgroup2", unlimitedAbove: math.MaxUint64}
	cgroupV1 = cgroupLayout{source: "cgroup-v1", usage: "memory.usage_in_bytes", limit: "memory.limit_in_bytes",
		inactive: "total_inactive_file", mountType: "cgroup", v1: true, unlimitedAbove: 1 << 62}
)

// readCgroupMemory reads this process's cgroup memory; Limit is 0 when the
// cgroup has none. An fs.ErrNotExist error means no such controller
// applies.
func readCgroupMemory(root string, l cgroupLayout) (MemoryUsage, error) {
	dir, err := cgroupDir(root, l)
	if err != nil {
		return MemoryUsage{}, err
	}
	usage, err := readUint(filepath.Join(dir, l.usage))
	if err != nil {
		return MemoryUsage{}, err
	}
	u := MemoryUsage{Used: usage, Source: l.source}
	if inactive, err := statField(filepath.Join(dir, "memory.stat"), l.inactive); err == nil && inactive < usage {
		u.Used -= inactive
	}
	raw, err := os.ReadFile(filepath.Join(dir, l.limit))
	if err != nil {
		return MemoryUsage{}, err
	}
	if s := strings.TrimSpace(string(raw)); s != "max" {
		limit, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return MemoryUsage{}, fmt.Errorf("parsing %s: %w", filepath.Join(dir, l.limit), err)
		}
		if limit < l.unlimitedAbove {
			u.Limit = limit
		}
	}
	return u, nil
}

// cgroupDir finds this process's memory cgroup directory from
// /proc/self/cgroup (v2: the "0::" line; v1: the line listing "memory") and
// the matching mount in /proc/self/mountinfo.
func cgroupDir(root string, l cgroupLayout) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return "", err
	}
	path, found := "", false
	for line := range strings.Lines(string(raw)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 {
			continue
		}
		if l.v1 && slices.Contains(strings.Split(f[1], ","), "memory") || !l.v1 && f[0] == "0" && f[1] == "" {
			path, found = f[2], true
		}
	}
	if !found {
		return "", fmt.Errorf("no %s memory entry in /proc/self/cgroup: %w", l.source, fs.ErrNotExist)
	}
	info, err := os.ReadFile(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(info)) {
		// id parent major:minor root mountpoint options... - fstype source superoptions
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, sf := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(sf) < 3 || sf[0] != l.mountType {
			continue
		}
		if l.v1 && !slices.Contains(strings.Split(sf[2], ","), "memory") {
			continue
		}
		mountRoot, mountPoint := f[3], f[4]
		rel, ok := strings.CutPrefix(path, mountRoot)
		if !ok {
			continue
		}
		dir := filepath.Join(root, mountPoint, rel)
		if _, err := os.Stat(filepath.Join(dir, l.usage)); err != nil {
			// In a container the cgroup path may be the host's while the
			// mount shows the container's own cgroup at its root.
			dir = filepath.Join(root, mountPoint)
		}
		return dir, nil
	}
	return "", fmt.Errorf("no %s mount in /proc/self/mountinfo: %w", l.mountType, fs.ErrNotExist)
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
