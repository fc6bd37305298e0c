package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload"
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
frozen, and the health and alert parts when the daemon reports them.`,
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

// printParts prints the status parts other than the engine's own fields
// (health, alerts) as compact JSON lines.
func printParts(c *apiClient, raw []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return err
	}
	known := map[string]bool{"mode": true, "active": true, "targets": true, "last": true, "frozen": true, "frozen_reason": true, "live": true, "state": true}
	var keys []string
	for k := range all {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(c.stdout, "\n%s: %s\n", k, all[k])
	}
	return nil
}
