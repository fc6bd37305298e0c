package fleet

import (
	"strings"

	"github.com/cybercorp/hotreload"
)

// keys lays out a fleet's keys under its prefix.
type keys string

// newKeys checks a fleet prefix.
func newKeys(prefix string) (keys, error) {
	prefix = strings.TrimRight(prefix, "/")
	if !strings.HasPrefix(prefix, "/") || len(prefix) < 2 {
		return "", hotreload.Errorf(hotreload.CodeInvalid, "fleet prefix %q: want an absolute key such as /hotreload/fleets/web", prefix)
	}
	return keys(prefix), nil
}

func (k keys) instances() string           { return string(k) + "/instances/" }
func (k keys) instance(id string) string   { return k.instances() + id }
func (k keys) desiredAll() string          { return string(k) + "/desired/" }
func (k keys) desired(id string) string    { return k.desiredAll() + id }
func (k keys) rollout() string             { return string(k) + "/rollout" }
func (k keys) candidate(rid string) string { return string(k) + "/rollouts/" + rid + "/candidate" }
func (k keys) election() string            { return string(k) + "/coordinator/" }

// DesiredKey returns the key whose value instance id runs during a rollout
// of the fleet at prefix.
func DesiredKey(prefix, id string) (string, error) {
	k, err := newKeys(prefix)
	if err != nil {
		return "", err
	}
	if err := checkID(id); err != nil {
		return "", err
	}
	return k.desired(id), nil
}

// checkID refuses an instance id that would break the key layout.
func checkID(id string) error {
	if id == "" || strings.ContainsAny(id, "/ \t\n") {
		return hotreload.Errorf(hotreload.CodeInvalid, "instance id %q: want a non-empty name without slashes or spaces", id)
	}
	return nil
}
