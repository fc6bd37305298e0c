package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload/admin"
)

func init() { register(newHistoryCmd) }

func newHistoryCmd() *cobra.Command {
	var limit int
	var flags *clientFlags
	cmd := &cobra.Command{
		Use:   "history [--limit N]",
		Short: "List the versions the running daemon has recorded",
		Long: `history lists every transaction the daemon recorded (GET /api/v1/history),
newest last: its version, when, from which source and author, the result and
why it was rejected or rolled back. The active version is marked with *.
Compare two versions with "hotreload diff A B" and restore one with
"hotreload rollback --to N".`,
		Example: `  hotreload history
  hotreload history --limit 5
  hotreload history --json | jq '.versions[] | select(.result == "rolled_back")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.client(cmd)
			if err != nil {
				return err
			}
			var h admin.HistoryAnswer
			raw, err := c.call("GET", "/api/v1/history", nil, nil, &h)
			if err != nil {
				return c.fail(err)
			}
			if flags.json {
				return c.printJSON(raw)
			}
			recs := h.Versions
			if limit > 0 && len(recs) > limit {
				recs = recs[len(recs)-limit:]
			}
			tw := c.table()
			fmt.Fprintln(tw, "\tVERSION\tTIME\tSOURCE\tAUTHOR\tRESULT\tREASON")
			for _, r := range recs {
				mark := ""
				if r.Version == h.Active {
					mark = "*"
				}
				reason := r.Reason
				if i := strings.IndexByte(reason, '\n'); i >= 0 {
					reason = reason[:i]
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", mark, r.Version, r.Time.Local().Format(time.DateTime),
					r.Source, dash(r.Author), r.Result, reason)
			}
			return tw.Flush()
		},
	}
	flags = addClientFlags(cmd)
	cmd.Flags().IntVar(&limit, "limit", 0, "show only the last N versions")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
