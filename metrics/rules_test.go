package metrics_test

import (
	"os"
	"os/exec"
	"testing"
)

const (
	rulesFile     = "../deploy/prometheus/hotreload-rules.yml"
	rulesTestFile = "../deploy/prometheus/hotreload-rules_test.yml"
)

// promtool returns the path of the real promtool, failing in CI and skipping
// elsewhere when it is missing.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool is required in CI: %v", err)
		}
		t.Skip("promtool not found; install it with: apt-get install prometheus")
	}
	return path
}

func TestPromtoolCheckRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "test", "rules", rulesTestFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
