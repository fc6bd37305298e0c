package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload"
)

// Environment variables the admin clients read when their flags are unset.
const (
	envAddr  = "HOTRELOAD_ADDR"
	envToken = "HOTRELOAD_TOKEN"
)

// clientFlags are the flags every admin API client shares.
type clientFlags struct {
	addr    string
	token   string
	json    bool
	timeout time.Duration
}

// addClientFlags registers --addr, --token, --json and --timeout on cmd.
func addClientFlags(cmd *cobra.Command) *clientFlags {
	f := &clientFlags{}
	fs := cmd.Flags()
	fs.StringVar(&f.addr, "addr", "", "admin API address, host:port or URL (default $"+envAddr+" or "+DefaultListen+")")
	fs.StringVar(&f.token, "token", "", "bearer token (default $"+envToken+")")
	fs.BoolVar(&f.json, "json", false, "print the API's JSON answer instead of a table")
	positiveDuration(fs, &f.timeout, "timeout", 5*time.Minute, "how long to wait for the answer (a reload waits for its health gate)")
	return f
}

// apiClient talks to one admin API.
type apiClient struct {
	base    *url.URL
	token   string
	http    *http.Client
	flags   *clientFlags
	stdout  io.Writer
	stderr  io.Writer
	context context.Context
}

