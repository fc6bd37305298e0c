package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/health"
	"github.com/cybercorp/hotreload/metrics/alert"
)

func init() { register(newStatusCmd) }

// statusAnswer is GET /api/v1/status as the client reads it: the engine's
// status, the mode, and the parts other packages add (health, alerts).
type statusAnswer struct {
	Mode string `json:"mode"`
	hotreload.Status
}

func newStatusCmd() *cobra.Command {
	var flags *clientFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running daemon's targets, active version and last reload",
		Long: `status prints what the running daemon serves (GET /api/v1/status): its mode,
the active version, each target with the version that last changed it, its
state and digest, the last reload's result, whether automatic reloads are
frozen, the alert rules' values beside their thresholds, the health window
when a change is in one, and the health, alert and audit parts.`,
		Example: `  hotreload status
  hotreload status --json | jq .active`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.client(cmd)
			if err != nil {
				return err
			}
			var st statusAnswer
			raw, err := c.call("GET", "/api/v1/status", nil, nil, &st)
			if err != nil {
				return c.fail(err)
			}
			if flags.json {
				return c.printJSON(raw)
			}
			fmt.Fprintf(c.stdout, "mode:    %s\nactive:  %d\n", st.Mode, st.Active)
			if st.State == hotreload.StatePending {
				fmt.Fprintf(c.stdout, "live:    %d (pending: in its health window)\n", st.Live)
			}
			if st.Last != nil {
				fmt.Fprintf(c.stdout, "last:    %s (version %d)", st.Last.Result, st.Last.Version)
				if st.Last.Reason != "" {
					fmt.Fprintf(c.stdout, ": %s", st.Last.Reason)
				}
				fmt.Fprintln(c.stdout)
			}
			if st.Frozen {
				fmt.Fprintf(c.stdout, "frozen:  %s\n", st.FrozenReason)
			}
			fmt.Fprintln(c.stdout)
			tw := c.table()
			fmt.Fprintln(tw, "TARGET\tKIND\tVERSION\tSTATE\tSHA256")
			for _, t := range st.Targets {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", t.Name, t.Kind, t.Version, t.State, abbrev(t.Digest))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return printParts(c, raw)
		},
	}
	flags = addClientFlags(cmd)
	return cmd
}

// printParts prints the status parts other than the engine's own fields:
// the alert rules as a table, the health window when one is open, and the
// others (health, alerts, audit) as compact JSON lines; a null part is left
// out.
func printParts(c *apiClient, raw []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return err
	}
	known := map[string]bool{"mode": true, "active": true, "targets": true, "last": true, "frozen": true, "frozen_reason": true, "live": true, "state": true}
	var keys []string
	for k, v := range all {
		if !known[k] && string(v) != "null" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		var err error
		switch k {
		case "rules":
			err = printRules(c, all[k])
		case "window":
			err = printWindow(c, all[k])
		default:
			fmt.Fprintf(c.stdout, "\n%s: %s\n", k, all[k])
		}
		if err != nil {
			return fmt.Errorf("reading the status's %s: %w", k, err)
		}
	}
	return nil
}

// printRules prints each alert rule's current value beside its threshold.
func printRules(c *apiClient, raw json.RawMessage) error {
	var rules []alert.Rule
	if err := json.Unmarshal(raw, &rules); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout)
	tw := c.table()
	fmt.Fprintln(tw, "RULE\tVALUE\tTHRESHOLD\tWINDOW\tFIRING")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%.4g\t%.4g\t%s\t%t\n", r.Name, r.Value, r.Threshold, r.Window, r.Firing)
	}
	return tw.Flush()
}

// printWindow prints the health window in progress.
func printWindow(c *apiClient, raw json.RawMessage) error {
	var w health.Window
	if err := json.Unmarshal(raw, &w); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "\nwindow:  version %d, round %d of %d, %s long\n", w.Version, w.Round, w.Rounds, w.Length)
	for _, ch := range w.Checks {
		fmt.Fprintf(c.stdout, "  %s: %s\n", ch.Name, ch.State)
	}
	return nil
}
