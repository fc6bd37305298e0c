package health

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/coder/websocket"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"

	"github.com/cybercorp/hotreload"
)

// DefaultMaxUse is the default threshold of the memory, CPU and disk
// checks: above 90 % of the limit fails.
const DefaultMaxUse = 0.9

// SQLCheck pings a database/sql pool and, when Query is set, runs it and
// reads its rows.
type SQLCheck struct {
	DB    *sql.DB
	Query string
}

// Validate reports a check that cannot work, as a CodeInvalid
// *hotreload.Error whose detail names the field.
func (c SQLCheck) Validate() error {
	if c.DB == nil {
		return invalid("sql", "db", "no database")
	}
	return nil
}

// Check pings the pool and runs the query.
func (c SQLCheck) Check(ctx context.Context) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := c.DB.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging the database: %w", err)
	}
	if c.Query == "" {
		return nil
	}
	rows, err := c.DB.QueryContext(ctx, c.Query)
	if err != nil {
		return fmt.Errorf("running %q: %w", c.Query, err)
	}
	defer rows.Close()
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading %q: %w", c.Query, err)
	}
	return nil
}

// HTTPCheck requests a URL and fails on an unexpected status or a response
// slower than MaxLatency.
type HTTPCheck struct {
	URL string
	// Method defaults to GET.
	Method string
	// Status is the expected status; 0 accepts any 2xx or 3xx.
	Status int
	// MaxLatency defaults to DefaultMaxLatency (5 s).
	MaxLatency time.Duration
	// Client defaults to http.DefaultClient.
	Client *http.Client
}

// Validate reports a check that cannot work, as a CodeInvalid
// *hotreload.Error whose detail names the field.
func (c HTTPCheck) Validate() error {
	if u, err := url.Parse(c.URL); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return invalid("http", "url", "URL %q is not an absolute http or https URL", c.URL)
	}
	if c.Status != 0 && (c.Status < 100 || c.Status > 599) {
		return invalid("http", "status", "status %d is not an HTTP status", c.Status)
	}
	if c.MaxLatency < 0 {
		return invalid("http", "max_latency", "max latency %s is negative", c.MaxLatency)
	}
	return nil
}

// Check requests the URL.
func (c HTTPCheck) Check(ctx context.Context) error {
	if err := c.Validate(); err != nil {
		return err
	}
	method, client, maxLatency := c.Method, c.Client, c.MaxLatency
	if method == "" {
		method = http.MethodGet
	}
	if client == nil {
		client = http.DefaultClient
	}
	if maxLatency == 0 {
		maxLatency = DefaultMaxLatency
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL, nil)
	if err != nil {
		return fmt.Errorf("http check: %w", err)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	latency := time.Since(start)
	switch {
	case c.Status != 0 && resp.StatusCode != c.Status:
		return fmt.Errorf("%s %s: status %d, want %d", method, c.URL, resp.StatusCode, c.Status)
	case c.Status == 0 && resp.StatusCode >= 400:
		return fmt.Errorf("%s %s: status %d", method, c.URL, resp.StatusCode)
	case latency > maxLatency:
		return fmt.Errorf("%s %s: answered in %s, slower than %s", method, c.URL, latency.Round(time.Millisecond), maxLatency)
	}
	return nil
}

// WebSocketCheck dials a WebSocket endpoint, sends a ping and waits for the
// pong, all within the check's timeout.
type WebSocketCheck struct {
	URL string
	// Options are passed to websocket.Dial; may be nil.
	Options *websocket.DialOptions
}

// Validate reports a check that cannot work, as a CodeInvalid
// *hotreload.Error whose detail names the field.
func (c WebSocketCheck) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || !slices.Contains([]string{"ws", "wss", "http", "https"}, u.Scheme) || u.Host == "" {
		return invalid("websocket", "url", "URL %q is not an absolute ws, wss, http or https URL", c.URL)
	}
	return nil
}

