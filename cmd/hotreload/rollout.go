package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload/fleet"
	"github.com/cybercorp/hotreload/internal/inputfile"
	"github.com/cybercorp/hotreload/internal/progress"
)

func init() { register(newRolloutCmd) }

func newRolloutCmd() *cobra.Command {
	var (
		flags  fleetFlags
		file   string
		plan   fleet.Plan
		detach bool
	)
	cmd := &cobra.Command{
		Use:   "rollout --endpoints HOST:PORT --fleet PREFIX --file CANDIDATE [--canary N|P%] [--step N] [--window D]",
		Short: "Roll a config change out to a fleet: canaries first, then the rest in steps",
		Long: `rollout publishes CANDIDATE to the fleet's etcd and follows the rollout the
fleet's coordinator (one of the instances, elected) runs:

  1. the canary instances apply the candidate, each validating, applying and
     health-gating it on its own;
  2. when they all committed it and stayed healthy through --window, the next
     --step instances follow, and so on;
  3. when every wave passed, the fleet's config key takes the candidate.

If any instance rejects or rolls back the candidate (or turns unhealthy on it,
or a wave does not answer within --timeout), the rollout halts and every instance returns to the config key's value, the
last good one. Only one rollout runs at a time.

rollout exits 0 when the rollout completed, 1 when it halted. With --detach it
exits once the rollout is published; follow it with "hotreload fleet status".`,
		Example: `  hotreload rollout --endpoints 127.0.0.1:2379 --fleet /hotreload/fleets/app \
    --file app.json --canary 10% --step 2 --window 2m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := inputfile.Read(file, inputfile.Options{AllowOutsideLinks: true})
			if err != nil {
				return fmt.Errorf("reading the candidate: %w", err)
			}
			c, err := flags.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			plan.Candidate = data
			if plan.Author == "" {
				plan.Author = os.Getenv("USER")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			r, err := fleet.Start(ctx, c, flags.prefix, plan)
			cancel()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "rollout %s published: %d waves, window %s\n", r.ID, len(r.Waves), r.Window)
			if detach {
				return nil
			}
			end, err := followRollout(cmd.Context(), out, rolloutProgressEvery, func(ctx context.Context, fn func(*fleet.Rollout)) (*fleet.Rollout, error) {
				return fleet.Watch(ctx, c, flags.prefix, r.ID, fn)
			})
			if err != nil {
				return err
			}
			printRollout(out, end)
			if end.State != fleet.Completed {
				return exitError{1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	addFleetFlags(f, &flags)
	f.StringVar(&file, "file", "", "the candidate config, in the fleet's format")
	f.StringVar(&plan.Canary, "canary", "1", "instances that apply the candidate first: a count or a percentage such as 20%")
	f.IntVar(&plan.Step, "step", 0, "instances that follow at a time after the canaries (0: all the rest at once)")
	positiveDuration(f, &plan.Window, "window", 30*time.Second, "how long each wave must stay healthy before the next starts")
	positiveDuration(f, &plan.Timeout, "timeout", 5*time.Minute, "how long a wave may take to apply the candidate before the rollout halts")
	f.BoolVar(&detach, "detach", false, "exit once the rollout is published")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// rolloutProgressEvery is how often rollout repeats its progress line while
// the rollout waits, so a long wave or window never looks stuck.
const rolloutProgressEvery = 15 * time.Second

// followRollout runs watch and writes a progress line to out at every change
// of the rollout's wave or phase, and again every period while it waits,
// with how long the wait has left. It returns what watch returns.
func followRollout(ctx context.Context, out io.Writer, period time.Duration, watch func(context.Context, func(*fleet.Rollout)) (*fleet.Rollout, error)) (*fleet.Rollout, error) {
	var (
		mu   sync.Mutex
		last *fleet.Rollout
		key  string
	)
	say := func(r *fleet.Rollout) {
		fmt.Fprintf(out, "%s  %s\n", time.Now().Format(time.TimeOnly), rolloutLine(r, time.Now()))
	}
	defer progress.Every(period, func(time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if last != nil && !last.Done() {
			say(last)
		}
	})()
	return watch(ctx, func(r *fleet.Rollout) {
		mu.Lock()
		defer mu.Unlock()
		last = r
		if k := fmt.Sprint(r.State, r.Wave, r.Phase); k != key {
			key = k
			say(r)
		}
	})
}

// rolloutLine says where a rollout is ("running wave 2/3 watching") and,
// while it runs, what it waits for and how long that may still take.
func rolloutLine(r *fleet.Rollout, now time.Time) string {
	line := fmt.Sprintf("%s wave %d/%d %s", r.State, r.Wave, len(r.Waves), r.Phase)
	if r.State != fleet.Running || r.Wave < 1 || r.Wave > len(r.Waves) {
		return line
	}
	switch r.Phase {
	case fleet.Applying:
		line += fmt.Sprintf(": waiting for %s to commit the candidate (%s so far",
			strings.Join(r.Waves[r.Wave-1], ", "), now.Sub(r.WaveStarted).Round(time.Second))
		if r.Timeout > 0 {
			line += fmt.Sprintf(", halts after %s", r.Timeout)
		}
		line += ")"
	case fleet.Watching:
		line += fmt.Sprintf(": health window ends in %s", max(r.WindowEnds.Sub(now), 0).Round(time.Second))
	}
	return line
}
