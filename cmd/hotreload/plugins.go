package main

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload/plugin"
)

func init() { register(newPluginsCmd) }

func newPluginsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List, load, unload and reload the Wasm plugins of a running hotreload",
		Long: `plugins talks to the admin API of a running "hotreload serve" or
"hotreload demo" (--addr, default $HOTRELOAD_ADDR or 127.0.0.1:7070, with
--token or $HOTRELOAD_TOKEN).

"list" shows every plugin with its version, state (loading, ready, degraded,
quarantined, unloaded), calls, errors, memory and last error. "load",
"unload" and "reload" run one reload transaction each and print its outcome;
they exit 1 when it was rejected or rolled back. The daemon also loads,
reloads and unloads plugins by itself when their files in the plugin
directory change.`,
		Example: `  # what is loaded, and how it is doing
  hotreload plugins list

  # load a plugin copied into the plugin directory, then replace it
  hotreload plugins load shout
  hotreload plugins reload shout

  # take it out of service (its file stays; it is loaded again when the file changes)
  hotreload plugins unload shout`,
	}
	cmd.AddCommand(newPluginsListCmd())
	for _, action := range []string{"load", "unload", "reload"} {
		cmd.AddCommand(newPluginActionCmd(action))
	}
	return cmd
}

func newPluginsListCmd() *cobra.Command {
	var flags *clientFlags
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the plugins and their state",
		Args:    cobra.NoArgs,
		Example: "  hotreload plugins list --addr 127.0.0.1:7070",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.client(cmd)
			if err != nil {
				return err
			}
			var answer struct {
				Plugins []plugin.Info `json:"plugins"`
			}
			raw, err := c.call(http.MethodGet, "/api/v1/plugins", nil, nil, &answer)
			if err != nil {
				return c.fail(err)
			}
			if flags.json {
				return c.printJSON(raw)
			}
			tw := c.table()
			fmt.Fprintln(tw, "NAME\tVERSION\tSTATE\tCALLS\tERRORS\tMEMORY\tSHA256\tLAST ERROR")
			for _, p := range answer.Plugins {
				state := string(p.State)
				if p.QuarantinedUntil != nil {
					state += " until " + p.QuarantinedUntil.Local().Format(time.TimeOnly)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", p.Name, orDash(p.Version), state,
					p.Calls, p.Errors, mebibytes(p.MemoryBytes), orDash(abbrev(p.SHA256)), orDash(p.LastError))
			}
			return tw.Flush()
		},
	}
	flags = addClientFlags(cmd)
	return cmd
}

func newPluginActionCmd(action string) *cobra.Command {
	var flags *clientFlags
	short := map[string]string{
		"load":   "Load a plugin from the plugin directory",
		"unload": "Unload a plugin (its file stays in the directory)",
		"reload": "Reload a loaded plugin from the plugin directory",
	}[action]
	cmd := &cobra.Command{
		Use:     action + " NAME",
		Short:   short,
		Args:    cobra.ExactArgs(1),
		Example: fmt.Sprintf("  hotreload plugins %s shout", action),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !plugin.ValidName(name) {
				fmt.Fprintf(cmd.ErrOrStderr(), "hotreload: %q is not a plugin name: a lower-case letter, then letters, digits, '-' or '_'\n", name)
				return exitError{2}
			}
			c, err := flags.client(cmd)
			if err != nil {
				return err
			}
			return c.transact("/api/v1/plugins/"+url.PathEscape(name)+"/"+action, nil)
		},
	}
	flags = addClientFlags(cmd)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mebibytes(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
