package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/fleet"
	"github.com/cybercorp/hotreload/internal/testwait"
)

func TestRolloutLine(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	waves := [][]string{{"a"}, {"b", "c"}}
	for _, tc := range []struct {
		name string
		r    fleet.Rollout
		want string
	}{
		{"Applying", fleet.Rollout{State: fleet.Running, Waves: waves, Wave: 2, Phase: fleet.Applying, WaveStarted: now.Add(-42 * time.Second), Timeout: 5 * time.Minute},
			"running wave 2/2 applying: waiting for b, c to commit the candidate (42s so far, halts after 5m0s)"},
		{"Watching", fleet.Rollout{State: fleet.Running, Waves: waves, Wave: 1, Phase: fleet.Watching, WindowEnds: now.Add(90 * time.Second)},
			"running wave 1/2 watching: health window ends in 1m30s"},
		{"WindowOver", fleet.Rollout{State: fleet.Running, Waves: waves, Wave: 1, Phase: fleet.Watching, WindowEnds: now.Add(-time.Second)},
			"running wave 1/2 watching: health window ends in 0s"},
		{"Completed", fleet.Rollout{State: fleet.Completed, Waves: waves, Wave: 2, Phase: fleet.Watching},
			"completed wave 2/2 watching"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rolloutLine(&tc.r, now); got != tc.want {
				t.Fatalf("rolloutLine = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFollowRolloutRepeatsWhileItWaits: a wave that waits long prints its
// progress line again every period, and a change prints at once.
func TestFollowRolloutRepeatsWhileItWaits(t *testing.T) {
	var out testwait.Output
	waves := [][]string{{"a"}, {"b"}}
	applying := &fleet.Rollout{State: fleet.Running, Waves: waves, Wave: 1, Phase: fleet.Applying, WaveStarted: time.Now()}
	end := &fleet.Rollout{State: fleet.Completed, Waves: waves, Wave: 2, Phase: fleet.Watching}
	got, err := followRollout(context.Background(), &out, 10*time.Millisecond, func(_ context.Context, fn func(*fleet.Rollout)) (*fleet.Rollout, error) {
		fn(applying)
		testwait.For(t, "the waiting wave's line repeated", 10*time.Second, func() bool {
			return strings.Count(out.String(), "running wave 1/2 applying: waiting for a") >= 3
		})
		fn(end)
		return end, nil
	})
	if err != nil || got != end {
		t.Fatalf("followRollout = %v, %v", got, err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); !strings.HasSuffix(lines[len(lines)-1], "completed wave 2/2 watching") {
		t.Fatalf("the last line is not the end of the rollout:\n%s", out.String())
	}
}