// Check dials, pings and closes.
func (c WebSocketCheck) Check(ctx context.Context) error {
	if err := c.Validate(); err != nil {
		return err
	}
	conn, _, err := websocket.Dial(ctx, c.URL, c.Options)
	if err != nil {
		return fmt.Errorf("dialing %s: %w", c.URL, err)
	}
	defer conn.CloseNow()
	// Ping needs a reader for the pong; CloseRead's reader ends with conn.
	conn.CloseRead(ctx)
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("pinging %s: %w", c.URL, err)
	}
	_ = conn.Close(websocket.StatusNormalClosure, "health check")
	return nil
}

// MemoryCheck fails when memory use is above Max of its limit.
type MemoryCheck struct {
	// Max defaults to DefaultMaxUse.
	Max float64
	// Read defaults to ReadMemory.
	Read MemoryReader
}

// Validate reports a check that cannot work, as a CodeInvalid
// *hotreload.Error whose detail names the field.
func (c MemoryCheck) Validate() error { return validFraction("memory", c.Max) }

// Check reads memory once.
func (c MemoryCheck) Check(ctx context.Context) error {
	if err := c.Validate(); err != nil {
		return err
	}
	read := c.Read
	if read == nil {
		read = ReadMemory
	}
	u, err := read(ctx)
	if err != nil {
		return err
	}
	if f, limit := u.Fraction(), orDefault(c.Max); f > limit {
		return fmt.Errorf("memory at %s, above %s", u, percent(limit))
	}
	return nil
}

// CPUCheck fails when the host's CPU utilisation over Window is above Max.
type CPUCheck struct {
	// Window defaults to one second; it must be shorter than the check's
	// timeout.
	Window time.Duration
	// Max defaults to DefaultMaxUse.
	Max float64
}

// Validate reports a check that cannot work, as a CodeInvalid
// *hotreload.Error whose detail names the field.
func (c CPUCheck) Validate() error {
	if c.Window < 0 {
		return invalid("cpu", "window", "window %s is negative", c.Window)
	}
	return validFraction("cpu", c.Max)
}

// Check measures utilisation over the window.
func (c CPUCheck) Check(ctx context.Context) error {
	if err := c.Validate(); err != nil {
		return err
	}
	window := c.Window
	if window == 0 {
		window = time.Second
	}
	pct, err := cpu.PercentWithContext(ctx, window, false)
	if err != nil || len(pct) == 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("reading CPU utilisation: %w: %v", ErrUnknown, err)
	}
	if f, limit := pct[0]/100, orDefault(c.Max); f > limit {
		return fmt.Errorf("CPU at %s over %s, above %s", percent(f), window, percent(limit))
	}
	return nil
}

// DiskCheck fails when the file system holding Path is more than Max full.
type DiskCheck struct {
	Path string
	// Max defaults to DefaultMaxUse.
	Max float64
}

// Validate reports a check that cannot work, as a CodeInvalid
// *hotreload.Error whose detail names the field.
func (c DiskCheck) Validate() error {
	if c.Path == "" {
		return invalid("disk", "path", "no path")
	}
	return validFraction("disk", c.Max)
}

// Check reads the file system's usage.
func (c DiskCheck) Check(ctx context.Context) error {
	if err := c.Validate(); err != nil {
		return err
	}
	u, err := disk.UsageWithContext(ctx, c.Path)
	if err != nil {
		return fmt.Errorf("reading disk usage of %s: %w", c.Path, err)
	}
	if f, limit := u.UsedPercent/100, orDefault(c.Max); f > limit {
		return fmt.Errorf("disk of %s at %s (%.1f GiB free), above %s", c.Path, percent(f), float64(u.Free)/(1<<30), percent(limit))
	}
	return nil
}

func validFraction(kind string, f float64) error {
	if f < 0 || f > 1 {
		return invalid(kind, "max", "max %g is not a fraction between 0 and 1", f)
	}
	return nil
}

// invalid returns the error of a check's Validate: a CodeInvalid error
// whose one detail points at the field (as named in a checks file).
func invalid(kind, field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &hotreload.Error{
		Code:    hotreload.CodeInvalid,
		Message: kind + " check: invalid " + field,
		Details: []hotreload.FieldError{{Path: "/" + field, Message: msg}},
	}
}

func orDefault(max float64) float64 {
	if max == 0 {
		return DefaultMaxUse
	}
	return max
}
