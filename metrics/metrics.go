package metrics

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cybercorp/hotreload"
)

// durationBuckets are the upper bounds, in seconds, of the reload duration
// histogram. The bucket at 30 lets the slow-reload rule count reloads over
// 30 s exactly.
var durationBuckets = [...]float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// rollbackCauses are the values of the reason label of
// hotreload_rollbacks_total: the Cause of a rolled back Outcome.
var rollbackCauses = []string{"apply", "health", "history", "commit"}

// results are the values of the result label of hotreload_reloads_total.
var results = []hotreload.Result{hotreload.Committed, hotreload.Unchanged, hotreload.Rejected, hotreload.RolledBack}

// Metrics holds hotreload's collectors on their own registry. Create it with
// New.
type Metrics struct {
	registry *prometheus.Registry

	reloads            *prometheus.CounterVec
	reloadDuration     *prometheus.HistogramVec
	rollbacks          *prometheus.CounterVec
	validationFailures *prometheus.CounterVec
	checkFailures      *prometheus.CounterVec
	lastSuccessful     *prometheus.GaugeVec
	activeVersion      *prometheus.GaugeVec
	watcherErrors      *prometheus.CounterVec

	trends trends           // the record of recent transactions (Trends)
	now    func() time.Time // the record's clock

	mu      sync.Mutex
	tracked map[string]bool // targets whose series exist
}

// New returns a Metrics registered on a new registry that also holds the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotreload_reloads_total",
			Help: "Reload transactions by target and result (committed, unchanged, rejected, rolled_back).",
		}, []string{"target", "result"}),
		reloadDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hotreload_reload_duration_seconds",
			Help:    "Duration of reload transactions, from trigger to commit or rollback.",
			Buckets: durationBuckets[:],
		}, []string{"target"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotreload_rollbacks_total",
			Help: "Automatic rollbacks by target and reason (apply, health, history, commit).",
		}, []string{"target", "reason"}),
		validationFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotreload_validation_failures_total",
			Help: "Candidates rejected by validation, by target.",
		}, []string{"target"}),
		checkFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotreload_health_check_failures_total",
			Help: "Failed health check runs, by check.",
		}, []string{"check"}),
		lastSuccessful: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotreload_config_last_reload_successful",
			Help: "1 if the target's last reload committed or was unchanged, 0 if it was rejected or rolled back.",
		}, []string{"target"}),
		activeVersion: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotreload_active_version",
			Help: "The version live after the last transaction that involved the target.",
		}, []string{"target"}),
		watcherErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotreload_watcher_errors_total",
			Help: "Errors of the source watchers (inotify overflow, lost watch, poll failure), by target.",
		}, []string{"target"}),
		tracked: map[string]bool{},
		now:     time.Now,
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.reloads, m.reloadDuration, m.rollbacks, m.validationFailures,
		m.checkFailures, m.lastSuccessful, m.activeVersion, m.watcherErrors,
	)
	return m
}

// Registry returns the registry, for other packages to add their own
// collectors to the same /metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Track creates a target's reload, duration, rollback, validation and
// watcher series at zero, so that the first failure is an increase that
// Prometheus sees. Call it when a target is added; Observe also calls it.
func (m *Metrics) Track(target string) {
	target = label(target)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tracked[target] {
		return
	}
	m.tracked[target] = true
	for _, r := range results {
		m.reloads.WithLabelValues(target, string(r))
	}
	m.reloadDuration.WithLabelValues(target)
	for _, c := range rollbackCauses {
		m.rollbacks.WithLabelValues(target, c)
	}
	m.validationFailures.WithLabelValues(target)
	m.watcherErrors.WithLabelValues(target)
}

// Observe records one transaction's outcome. It implements
// hotreload.Observer. Each target in o.Targets counts once: reloads by
// result, the duration, and for rolled back outcomes a rollback by o.Cause,
// for rejected ones a validation failure; the record of recent
// transactions (Trends) counts the same. The last-successful and
// active-version gauges of those targets are set. An outcome that lists no
// target (an unchanged reload of nothing, or a rejection before any target
// was prepared) counts under an empty target label and sets no gauge.
func (m *Metrics) Observe(o hotreload.Outcome) {
	targets := Targets(o)
	for i, t := range targets {
		targets[i] = label(t)
	}
	m.trends.observe(m.now(), targets, o)
	result, cause := label(string(o.Result)), label(o.Cause)
	seconds := o.Duration.Seconds()
	for _, t := range targets {
		m.Track(t)
		m.reloads.WithLabelValues(t, result).Inc()
		m.reloadDuration.WithLabelValues(t).Observe(seconds)
		switch o.Result {
		case hotreload.RolledBack:
			m.rollbacks.WithLabelValues(t, cause).Inc()
		case hotreload.Rejected:
			m.validationFailures.WithLabelValues(t).Inc()
		}
		if t == "" {
			continue
		}
		ok := 0.0
		if o.Result == hotreload.Committed || o.Result == hotreload.Unchanged || o.Result == hotreload.Superseded {
			ok = 1
		}
		m.lastSuccessful.WithLabelValues(t).Set(ok)
		m.activeVersion.WithLabelValues(t).Set(float64(o.Active))
	}
}

// Targets returns the target names an outcome counts under in the metrics:
// those of o.Targets, or one empty name when it lists none. The in-process
// alert evaluator counts the same way.
func Targets(o hotreload.Outcome) []string {
	if len(o.Targets) == 0 {
		return []string{""}
	}
	out := make([]string, len(o.Targets))
	for i, t := range o.Targets {
		out[i] = t.Target
	}
	return out
}

// CheckFailed counts one failed run of the named health check (failing or
// unknown, including a timeout or a panic).
func (m *Metrics) CheckFailed(check string) {
	m.checkFailures.WithLabelValues(label(check)).Inc()
}

// TrackCheck creates a check's failure series at zero.
func (m *Metrics) TrackCheck(check string) {
	m.checkFailures.WithLabelValues(label(check))
}

// WatcherError counts one error of the watcher of a target's source.
func (m *Metrics) WatcherError(target string) {
	m.watcherErrors.WithLabelValues(label(target)).Inc()
}

// label makes a name a valid label value: client_golang panics on invalid
// UTF-8, and names come from users.
func label(name string) string {
	return strings.ToValidUTF8(name, "\uFFFD")
}

var _ hotreload.Observer = (*Metrics)(nil)
