package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cybercorp/hotreload/fleet"
	"github.com/cybercorp/hotreload/source/etcd"
)

func init() { register(newFleetCmd) }

// fleetFlags are what every fleet client command takes: where etcd is and
// which fleet.
type fleetFlags struct {
	endpoints string
	prefix    string
	client    etcd.ClientOptions
}

// endpointsEnv is read when --endpoints is not given.
const endpointsEnv = "HOTRELOAD_ETCD_ENDPOINTS"

func addFleetFlags(f *pflag.FlagSet, o *fleetFlags) {
	f.StringVar(&o.endpoints, "endpoints", "", "etcd members, HOST:PORT[,HOST:PORT] (or env "+endpointsEnv+")")
	f.StringVar(&o.prefix, "fleet", "", "the fleet's etcd prefix, as given to serve --fleet")
	addEtcdClientFlags(f, &o.client)
}

// connect returns an etcd client for the flags.
func (o *fleetFlags) connect() (*clientv3.Client, error) {
	eps := o.endpoints
	if eps == "" {
		eps = os.Getenv(endpointsEnv)
	}
	list, err := etcd.ParseEndpoints(eps)
	if err != nil {
		return nil, fmt.Errorf("--endpoints: %w", err)
	}
	if o.prefix == "" {
		return nil, fmt.Errorf("--fleet PREFIX is required")
	}
	o.client.Endpoints = list
	return connectEtcd(o.client)
}

func newFleetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Show the instances of a fleet that shares its config through etcd",
		Long: `fleet reads, straight from etcd, what the instances started with
"hotreload serve --source etcd://... --fleet PREFIX" registered: their admin
address, active version, state, health and what came of the last value they
were given, and the rollout in progress (see "hotreload rollout").`,
		Example: `  hotreload fleet status --endpoints 127.0.0.1:2379 --fleet /hotreload/fleets/app
  hotreload fleet status --endpoints 127.0.0.1:2379 --fleet /hotreload/fleets/app --json`,
	}
	cmd.AddCommand(newFleetStatusCmd())
	return cmd
}

func newFleetStatusCmd() *cobra.Command {
	var (
		flags  fleetFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status --endpoints HOST:PORT --fleet PREFIX [--json]",
		Short: "List the fleet's instances and its rollout",
		Long: `status lists every instance registered under the fleet prefix (an instance
that stops renewing its lease leaves the list after --fleet-ttl) and the
current or last rollout.`,
		Example: `  hotreload fleet status --endpoints 10.0.0.1:2379,10.0.0.2:2379 --fleet /hotreload/fleets/app`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			f, err := fleet.Read(ctx, c, flags.prefix)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(f)
			}
			printFleet(cmd.OutOrStdout(), f)
			return nil
		},
	}
	addFleetFlags(cmd.Flags(), &flags)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the fleet as JSON")
	return cmd
}

// printFleet prints the instances as a table, then the rollout.
func printFleet(w io.Writer, f fleet.Fleet) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tADDRESS\tVERSION\tSTATE\tHEALTH\tETCD REVISION\tLAST\tCOORDINATOR")
	for _, in := range f.Instances {
		last, rev := "-", "-"
		if in.Last != nil {
			last = string(in.Last.Result)
			if last == "" {
				last = "refused"
			}
			rev = fmt.Sprintf("%d (%s)", in.Last.Revision, shortKey(in.Last.Key, in.Key))
		}
		coord := ""
		if in.Coordinator {
			coord = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", in.ID, in.Addr, in.Version, in.State, in.Health, rev, last, coord)
	}
	tw.Flush()
	if len(f.Instances) == 0 {
		fmt.Fprintf(w, "no instance is registered under %s\n", f.Prefix)
	}
	if r := f.Rollout; r != nil {
		fmt.Fprintln(w)
		printRollout(w, r)
	}
}

// shortKey names the key a value came from: "config" or "desired".
func shortKey(key, config string) string {
	if key == config {
		return "config"
	}
	if strings.Contains(key, "/desired/") {
		return "desired"
	}
	return key
}

// printRollout prints one rollout's state.
func printRollout(w io.Writer, r *fleet.Rollout) {
	fmt.Fprintf(w, "rollout %s: %s", r.ID, r.State)
	if r.State == fleet.Running {
		fmt.Fprintf(w, ", wave %d of %d %s", r.Wave, len(r.Waves), r.Phase)
		if r.Phase == fleet.Watching {
			fmt.Fprintf(w, " until %s", r.WindowEnds.Format(time.RFC3339))
		}
	}
	if r.Reason != "" {
		fmt.Fprintf(w, ": %s", r.Reason)
	}
	fmt.Fprintln(w)
	for i, wave := range r.Waves {
		name := "step"
		if i == 0 {
			name = "canary"
		}
		fmt.Fprintf(w, "  wave %d (%s): %s\n", i+1, name, strings.Join(wave, ", "))
	}
	if r.Coordinator != "" {
		fmt.Fprintf(w, "  coordinator: %s\n", r.Coordinator)
	}
}