// client resolves the flags and the environment into an apiClient.
func (f *clientFlags) client(cmd *cobra.Command) (*apiClient, error) {
	addr := f.addr
	if addr == "" {
		addr = os.Getenv(envAddr)
	}
	if addr == "" {
		addr = DefaultListen
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--addr %q is not host:port or an http(s) URL", f.addr)
	}
	tok := f.token
	if tok == "" {
		tok = os.Getenv(envToken)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return &apiClient{base: u, token: tok, http: &http.Client{Timeout: f.timeout}, flags: f,
		stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr(), context: ctx}, nil
}

// apiError is an error answer of the admin API.
type apiError struct {
	Status int
	Err    hotreload.Error
}

func (e *apiError) Error() string { return e.Err.Error() }

// call sends a request with an optional JSON body and decodes a 2xx (or
// a reload outcome's 409/422) answer into out. It returns the raw body for
// --json output.
func (c *apiClient) call(method, path string, body any, header http.Header, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	req, err := http.NewRequestWithContext(c.context, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin API at %s (is hotreload serve running? set --addr or $%s): %w", c.base.Host, envAddr, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	outcome := resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusUnprocessableEntity
	if resp.StatusCode >= 300 {
		var e struct {
			Error *hotreload.Error `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != nil {
			return raw, &apiError{Status: resp.StatusCode, Err: *e.Error}
		}
		if !outcome {
			return raw, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(raw)))
		}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("decoding the answer of %s %s: %w", method, path, err)
		}
	}
	return raw, nil
}

// fail prints err for a person and returns the exit status error: 1 for
// an answer of the API, with hints for 401 and 403.
func (c *apiClient) fail(err error) error {
	var ae *apiError
	if !errors.As(err, &ae) {
		fmt.Fprintln(c.stderr, "hotreload:", err)
		return exitError{1}
	}
	fmt.Fprintf(c.stderr, "hotreload: %s (%d %s)\n", ae.Err.Message, ae.Status, ae.Err.Code)
	for _, d := range ae.Err.Details {
		fmt.Fprintln(c.stderr, "  "+d.String())
	}
	switch ae.Err.Code {
	case hotreload.CodeUnauthorized:
		fmt.Fprintf(c.stderr, "hint: pass a token with --token or $%s (create one with: hotreload token add)\n", envToken)
	case hotreload.CodeForbidden:
		fmt.Fprintln(c.stderr, "hint: this needs a token with a stronger role")
	}
	return exitError{1}
}

// printJSON writes an answer as indented JSON.
func (c *apiClient) printJSON(raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		_, err = c.stdout.Write(raw)
		return err
	}
	buf.WriteByte('\n')
	_, err := c.stdout.Write(buf.Bytes())
	return err
}

// table returns a tab-aligned writer on the client's output; Flush it.
func (c *apiClient) table() *tabwriter.Writer { return newTable(c.stdout) }

// newTable returns a tab-aligned writer for people; Flush it.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// promptWait is the wait the clients prefer (RFC 7240 Prefer: wait=N)
// before the API answers 202 Accepted with the pending version.
const promptWait = 2 * time.Second

// transact posts body to path, which answers a transaction's outcome, and
// prints it (see printOutcome). While the transaction is in its health
// window (202 Accepted), it follows the version's history record with a
// progress line on standard error until the outcome is known, within
// --timeout.
func (c *apiClient) transact(path string, body any) error {
	var o hotreload.Outcome
	prefer := http.Header{"Prefer": {fmt.Sprintf("wait=%d", int(promptWait/time.Second))}}
	raw, err := c.call(http.MethodPost, path, body, prefer, &o)
	if err == nil && o.Result == hotreload.Pending {
		raw, o, err = c.follow(o)
	}
	if err != nil {
		return c.fail(err)
	}
	return c.printOutcome(raw, o)
}

// follow polls GET /api/v1/history/N for a pending version until its
// record shows the outcome, drawing a progress line meanwhile, and returns
// that outcome (with its JSON for --json).
func (c *apiClient) follow(o hotreload.Outcome) ([]byte, hotreload.Outcome, error) {
	start := time.Now()
	tty := isTerminal(c.stderr)
	if !tty {
		fmt.Fprintf(c.stderr, "version %d is live and in its health window; waiting for its outcome\n", o.Version)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if tty {
			fmt.Fprintf(c.stderr, "\rversion %d is live and in its health window: %s", o.Version, time.Since(start).Round(time.Second))
		}
		select {
		case <-tick.C:
		case <-c.context.Done():
			return nil, o, c.context.Err()
		}
		if time.Since(start) > c.flags.timeout {
			return nil, o, fmt.Errorf("version %d is still in its health window after --timeout %s; see hotreload history", o.Version, c.flags.timeout)
		}
		var rec hotreload.Record
		if _, err := c.call(http.MethodGet, fmt.Sprintf("/api/v1/history/%d", o.Version), nil, nil, &rec); err != nil {
			return nil, o, err
		}
		if rec.Result == hotreload.Pending {
			continue
		}
		if tty {
			fmt.Fprintln(c.stderr)
		}
		var st statusAnswer
		if _, err := c.call(http.MethodGet, "/api/v1/status", nil, nil, &st); err != nil {
			return nil, o, err
		}
		final := hotreload.Outcome{Result: rec.Result, Version: rec.Version, Active: st.Active, Errors: rec.Errors,
			Reason: rec.Reason, Targets: o.Targets, Duration: o.Duration + time.Since(start)}
		raw, err := json.Marshal(final)
		return raw, final, err
	}
}

// isTerminal reports whether w is a terminal, where a progress line can
// be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printOutcome renders a transaction's outcome and returns exit status 1
// when it was rejected, rolled back or superseded.
func (c *apiClient) printOutcome(raw []byte, o hotreload.Outcome) error {
	if c.flags.json {
		if err := c.printJSON(raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.stdout, "%s: version %d, active %d (took %s)\n", o.Result, o.Version, o.Active, o.Duration.Round(time.Millisecond))
		if o.Reason != "" {
			fmt.Fprintf(c.stdout, "reason: %s\n", o.Reason)
		}
		for _, e := range o.Errors {
			fmt.Fprintln(c.stdout, "  "+e.String())
		}
		for _, t := range o.Targets {
			for _, ch := range t.Changes {
				fmt.Fprintf(c.stdout, "  %s %s\n", t.Target, change(ch))
			}
		}
	}
	switch o.Result {
	case hotreload.Rejected, hotreload.RolledBack, hotreload.Superseded:
		return exitError{1}
	}
	return nil
}

// change renders one changed path: + added, - removed, ~ changed.
func change(c hotreload.PathChange) string {
	switch {
	case c.Old == nil:
		return fmt.Sprintf("+ %s: %s", c.Path, short(c.New))
	case c.New == nil:
		return fmt.Sprintf("- %s: %s", c.Path, short(c.Old))
	}
	return fmt.Sprintf("~ %s: %s -> %s", c.Path, short(c.Old), short(c.New))
}

// short renders a JSON value on one line, cut at 60 characters.
func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// abbrev shortens a digest for tables.
func abbrev(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}
