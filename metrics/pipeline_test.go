package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/events"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/metrics"
	"github.com/cybercorp/hotreload/metrics/alert"
)

// observers tells every observer, in order.
type observers []hotreload.Observer

func (os observers) Observe(o hotreload.Outcome) {
	for _, ob := range os {
		ob.Observe(o)
	}
}

// switchGate fails the health gate while failing is set: the fault a broken
// upstream would cause.
type switchGate struct{ failing atomic.Bool }

func (g *switchGate) Watch(context.Context, hotreload.Transaction) error {
	if g.failing.Load() {
		return errors.New("check upstream failing")
	}
	return nil
}

type appConfig struct {
	RPS int `json:"rps"`
}

// TestPipeline drives a real engine, history store and config target on a
// real file through every kind of outcome and checks what the metrics, the
// alert evaluator and the bus report.
func TestPipeline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	file := filepath.Join(dir, "app.json")
	write := func(rps int) {
		t.Helper()
		if err := os.WriteFile(file, fmt.Appendf(nil, `{"rps": %d}`, rps), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := history.Open(history.Options{Dir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	defer bus.Close()
	reloads := events.Subscribe[hotreload.ReloadEvent](bus)
	fired := events.Subscribe[alert.FiredEvent](bus)
	m := metrics.New()
	ev, err := alert.New(alert.Options{Publisher: bus, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	gate := &switchGate{}
	engine := hotreload.New(hotreload.Options{History: hist, Gate: gate, Publisher: bus, Observer: observers{m, ev}})
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	write(10)
	cfg, _, err := config.Open(ctx, engine, config.Options[appConfig]{
		Name:  "app",
		Files: []string{file},
		Validators: []config.Validator[appConfig]{func(c *appConfig) error {
			if c.RPS < 1 {
				return config.Reject("/rps", "must be >= 1 but found %d", c.RPS)
			}
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close(context.Background())

	write(20)
	mustResult(t, cfg, hotreload.Committed)
	mustResult(t, cfg, hotreload.Unchanged)
	write(0)
	mustResult(t, cfg, hotreload.Rejected)
	write(30)
	gate.failing.Store(true)
	mustResult(t, cfg, hotreload.RolledBack)

	app := map[string]string{"target": "app"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hotreload_reloads_total", map[string]string{"target": "app", "result": "committed"}, 2},
		{"hotreload_reloads_total", map[string]string{"target": "app", "result": "rolled_back"}, 1},
		{"hotreload_rollbacks_total", map[string]string{"target": "app", "reason": "health"}, 1},
		{"hotreload_config_last_reload_successful", app, 0},
		{"hotreload_active_version", app, 2},
	} {
		if got := sample(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// An unchanged or rejected outcome may not name the target (the engine
	// lists only the targets it prepared); count over every target.
	for _, c := range []struct {
		name, result string
		want         float64
	}{
		{"hotreload_reloads_total", "unchanged", 1},
		{"hotreload_reloads_total", "rejected", 1},
		{"hotreload_validation_failures_total", "", 1},
		{"hotreload_reload_duration_seconds", "", 5},
	} {
		if got := total(t, m, c.name, c.result); got != c.want {
			t.Errorf("sum of %s{result=%q} = %v, want %v", c.name, c.result, got, c.want)
		}
	}

	// 2 failures in 5 reloads: the failure-rate alert fires, in process.
	select {
	case f := <-fired.C():
		if f.Alert.Name != alert.ReloadFailureRateHigh {
			t.Errorf("fired %s, want %s", f.Alert.Name, alert.ReloadFailureRateHigh)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no alert fired")
	}
	if got := ev.Active(); len(got) != 1 || got[0].Value != 0.4 {
		t.Errorf("active alerts %+v, want the failure rate at 0.4", got)
	}

	// The bus delivered every transaction's event, in order.
	var results []hotreload.Result
	for range 5 {
		results = append(results, (<-reloads.C()).Result)
	}
	if want := "[committed committed unchanged rejected rolled_back]"; fmt.Sprint(results) != want {
		t.Errorf("reload events %v, want %s", results, want)
	}
}

func mustResult(t *testing.T, cfg *config.Config[appConfig], want hotreload.Result) {
	t.Helper()
	o, _ := cfg.Reload(context.Background(), "test")
	if o.Result != want {
		t.Fatalf("reload: %s (%s), want %s", o.Result, o.Reason, want)
	}
}

// total sums a family's series whose result label is result ("" for any):
// counter values, histogram counts.
func total(t *testing.T, m *metrics.Metrics, name, result string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if result != "" && !hasLabel(s.GetLabel(), "result", result) {
				continue
			}
			sum += s.GetCounter().GetValue() + float64(s.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func hasLabel(labels []*dto.LabelPair, name, value string) bool {
	for _, l := range labels {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
