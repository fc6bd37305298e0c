package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/audit"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// auditRecords reads every record of the audit log in data, oldest file
// first.
func auditRecords(t *testing.T, data string) []audit.Entry {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(data, audit.LogName+".*"))
	var out []audit.Entry
	for _, f := range append(files, filepath.Join(data, audit.LogName)) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
			var e audit.Entry
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, e)
		}
	}
	return out
}

// auditVerify runs hotreload audit verify on data.
func auditVerify(t *testing.T, data string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, "audit", "verify", "--data-dir", data)
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

// TestRefusalFloodIsSummarised: the flood on the real binary.
// Eight threads send unauthenticated POST /api/v1/reload and one a
// viewer's (forbidden) one for two seconds; a valid token keeps working
// throughout. The audit log gets one summary record per address and
// interval, which counts every refused request, instead of one fsynced
// record each, and it verifies intact.
func TestRefusalFloodIsSummarised(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	data := filepath.Join(dir, "data")
	authFile := filepath.Join(dir, "tokens.json")
	token := func(role string) string {
		out, err := exec.Command(binary, "token", "add", "--auth-file", authFile, "--role", role, "--name", role).Output()
		if err != nil {
			t.Fatalf("token add: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	operator, viewer := token("operator"), token("viewer")
	p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"), "--data-dir", data,
		"--auth-file", authFile, "--mode", "prod", "--listen", "127.0.0.1:0", "--health-window", "0s")
	admin := p.urls["admin"]
	post := func(tok string) int {
		req, _ := http.NewRequest("POST", admin+"/api/v1/reload", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	var sent, limited atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 9 {
		tok := ""
		if i == 8 {
			tok = viewer // forbidden: too weak a role
		}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				switch code := post(tok); code {
				case 429:
					limited.Add(1)
				case 401, 403:
				default:
					t.Errorf("a refused request answered %d", code)
					return
				}
				sent.Add(1)
			}
		})
	}
	deadline := time.Now().Add(2 * time.Second)
	valid := 0
	for time.Now().Before(deadline) {
		if code := post(operator); code != 200 {
			t.Errorf("a valid token during the flood: %d", code)
		}
		valid++
	}
	close(stop)
	wg.Wait()
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // the last interval is summarised at exit
	_ = p.cmd.Wait()

	refused := regexp.MustCompile(`^(\d+) requests refused in`)
	var denied, summed int64
	var reasons []string
	recs := auditRecords(t, data)
	for _, e := range recs {
		if e.Kind != audit.KindDenied {
			continue
		}
		denied++
		m := refused.FindStringSubmatch(e.Reason)
		if m == nil || e.Remote != "127.0.0.1" {
			t.Fatalf("a denied record that is no summary: %+v", e)
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		summed += n
		reasons = append(reasons, e.Reason)
	}
	for _, want := range []string{"POST /api/v1/reload: unauthorized", "POST /api/v1/reload: forbidden"} {
		if !strings.Contains(strings.Join(reasons, "\n"), want) {
			t.Errorf("the summaries %q do not count %q", reasons, want)
		}
	}
	t.Logf("%d refused requests (%d answered 429), %d valid reloads: %d audit records, %d of them denied summaries",
		sent.Load(), limited.Load(), valid, len(recs), denied)
	if sent.Load() < 500 || limited.Load() == 0 {
		t.Fatalf("the flood was too small to say anything: %d sent, %d answered 429", sent.Load(), limited.Load())
	}
	// The flood spans at most one interval boundary besides the exit.
	if denied < 1 || denied > 3 || summed != sent.Load() {
		t.Fatalf("%d denied records counting %d requests; want 1 to 3 summaries counting all %d", denied, summed, sent.Load())
	}
	if want := int64(2*valid + 2); int64(len(recs)) > want+denied {
		t.Fatalf("%d audit records for %d valid reloads and %d summaries", len(recs), valid, denied)
	}
	if out, code := auditVerify(t, data); code != 0 {
		t.Fatalf("audit verify after the flood: %d\n%s", code, out)
	}
}

// TestAuditRotationOnTheBinary: with a small --audit-max-bytes the daemon
// closes audit.log as audit.log.N and goes on in a new file, removes the
// files beyond --audit-keep with a signed record, and audit verify checks
// the chain across the files; removing a kept file by hand is found.
func TestAuditRotationOnTheBinary(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	data := filepath.Join(dir, "data")
	p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"), "--data-dir", data,
		"--mode", "dev", "--listen", "127.0.0.1:0", "--health-window", "0s", "--audit-max-bytes", "2048", "--audit-keep", "2")
	for i := range 12 {
		if code := call(t, "PATCH", p.urls["admin"]+"/api/v1/config", fmt.Sprintf(`{"rps": %d}`, 10+i), nil); code != 200 {
			t.Fatalf("PATCH %d: %d", i, code)
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	closed, _ := filepath.Glob(filepath.Join(data, audit.LogName+".*"))
	if len(closed) != 2 {
		t.Fatalf("closed files %v, want the 2 kept", closed)
	}
	out, code := auditVerify(t, data)
	if code != 0 || !strings.Contains(out, "in 3 files") {
		t.Fatalf("audit verify across files: %d\n%s", code, out)
	}
	rotations := 0
	for _, e := range auditRecords(t, data) {
		if e.Kind == audit.KindRotate && strings.Contains(e.Reason, "removed") {
			rotations++
		}
	}
	if rotations == 0 {
		t.Fatal("no rotate record says which files were removed")
	}
	if err := os.Remove(closed[0]); err != nil {
		t.Fatal(err)
	}
	if out, code := auditVerify(t, data); code != 1 || !strings.Contains(out, "they were deleted") {
		t.Fatalf("audit verify without a kept file: %d\n%s", code, out)
	}
}

// TestStrictPermissionsEveryPath: the age identity (by flag or from the
// environment) and the data dir are held to the same rule as the auth
// file (TestStrictPermissions): writable by group or everyone, or owned by
// another user, the daemon refuses to start and says what to run.
func TestStrictPermissionsEveryPath(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	identity := filepath.Join(dir, "age.key")
	if out, err := exec.Command(binary, "secret", "keygen", "--out", identity).CombinedOutput(); err != nil {
		t.Fatalf("secret keygen: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--config", file, "--data-dir", data, "--mode", "dev", "--listen", "127.0.0.1:0"}
	for _, tc := range []struct {
		name  string
		path  string
		mode  os.FileMode
		owner int // 0: keep
		env   bool
		want  string
	}{
		{"identity world-writable", identity, 0o606, 0, false, "(mode 0606): run chmod go-w " + identity},
		{"identity from the environment group-writable", identity, 0o620, 0, true, "(mode 0620): run chmod go-w " + identity},
		{"data dir world-writable", data, 0o777, 0, false, "(mode 0777): run chmod go-w " + data},
		{"identity owned by another user", identity, 0o600, 12345, false, "is owned by uid 12345"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			orig, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(tc.path, tc.mode); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(tc.path, orig.Mode().Perm())
			if tc.owner != 0 {
				if err := os.Chown(tc.path, tc.owner, -1); err != nil {
					t.Skipf("changing the owner needs root: %v", err)
				}
				defer os.Chown(tc.path, os.Geteuid(), -1)
			}
			a := args
			// A daemon that starts anyway is killed, not waited for.
			ctx, cancel := context.WithTimeout(context.Background(), testwait.D(10*time.Second))
			defer cancel()
			cmd := exec.CommandContext(ctx, binary)
			cmd.Env = os.Environ()
			if tc.env {
				cmd.Env = append(cmd.Env, "HOTRELOAD_AGE_IDENTITY="+identity)
			} else {
				a = append(a, "--age-identity", identity)
			}
			cmd.Args = append([]string{binary}, a...)
			t0 := time.Now()
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("serve: %v after %v\n%s\nwant %q", err, time.Since(t0), out, tc.want)
			}
		})
	}
}

// TestStartsFromTheNewestIntactVersion: the last known good object in
// history is corrupt and the config file no longer valid: the daemon
// starts from the newest committed version that is intact, says why, and
// does not refuse to start.
func TestStartsFromTheNewestIntactVersion(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	data := filepath.Join(dir, "data")
	args := []string{"serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"), "--data-dir", data,
		"--mode", "dev", "--listen", "127.0.0.1:0", "--health-window", "0s"}
	p := start(t, args...)
	for _, rps := range []int{6, 7} {
		if code := call(t, "PATCH", p.urls["admin"]+"/api/v1/config", fmt.Sprintf(`{"rps": %d}`, rps), nil); code != 200 {
			t.Fatalf("PATCH rps %d: %d", rps, code)
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	lastGood := func(b []byte) bool { return strings.Contains(strings.ReplaceAll(string(b), " ", ""), `"rps":7`) }
	if n := damageContent(t, data, "corrupted", lastGood); n != 1 {
		t.Fatalf("found %d pieces of content of the last known good version, want 1", n)
	}
	writeFile(t, file, "name: one\nrps: 0\n") // below the schema's minimum

	p = start(t, args...)
	var cfg configAnswer
	call(t, "GET", p.urls["admin"]+"/api/v1/config", "", &cfg)
	if cfg.Data["rps"] != 6.0 || cfg.Version != 2 {
		t.Fatalf("config %+v, want version 2 with rps 6, the newest intact committed one", cfg)
	}
	if s := p.stderr.String(); !strings.Contains(s, "cannot be restored") || !strings.Contains(s, "restored an older committed version") {
		t.Fatalf("the start does not say why:\n%s", s)
	}
}

// TestStartOnAnEditedLogSaysSo: a record edited in the middle of the log
// while the daemon is stopped: the next start logs it and status says the
// log is not intact; mutations go on (the edit stays in the chain, where
// audit verify keeps naming it).
func TestStartOnAnEditedLogSaysSo(t *testing.T) {
	args, data := stoppedAfterAPatch(t)
	log := filepath.Join(data, audit.LogName)
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), `"result":"committed"`, `"result":"rejected"`, 1)
	if edited == string(b) {
		t.Fatal("no committed result to edit")
	}
	writeFile(t, log, edited)

	p := start(t, args...)
	testwait.For(t, "a warning at start", 10*time.Second, func() bool {
		return strings.Contains(p.stderr.String(), "the audit log was edited")
	})
	var st struct {
		Audit struct {
			Intact bool     `json:"intact"`
			First  []string `json:"first"`
		} `json:"audit"`
	}
	call(t, "GET", p.urls["admin"]+"/api/v1/status", "", &st)
	if st.Audit.Intact || len(st.Audit.First) == 0 || !strings.Contains(st.Audit.First[0], "HMAC mismatch: the line was edited") {
		t.Fatalf("status audit part %+v", st.Audit)
	}
	if code := call(t, "PATCH", p.urls["admin"]+"/api/v1/config", `{"rps": 7}`, nil); code != 200 {
		t.Fatalf("PATCH on an edited log: %d", code)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	if out, code := auditVerify(t, data); code != 1 || !strings.Contains(out, "the line was edited") {
		t.Fatalf("audit verify: %d\n%s", code, out)
	}
}
